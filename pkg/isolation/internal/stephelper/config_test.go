package stephelper

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestConfigRoundTrip(t *testing.T) {
	for _, c := range []*Config{
		{},
		{
			Root: "/work/roots/stage-0", Args: []string{"/bin/sh", "-c", "echo 'a:b' \x00 ok"}, Env: []string{"PATH=/bin", "EMPTY="},
			Dir: "/app", UID: 1000, GID: 4294967295, Groups: []uint32{0, 27, 100}, Hostname: "buildkitsandbox",
			NetNone: true, Mounts: []string{"proc", "dev", "sys"},
			Binds: []Bind{{Source: "/tmp/etc-1", Target: "/etc/hosts"}, {Source: "/tmp/s", Target: "/run/secrets/x", ReadOnly: true},
				{Target: "/tmp/t", Tmpfs: true, Size: 1 << 40}},
			Files: map[string][]byte{"script": []byte("#!/bin/sh\n\x00binary\n"), "empty": {}}, Insecure: true, Seccomp: []byte{1, 2, 3, 4, 5, 6, 7, 8},
			InPlace: true, SameUser: true,
		},
	} {
		got, err := Decode(c.Encode())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(c, got); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
}

func TestDecodeRefusesDamage(t *testing.T) {
	full := (&Config{Root: "/r", Args: []string{"true"}, Files: map[string][]byte{"f": []byte("data")}}).Encode()
	for _, bad := range [][]byte{full[:len(full)-1], append(append([]byte{}, full...), '1'), []byte("9999999999:x"), []byte("x:")} {
		if _, err := Decode(bad); err == nil {
			t.Errorf("Decode(%q) succeeded", bad)
		}
	}
}
