package isolation

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Debian's qemu-user-static registers this for arm64.
const qemuAarch64 = `enabled
interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P
flags: PF
offset 0
magic 7f454c460201010000000000000000000200b700
mask ffffffffffffff00fffffffffffffffffeffffff
`

func TestEmulation(t *testing.T) {
	noFix := strings.Replace(qemuAarch64, "flags: PF", "flags: P", 1)
	disabled := strings.Replace(qemuAarch64, "enabled", "disabled", 1)
	riscv := strings.NewReplacer("aarch64", "riscv64", "b700", "f300").Replace(qemuAarch64)
	tests := []struct {
		name       string
		handlers   map[string]string
		host, arch string
		want       string // the handler, "" for native
		wantErr    string
	}{
		{name: "native", host: "amd64", arch: "amd64"},
		{name: "386 on amd64", host: "amd64", arch: "386"},
		{name: "arm64 with qemu", host: "amd64", arch: "arm64", handlers: map[string]string{"qemu-aarch64": qemuAarch64, "qemu-riscv64": riscv}, want: "qemu-aarch64"},
		{name: "riscv64 with qemu", host: "amd64", arch: "riscv64", handlers: map[string]string{"qemu-aarch64": qemuAarch64, "qemu-riscv64": riscv}, want: "qemu-riscv64"},
		{name: "no handler", host: "amd64", arch: "arm64", handlers: map[string]string{"qemu-riscv64": riscv}, wantErr: "RUN for linux/arm64 on this amd64 machine: no emulator is registered for it; install QEMU"},
		{name: "disabled handler", host: "amd64", arch: "arm64", handlers: map[string]string{"qemu-aarch64": disabled}, wantErr: "no emulator is registered"},
		{name: "no fix-binary flag", host: "amd64", arch: "arm64", handlers: map[string]string{"qemu-aarch64": noFix}, wantErr: "without the F (fix binary) flag"},
		{name: "unknown arch", host: "amd64", arch: "vax", wantErr: "does not know how programs for vax begin"},
		{name: "amd64 on arm64", host: "arm64", arch: "amd64", handlers: map[string]string{"qemu-aarch64": qemuAarch64}, wantErr: "no emulator is registered"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range []string{"register", "status"} {
				if err := os.WriteFile(filepath.Join(dir, f), []byte("enabled\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			for n, body := range tt.handlers {
				if err := os.WriteFile(filepath.Join(dir, n), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := emulation(dir, tt.host, tt.arch, "")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to say %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("emulation = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	t.Run("not mounted", func(t *testing.T) {
		_, err := emulation(t.TempDir(), "amd64", "arm64", "")
		if !errors.Is(err, ErrHandlersHidden) || !strings.Contains(err.Error(), "mount -t binfmt_misc") {
			t.Fatalf("err = %v", err)
		}
	})
}
