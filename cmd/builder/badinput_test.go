package main

import (
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// badInputRegistry is an in-memory registry holding base:1, and a second
// one that wants credentials.
func badInputRegistry(t *testing.T) (open, locked string) {
	t.Helper()
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	s := httptest.NewServer(reg)
	t.Cleanup(s.Close)
	open = strings.TrimPrefix(s.URL, "http://")
	img, _ := random.Image(64, 1)
	ref, _ := name.ParseReference(open + "/base:1")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	ls := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Basic "+base64.StdEncoding.EncodeToString([]byte("user:right")) {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(ls.Close)
	return open, strings.TrimPrefix(ls.URL, "http://")
}

// TestBadInput gives the CLI broken Dockerfiles, contexts, flags and
// registries: each must fail with one line that names the place (the
// Dockerfile line and instruction, or the flag) and the cause, exit
// non-zero, and push nothing.
func TestBadInput(t *testing.T) {
	reg, locked := badInputRegistry(t)
	dockerConfig := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte("user:wrong"))
	os.WriteFile(filepath.Join(dockerConfig, "config.json"), []byte(fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, locked, auth)), 0o600)
	t.Setenv("DOCKER_CONFIG", dockerConfig)
	base := reg + "/base:1"
	dest := reg + "/result:bad"

	tests := []struct {
		name       string
		dockerfile string
		files      map[string]string
		args       []string
		want       string // a regexp the error line must match
	}{
		{"unknown instruction", "FROM scratch\nFOO bar\n", nil, nil, `^Dockerfile:2: FOO bar: unknown instruction`},
		{"bad flag", "FROM scratch\nCOPY --nope a /b\n", nil, nil, `^Dockerfile:2: COPY --nope a /b: .*unknown flag: --nope`},
		{"unterminated heredoc", "FROM scratch\nRUN <<EOF\necho\n", nil, nil, `^Dockerfile:2: .*(heredoc|EOF)`},
		{"no FROM", "RUN echo\n", nil, nil, `^Dockerfile:1: RUN echo: .*FROM`},
		{"empty file", "", nil, nil, `Dockerfile.*(empty|no instructions|file with no instructions)`},
		{"only comments", "# nothing\n", nil, nil, `Dockerfile.*(empty|no instructions|file with no instructions)`},
		{"missing COPY source", "FROM scratch\nCOPY missing.txt /x\n", nil, nil, `^Dockerfile:2: COPY missing.txt /x: "missing.txt" not found`},
		{"missing glob source is fine, missing dir is not", "FROM scratch\nCOPY nodir/ /x/\n", nil, nil, `^Dockerfile:2: COPY nodir/ /x/: "nodir/" not found`},
		{"unknown --from stage", "FROM scratch\nCOPY --from=nostage /a /b\n", nil, nil, `^Dockerfile:2: COPY --from=nostage /a /b: .*nostage`},
		{"stage cycle", "FROM b AS a\nFROM a AS b\n", nil, nil, `^Dockerfile:1: FROM b AS a: .*`},
		{"FROM an undefined ARG", "FROM $NOPE\n", nil, nil, `^Dockerfile:1: FROM \$NOPE: .*`},
		{"FROM a bad reference", "FROM UPPER/Case:tag\n", nil, nil, `^Dockerfile:1: FROM UPPER/Case:tag: .*repository names must be lowercase \(upper/case\)`},
		{"bad EXPOSE", "FROM scratch\nEXPOSE eighty\n", nil, nil, `^Dockerfile:2: EXPOSE eighty: .*`},
		{"bad STOPSIGNAL", "FROM scratch\nSTOPSIGNAL SIGNOPE\n", nil, nil, `^Dockerfile:2: STOPSIGNAL SIGNOPE: .*`},
		{"bad HEALTHCHECK flag", "FROM scratch\nHEALTHCHECK --interval=soon CMD true\n", nil, nil, `^Dockerfile:2: HEALTHCHECK .*`},
		{"bad --chmod", "FROM scratch\nCOPY --chmod=999 f /f\n", map[string]string{"f": "x"}, nil, `^Dockerfile:2: COPY --chmod=999 f /f: invalid chmod`},
		{"unknown --chown user", "FROM scratch\nCOPY --chown=nobodyhere f /f\n", map[string]string{"f": "x"}, nil, `^Dockerfile:2: COPY --chown=nobodyhere f /f: .*nobodyhere`},
		{"ONBUILD ONBUILD", "FROM scratch\nONBUILD ONBUILD RUN x\n", nil, nil, `^Dockerfile:2: ONBUILD ONBUILD RUN x: .*`},
		{"several sources, file destination", "FROM scratch\nCOPY a b /dest\n", map[string]string{"a": "1", "b": "2"}, nil, `^Dockerfile:2: COPY a b /dest: .*must be a directory`},
		{"unsupported RUN --mount", "FROM scratch\nRUN --mount=type=ssh true\n", nil, nil, `^Dockerfile:2: RUN --mount=type=ssh true: .*`},
		{"unknown base tag", "FROM " + base + "-missing\n", nil, nil, `^Dockerfile:1: FROM .*base:1-missing: pulling .*: the repository .*/base has no tag "1-missing"$`},
		{"wrong credentials", "FROM " + locked + "/base:1\n", nil, nil, `^Dockerfile:1: FROM .*: .*(401|UNAUTHORIZED|Unauthorized)`},
		{"unreachable registry", "FROM 127.0.0.1:1/base:1\n", nil, nil, `^Dockerfile:1: FROM 127.0.0.1:1/base:1: .*(connection refused|connect)`},
		{"unknown target", "FROM scratch AS a\n", nil, []string{"--target", "nope"}, `nope`},
		{"malformed --build-arg", "FROM scratch\n", nil, []string{"--build-arg", "=v"}, `^--build-arg "=v": want KEY=VALUE`},
		{"malformed --label", "FROM scratch\n", nil, []string{"--label", "novalue"}, `^--label "novalue": want KEY=VALUE`},
		{"malformed --destination", "FROM scratch\n", nil, []string{"--destination", "UPPER/x:1"}, `^--destination: parsing reference "UPPER/x:1": repository names must be lowercase \(upper/x\)`},
		{"malformed --custom-platform", "FROM scratch\n", nil, []string{"--custom-platform", "linux"}, `want os/arch`},
		{"unknown --image-format", "FROM scratch\n", nil, []string{"--image-format", "v1"}, `unknown image format`},
		{"missing Dockerfile", "", nil, []string{"--dockerfile", "Nope.Dockerfile"}, `^--dockerfile Nope.Dockerfile: not found`},
		{"missing context", "", nil, []string{"--context", "/does/not/exist"}, `/does/not/exist`},
		{"unknown flag", "FROM scratch\n", nil, []string{"--frobnicate"}, `unknown flag: --frobnicate`},
		{"malformed --secret", "FROM scratch\n", nil, []string{"--secret", "id=tok,src"}, `^--secret "id=tok,src": want id=ID,src=FILE`},
		{"--secret file missing", "FROM scratch\n", nil, []string{"--secret", "id=tok,src=/does/not/exist"}, `^--secret id=tok: open /does/not/exist`},
		{"required secret not given", "FROM scratch\nRUN --mount=type=secret,id=tok,required=true true\n", nil, nil, `^Dockerfile:2: RUN --mount=type=secret,id=tok,required=true true: secret tok is required but was not given`},
		{"RUN --device", "FROM scratch\nRUN --device=nvidia.com/gpu=all nvidia-smi\n", nil, nil, `^Dockerfile:2: RUN --device=nvidia.com/gpu=all nvidia-smi: RUN --device=nvidia.com/gpu=all: devices are not supported`},
		{"cache mount without target", "FROM scratch\nRUN --mount=type=cache true\n", nil, nil, `^Dockerfile:2: RUN --mount=type=cache true: `},
		{"bad --chmod", "FROM scratch\nCOPY --chmod=u+q Dockerfile /x\n", nil, nil, `^Dockerfile:2: COPY --chmod=u\+q Dockerfile /x: `},
	}
	if len(tests) < 30 {
		t.Fatalf("%d cases, want at least 30", len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.name != "missing Dockerfile" {
				os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(tt.dockerfile), 0o644)
			}
			for n, body := range tt.files {
				os.WriteFile(filepath.Join(dir, n), []byte(body), 0o644)
			}
			args := append([]string{"--context", dir, "--destination", dest, "--work-dir", t.TempDir()}, tt.args...)
			_, stderr, err := execute(t, args...)
			if err == nil {
				t.Fatalf("succeeded; stderr:\n%s", stderr)
			}
			line := err.Error()
			if strings.Contains(line, "\n") {
				t.Errorf("the error spans lines: %q", line)
			}
			if !regexp.MustCompile(tt.want).MatchString(line) {
				t.Errorf("error %q does not match %q", line, tt.want)
			}
			if exitCode(t.Context(), err, io.Discard) == 0 {
				t.Error("exit status 0")
			}
			ref, _ := name.ParseReference(dest)
			if _, err := remote.Head(ref); err == nil {
				t.Error("something was pushed")
			}
		})
	}
}
