package build

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/buildcrew/builder/pkg/dockerfile"
)

// recorded is a hash.Hash that keeps what it was given.
type recorded struct{ bytes.Buffer }

func (r *recorded) Sum(b []byte) []byte { return append(b, r.Bytes()...) }
func (r *recorded) Size() int           { return 0 }
func (r *recorded) BlockSize() int      { return 1 }

var _ hash.Hash = (*recorded)(nil)

// FuzzCacheKey: the fields of a cache key are framed so that the bytes
// hashed decode back to exactly the fields written: no two different
// field lists can ever hash the same bytes. The fields come from the
// input cut at NUL bytes, fed as single fields and as lists.
func FuzzCacheKey(f *testing.F) {
	for _, seed := range []string{"", "a", "a b\x00c", "a\x00b c", "\x00\x00", "RUN make\x00PATH=/bin\x00\x00x"} {
		f.Add(seed, false)
		f.Add(seed, true)
	}
	f.Fuzz(func(t *testing.T, in string, asList bool) {
		fields := strings.Split(in, "\x00")
		rec := &recorded{}
		k := &keyHash{h: rec}
		want := fields
		if asList {
			k.fields(fields)
			want = append([]string{strconv.Itoa(len(fields))}, fields...)
		} else {
			for _, s := range fields {
				k.field(s)
			}
		}
		got, err := unframe(rec.Bytes())
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("fields %q hashed as %q", want, got)
		}
	})
}

// unframe reads back length-framed fields.
func unframe(b []byte) ([]string, error) {
	var out []string
	for len(b) > 0 {
		if len(b) < 8 {
			return nil, errShort
		}
		n := binary.BigEndian.Uint64(b[:8])
		b = b[8:]
		if uint64(len(b)) < n {
			return nil, errShort
		}
		out = append(out, string(b[:n]))
		b = b[n:]
	}
	return out, nil
}

var errShort = errors.New("a field runs past the end")

// FuzzBaseConfig feeds a base image's config, as a registry could serve
// it, to what the builder does with one: its environment becomes the
// stage's variables, its health check's start interval (which ggcr drops)
// is read from the raw JSON and put back into the result. Nothing may
// panic; a config ggcr accepts must come out with its env, labels and
// health check, and the start interval put back where it was.
func FuzzBaseConfig(f *testing.F) {
	for _, seed := range []string{
		`{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin","A=1=2","=x","B"],"Labels":{"a":"b"},"Healthcheck":{"Test":["CMD","true"],"StartInterval":5000000000}}}`,
		`{"config":{"Healthcheck":{"StartInterval":-1}}}`,
		`{"config":{"Healthcheck":{"StartInterval":"5s"}}}`,
		`{"config":{"Healthcheck":null,"Env":null}}`,
		`{"config":{"Env":["` + strings.Repeat("X", 300) + `=y"]}}`,
		`{"config":7}`, `[]`, `{`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		d := startIntervalOf(raw)
		var cfg v1.ConfigFile
		if json.Unmarshal(raw, &cfg) != nil {
			return
		}
		vars := dockerfile.VarsFromEnviron(cfg.Config.Env)
		last := map[string]string{} // the last value wins
		for _, kv := range cfg.Config.Env {
			k, v, _ := strings.Cut(kv, "=")
			last[k] = v
		}
		for k, v := range last {
			if got, ok := vars.Get(k); !ok || got != v {
				t.Fatalf("env %s=%q: the stage sees %q, %v", k, v, got, ok)
			}
		}
		img, err := mutate.ConfigFile(empty.Image, &cfg)
		if err != nil {
			return
		}
		if d == 0 || cfg.Config.Healthcheck == nil {
			return
		}
		out, err := withStartInterval(img, d)
		if err != nil {
			t.Fatalf("putting back a start interval of %s: %v", d, err)
		}
		got, err := out.RawConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if back := startIntervalOf(got); back != d {
			t.Fatalf("start interval %s put back as %s", d, back)
		}
		after, err := out.ConfigFile()
		if err != nil {
			t.Fatalf("the result's config does not parse: %v", err)
		}
		before, _ := img.ConfigFile()
		// An empty list or map and an absent one mean the same to a runtime.
		same := func(a, b any) bool { return cmp.Equal(a, b, cmpopts.EquateEmpty()) }
		if !same(after.Config.Env, before.Config.Env) || !same(after.Config.Labels, before.Config.Labels) ||
			!same(after.Config.Healthcheck.Test, before.Config.Healthcheck.Test) {
			t.Fatalf("the config changed beyond the start interval:\n%s\n%s", mustJSON(before), mustJSON(after))
		}
	})
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
