package build

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/buildcrew/builder/pkg/dockerfile"
)

// TestInsecureNeedsTheEntitlement: RUN --security=insecure fails the
// build before anything runs unless the build was allowed it, as BuildKit
// refuses it without --allow security.insecure.
func TestInsecureNeedsTheEntitlement(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "Dockerfile", "FROM scratch AS a\nCOPY Dockerfile /\nFROM a\nRUN --security=insecure cat /proc/self/status\n")
	var progress strings.Builder
	_, err := Build(context.Background(), Options{ContextDir: dir, WorkDir: t.TempDir(), Progress: &progress})
	if !errors.Is(err, errInsecure) || !strings.Contains(err.Error(), "Dockerfile:4: RUN --security=insecure") {
		t.Fatalf("err = %v, want the entitlement refused at Dockerfile:4", err)
	}
	if strings.Contains(progress.String(), "COPY") {
		t.Errorf("steps ran before the refusal:\n%s", progress.String())
	}
	// A stage the target does not need is not refused.
	write(t, dir, "Dockerfile", "FROM scratch AS unused\nRUN --security=insecure true\nFROM scratch\nCOPY Dockerfile /\n")
	res, err := Build(context.Background(), Options{ContextDir: dir, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatalf("an unneeded insecure stage failed the build: %v", err)
	}
	res.Close()
}

func TestInsecureWhenAllowed(t *testing.T) {
	base := busybox(t)
	dir := t.TempDir()
	write(t, dir, "Dockerfile", "FROM "+base+"\nRUN --security=insecure grep -E '^(CapEff|Seccomp):' /proc/self/status > /status\nRUN grep -E '^(CapEff|Seccomp):' /proc/self/status > /default\n")
	res, err := Build(context.Background(), Options{ContextDir: dir, WorkDir: t.TempDir(), AllowInsecure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	fs := flatten(t, res.Image)
	if got := fs["status"].Body; !strings.Contains(got, "Seccomp:\t0") || strings.Contains(got, "CapEff:\t00000000a80425fb") {
		t.Errorf("insecure step: %q", got)
	}
	if got := fs["default"].Body; !strings.Contains(got, "Seccomp:\t2") || !strings.Contains(got, "CapEff:\t00000000a80425fb") {
		t.Errorf("default step: %q", got)
	}
}

// TestExpansionIsBounded: a value doubled line after line fails the build
// at the line that passes the bound, long before memory runs out.
func TestExpansionIsBounded(t *testing.T) {
	dir := t.TempDir()
	var df strings.Builder
	df.WriteString("FROM scratch\nENV A=" + strings.Repeat("x", 1024) + "\n")
	for range 30 {
		df.WriteString("ENV A=${A}${A}\n")
	}
	df.WriteString("COPY Dockerfile /\n")
	write(t, dir, "Dockerfile", df.String())
	_, err := Build(context.Background(), Options{ContextDir: dir, WorkDir: t.TempDir()})
	if !errors.Is(err, dockerfile.ErrTooLarge) || !strings.Contains(err.Error(), "Dockerfile:13: ENV A=${A}${A}") {
		t.Fatalf("err = %v, want a bound at Dockerfile:13 (line 12 makes exactly 1 MiB)", err)
	}

	// Values under the word bound that add up past the stage's: A holds
	// 512 KiB after 9 doublings; its eighth copy passes 4 MiB.
	df.Reset()
	df.WriteString("FROM scratch\nENV A=" + strings.Repeat("x", 1024) + "\n")
	for range 9 {
		df.WriteString("ENV A=${A}${A}\n")
	}
	for i := 1; i <= 8; i++ {
		fmt.Fprintf(&df, "ENV V%d=$A\n", i)
	}
	write(t, dir, "Dockerfile", df.String())
	_, err = Build(context.Background(), Options{ContextDir: dir, WorkDir: t.TempDir()})
	if !errors.Is(err, dockerfile.ErrTooLarge) || !strings.Contains(err.Error(), "Dockerfile:18: ENV V7=$A") {
		t.Fatalf("err = %v, want a bound at Dockerfile:18", err)
	}
}
