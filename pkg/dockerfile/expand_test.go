package dockerfile

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

func expandFirst(t *testing.T, src string, vars *Vars) Instruction {
	t.Helper()
	df := mustParse(t, src)
	ins, err := df.Stages[0].Steps[0].Expand(vars)
	if err != nil {
		t.Fatalf("Expand: %v", err)
	}
	return ins
}

func TestExpand(t *testing.T) {
	vars := VarsFromEnviron([]string{"a=old", "dir=/srv", "empty=", "name=app"})
	tests := []struct {
		name string
		src  string
		want Instruction
	}{
		{"ENV sees old values", "FROM x\nENV a=new b=$a\n",
			&Env{Vars: []KeyValue{{"a", "new"}, {"b", "old"}}}},
		{"default when unset", "FROM x\nWORKDIR ${nope:-/d}\n", &Workdir{Path: "/d"}},
		{"default when empty is kept", "FROM x\nWORKDIR /x${empty:-y}\n", &Workdir{Path: "/xy"}},
		{"alternate when set", "FROM x\nWORKDIR ${dir:+/alt}\n", &Workdir{Path: "/alt"}},
		{"alternate when unset", "FROM x\nWORKDIR /w${nope:+/alt}\n", &Workdir{Path: "/w"}},
		{"escaped dollar", "FROM x\nLABEL l=\\$dir\n", &Label{Labels: []KeyValue{{"l", "$dir"}}}},
		{"single quotes", "FROM x\nLABEL l='$dir'\n", &Label{Labels: []KeyValue{{"l", "$dir"}}}},
		{"escape directive", "# escape=`\nFROM x\nLABEL l=`$dir\n", &Label{Labels: []KeyValue{{"l", "$dir"}}}},
		{"COPY words", "FROM x\nCOPY --chown=$name src/$name $dir/\n",
			&Copy{Sources: []string{"src/app"}, Dest: "/srv/", Chown: "app"}},
		{"RUN is left to the shell", "FROM x\nRUN echo $a\n",
			&Run{Args: []string{"echo $a"}, Shell: true, Network: "default", Security: "sandbox"}},
		{"RUN exec form", "FROM x\nRUN [\"/bin/echo\", \"$a\"]\n",
			&Run{Args: []string{"/bin/echo", "$a"}, Network: "default", Security: "sandbox"}},
		{"USER", "FROM x\nUSER $name:staff\n", &User{User: "app:staff"}},
		{"ARG default is not expanded here", "FROM x\nARG v=$a\n", &Arg{Args: []ArgDecl{{Key: "v", Value: ptr("$a")}}}},
		{"EXPOSE", "FROM x\nEXPOSE 80 ${port:-443}/UDP 7000-7001\n", &Expose{Ports: []string{"443/udp", "7000/tcp", "7001/tcp", "80/tcp"}, Written: []string{"443/UDP", "7000-7001", "80"}}},
		{"CMD shell form", "FROM x\nCMD echo $a\n", &Cmd{Args: []string{"echo $a"}, Shell: true}},
		{"heredoc COPY is expanded", "FROM x\nCOPY <<EOF /f\n$name\nEOF\n",
			&Copy{Inline: []InlineFile{{Name: "EOF", Data: "app\n"}}, Dest: "/f"}},
		{"quoted heredoc COPY is not", "FROM x\nCOPY <<'EOF' /f\n$name\nEOF\n",
			&Copy{Inline: []InlineFile{{Name: "EOF", Data: "$name\n"}}, Dest: "/f"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := expandFirst(t, tt.src, vars)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunHeredocs(t *testing.T) {
	tests := []struct {
		name, src string
		want      *Run
	}{
		{"lone heredoc runs in the shell", "FROM x\nRUN <<EOF\necho hi\nEOF\n",
			&Run{Args: []string{"echo hi\n"}, Shell: true}},
		// The shell runs the script's path, as in BuildKit.
		{"shebang becomes a script", "FROM x\nRUN <<EOF\n#!/bin/sh\necho hi\nEOF\n",
			&Run{Args: []string{"/dev/pipes/EOF"}, Shell: true, Script: &InlineFile{Name: "EOF", Data: "#!/bin/sh\necho hi\n"}}},
		{"heredoc as a command's input", "FROM x\nRUN cat <<EOF > /f\nline\nEOF\n",
			&Run{Args: []string{"cat <<EOF > /f\nline\nEOF"}, Shell: true}},
		{"chomped", "FROM x\nRUN <<-EOF\n\techo hi\nEOF\n",
			&Run{Args: []string{"echo hi\n"}, Shell: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := expandFirst(t, tt.src, nil).(*Run)
			got.Network, got.Security = "", ""
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunMounts(t *testing.T) {
	got := expandFirst(t, "FROM x\nRUN --network=none --mount=type=cache,target=/c,id=$name make\n",
		VarsFromEnviron([]string{"name=gocache"}))
	run := got.(*Run)
	if run.Network != "none" {
		t.Errorf("network = %q", run.Network)
	}
	if len(run.Mounts) != 1 || run.Mounts[0].Type != "cache" || run.Mounts[0].Target != "/c" || run.Mounts[0].ID != "gocache" {
		t.Errorf("mounts = %+v", run.Mounts)
	}
}

func TestVars(t *testing.T) {
	v := VarsFromEnviron([]string{"A=1", "B=2"})
	v.Set("A", "3")
	v.Set("C", "")
	if diff := cmp.Diff([]string{"A=3", "B=2", "C="}, v.Environ()); diff != "" {
		t.Errorf("Environ (-want +got):\n%s", diff)
	}
	c := v.Clone()
	c.Set("B", "changed")
	if got, _ := v.Get("B"); got != "2" {
		t.Errorf("Clone shares state: B = %q", got)
	}
	var nilVars *Vars
	if _, ok := nilVars.Get("A"); ok || nilVars.Len() != 0 {
		t.Error("a nil *Vars is not empty")
	}
}

func ptr(s string) *string { return &s }

// TestExpansionBoundHasNoFalseAlarm: a word with many references (a
// here-document script's own shell variables) next to a long variable
// expands, as long as what it gives stays under the bound; references to
// the long value that would pass it fail without building the result.
func TestExpansionBoundHasNoFalseAlarm(t *testing.T) {
	vars := &Vars{}
	vars.Set("LONG", strings.Repeat("x", 4096))
	vars.Set("S", "s")
	word := strings.Repeat("$S ", 5000) + "$LONG"
	out, err := processWord(shell.NewLex('\\'), word, vars, nil)
	if err != nil || len(out) != 5000*2+4096 {
		t.Errorf("%d bytes, %v", len(out), err)
	}
	if _, err := processWord(shell.NewLex('\\'), strings.Repeat("$LONG", 300), vars, nil); !errors.Is(err, ErrTooLarge) {
		t.Errorf("300 references to 4 KiB: %v", err)
	}
}
