package push

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestUploaderSendsLayersEarly uploads an image's layers before it is
// published: they land in every destination repository, no manifest
// appears until Publish, and Publish then uploads only the config.
func TestUploaderSendsLayersEarly(t *testing.T) {
	host, rec := startRegistry(t)
	img, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Destinations: []string{host + "/app:1", host + "/app:2", host + "/other:1"}}
	u, err := NewUploader(opts)
	if err != nil {
		t.Fatal(err)
	}
	u.minSize = 0 // these layers are small
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		u.Add(context.Background(), l)
	}
	if n := u.Wait(); n != 4 {
		t.Errorf("%d uploads succeeded, want 4 (2 layers, 2 repositories)", n)
	}
	for _, r := range rec.take() {
		if strings.Contains(r, "/manifests/") && strings.HasPrefix(r, "PUT ") {
			t.Errorf("a manifest went up before Publish: %s", r)
		}
	}
	for _, repo := range []string{"app", "other"} {
		for _, l := range ls {
			d, _ := l.Digest()
			ref, _ := name.NewDigest(host + "/" + repo + "@" + d.String())
			if _, err := remote.Layer(ref); err != nil {
				t.Errorf("%s lacks layer %s: %v", repo, d, err)
			}
		}
	}
	if _, err := Publish(context.Background(), img, opts); err != nil {
		t.Fatal(err)
	}
	uploads := 0
	for _, r := range rec.take() {
		if strings.HasPrefix(r, "POST ") && strings.Contains(r, "/blobs/uploads/") {
			uploads++
		}
	}
	// The config, once per repository at most (the second may be mounted
	// from the first); no layer again.
	if uploads == 0 || uploads > 2 {
		t.Errorf("Publish started %d blob uploads, want 1 or 2 (the config only)", uploads)
	}
}

// TestUploaderLeavesSmallLayers sends nothing early for a layer under a
// MiB: Publish sends it with the rest.
func TestUploaderLeavesSmallLayers(t *testing.T) {
	host, _ := startRegistry(t)
	u, err := NewUploader(Options{Destinations: []string{host + "/app:1"}})
	if err != nil {
		t.Fatal(err)
	}
	small, _ := random.Image(4096, 1)
	big, _ := random.Image(2<<20, 1)
	for _, img := range []v1.Image{small, big} {
		ls, _ := img.Layers()
		u.Add(context.Background(), ls[0])
	}
	if n := u.Wait(); n != 1 {
		t.Errorf("%d layers sent early, want 1 (the big one)", n)
	}
}

func TestUploaderWithoutDestinations(t *testing.T) {
	u, err := NewUploader(Options{NoPush: true, Destinations: []string{"example.com/app:1"}})
	if err != nil {
		t.Fatal(err)
	}
	img, _ := random.Image(16, 1)
	ls, _ := img.Layers()
	u.Add(context.Background(), ls[0])
	if n := u.Wait(); n != 0 {
		t.Errorf("%d uploads with --no-push", n)
	}
	if _, err := NewUploader(Options{Destinations: []string{"Bad Ref"}}); err == nil {
		t.Error("a malformed destination was accepted")
	}
}

// TestUploaderEnds stops uploads stuck on a registry that never answers:
// by Stop, and by the end of the context the layer was added with.
func TestUploaderEnds(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(u *Uploader, cancel context.CancelFunc)
	}{
		{"stop", func(u *Uploader, _ context.CancelFunc) { u.Stop() }},
		{"context", func(u *Uploader, cancel context.CancelFunc) { cancel() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			arrived := make(chan struct{}, 16)
			s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				arrived <- struct{}{}
				<-r.Context().Done() // answers nothing until the client goes
			}))
			defer s.Close()
			u, err := NewUploader(Options{Destinations: []string{strings.TrimPrefix(s.URL, "http://") + "/app:1"}})
			if err != nil {
				t.Fatal(err)
			}
			u.minSize = 0
			img, _ := random.Image(16, 1)
			ls, _ := img.Layers()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			u.Add(ctx, ls[0])
			<-arrived
			tc.end(u, cancel)
			done := make(chan int)
			go func() { done <- u.Wait() }()
			select {
			case n := <-done:
				if n != 0 {
					t.Errorf("%d uploads succeeded against a registry that answers nothing", n)
				}
			case <-time.After(time.Minute):
				t.Fatal("the upload went on after it was ended")
			}
		})
	}
}
