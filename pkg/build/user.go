package build

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
)

// identity is a resolved USER: who a RUN step runs as.
type identity struct {
	uid, gid uint32
	groups   []uint32
	home     string
}

// passwdEntry and groupEntry are lines of /etc/passwd and /etc/group.
type passwdEntry struct {
	name     string
	uid, gid uint32
	home     string
}

type groupEntry struct {
	name    string
	gid     uint32
	members []string
}

// resolveUser resolves USER's "user[:group]" against the root's
// /etc/passwd and /etc/group, as runc does: names must exist; a numeric
// user need not. The step's groups are BuildKit's (checked against
// v0.34.2): the user's groups from /etc/group plus its primary group,
// or with an explicit group that group alone.
func resolveUser(root, spec string) (identity, error) {
	if spec == "" {
		spec = "0"
	}
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	users, err := readPasswd(root)
	if err != nil {
		return identity{}, err
	}
	id := identity{home: "/"}
	var name string
	if n, err := parseID(userPart); err == nil {
		id.uid = n
		for _, u := range users {
			if u.uid == n {
				id.gid, id.home, name = u.gid, u.home, u.name
				break
			}
		}
	} else {
		u, ok := findUser(users, userPart)
		if !ok {
			return identity{}, fmt.Errorf("unable to find user %s: no matching entries in passwd file", userPart)
		}
		id.uid, id.gid, id.home, name = u.uid, u.gid, u.home, u.name
	}
	groups, err := readGroup(root)
	if err != nil {
		return identity{}, err
	}
	if hasGroup {
		gid, err := resolveGroup(groups, groupPart)
		if err != nil {
			return identity{}, err
		}
		id.gid = gid
	}
	if name != "" && !hasGroup {
		for _, g := range groups {
			if g.gid != id.gid && slices.Contains(g.members, name) && !slices.Contains(id.groups, g.gid) {
				id.groups = append(id.groups, g.gid)
			}
		}
	}
	id.groups = append(id.groups, id.gid)
	return id, nil
}

// resolveChown resolves COPY --chown's "user[:group]". A user alone gives
// the user's primary group when named, the same number when numeric.
// Unlike BuildKit, which quietly uses root for a name it cannot find, an
// unknown name is an error.
func resolveChown(root, spec string) (uid, gid int, err error) {
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	if userPart == "" {
		uid, gid = 0, 0 // ":group", as BuildKit reads it: root and that group
	} else if n, err := parseID(userPart); err == nil {
		uid, gid = int(n), int(n)
	} else {
		users, err := readPasswd(root)
		if err != nil {
			return 0, 0, err
		}
		u, ok := findUser(users, userPart)
		if !ok {
			return 0, 0, fmt.Errorf("--chown=%s: unable to find user %s in the stage's /etc/passwd", spec, userPart)
		}
		uid, gid = int(u.uid), int(u.gid)
	}
	if hasGroup && groupPart != "" {
		groups, err := readGroup(root)
		if err != nil {
			return 0, 0, err
		}
		g, err := resolveGroup(groups, groupPart)
		if err != nil {
			return 0, 0, fmt.Errorf("--chown=%s: %w", spec, err)
		}
		gid = int(g)
	}
	return uid, gid, nil
}

func resolveGroup(groups []groupEntry, s string) (uint32, error) {
	if n, err := parseID(s); err == nil {
		return n, nil
	}
	for _, g := range groups {
		if g.name == s {
			return g.gid, nil
		}
	}
	return 0, fmt.Errorf("unable to find group %s: no matching entries in group file", s)
}

func findUser(users []passwdEntry, name string) (passwdEntry, bool) {
	for _, u := range users {
		if u.name == name {
			return u, true
		}
	}
	return passwdEntry{}, false
}

func parseID(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err
}

func readPasswd(root string) ([]passwdEntry, error) {
	var out []passwdEntry
	err := readColonFile(root, "/etc/passwd", func(f []string) {
		if len(f) < 6 {
			return
		}
		uid, err1 := parseID(f[2])
		gid, err2 := parseID(f[3])
		if err1 == nil && err2 == nil {
			out = append(out, passwdEntry{name: f[0], uid: uid, gid: gid, home: f[5]})
		}
	})
	return out, err
}

func readGroup(root string) ([]groupEntry, error) {
	var out []groupEntry
	err := readColonFile(root, "/etc/group", func(f []string) {
		if len(f) < 3 {
			return
		}
		gid, err := parseID(f[2])
		if err != nil {
			return
		}
		g := groupEntry{name: f[0], gid: gid}
		if len(f) > 3 && f[3] != "" {
			g.members = strings.Split(f[3], ",")
		}
		out = append(out, g)
	})
	return out, err
}

// readColonFile reads a passwd-style file inside root; a missing file reads
// as empty.
func readColonFile(root, name string, line func([]string)) error {
	p, err := securejoin.SecureJoin(root, name)
	if err != nil {
		return err
	}
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		line(strings.Split(text, ":"))
	}
	return sc.Err()
}
