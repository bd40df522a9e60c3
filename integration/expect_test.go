package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"syscall"
	"time"
)

// check verifies one line of a case's expect file against the image.
func (p *pulled) check(e []string) error {
	arg := func(i int) string {
		if i < len(e) {
			return e[i]
		}
		return ""
	}
	n, ok := p.tree[arg(1)]
	switch e[0] {
	case "absent":
		if ok {
			return fmt.Errorf("present: %s", n)
		}
		return nil
	case "config":
		var want any
		if err := json.Unmarshal([]byte(arg(2)), &want); err != nil {
			want = arg(2)
		}
		if got := configField(p, arg(1)); !reflect.DeepEqual(got, want) {
			return fmt.Errorf("got %s", jsonOf(got))
		}
		return nil
	case "layers":
		want, _ := strconv.Atoi(arg(1))
		if got := p.meaningfulLayers(); got != want {
			return fmt.Errorf("got %d layers", got)
		}
		return nil
	case "history":
		for _, h := range p.history {
			if h.CreatedBy == arg(1) {
				return nil
			}
		}
		return fmt.Errorf("no history entry %q", arg(1))
	}
	if !ok {
		return fmt.Errorf("absent")
	}
	switch e[0] {
	case "present":
		return nil
	case "content":
		data, err := os.ReadFile(filepath.Join(p.rootfs, arg(1)))
		if err != nil || string(data) != arg(2) {
			return fmt.Errorf("got %q (%v)", data, err)
		}
	case "type":
		return expectEq(n.Type, arg(2))
	case "mode":
		return expectEq(n.Mode, arg(2))
	case "owner":
		return expectEq(n.Owner, arg(2))
	case "link":
		return expectEq(n.Link, arg(2))
	case "cap":
		return expectEq(n.Cap, arg(2))
	case "hardlink":
		var a, b syscall.Stat_t
		if err := syscall.Lstat(filepath.Join(p.rootfs, arg(1)), &a); err != nil {
			return err
		}
		if err := syscall.Lstat(filepath.Join(p.rootfs, arg(2)), &b); err != nil {
			return err
		}
		if a.Ino != b.Ino {
			return fmt.Errorf("not the same file as %s", arg(2))
		}
	case "mtime":
		want, err := time.Parse(time.RFC3339, arg(2))
		if err != nil {
			return err
		}
		fi, err := os.Lstat(filepath.Join(p.rootfs, arg(1)))
		if err != nil {
			return err
		}
		if !fi.ModTime().Equal(want) {
			return fmt.Errorf("got %v", fi.ModTime().UTC())
		}
	default:
		return fmt.Errorf("unknown expectation %q", e[0])
	}
	return nil
}

func expectEq(got, want string) error {
	if got != want {
		return fmt.Errorf("got %q", got)
	}
	return nil
}
