package filesystem

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/heptio/ark/pkg/cloudprovider"
)

func newStore(t *testing.T, base string) (*ObjectStore, string) {
	t.Helper()
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "bucket"), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Root: root, DownloadBaseURL: base, SigningKey: bytes.Repeat([]byte("k"), 32)})
	if err != nil {
		t.Fatal(err)
	}
	return s, root
}

func TestRoundTripAndList(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, "")
	for _, k := range []string{"a/b/c.txt", "a/d.txt", "e.txt", "a/b/f/g"} {
		if err := s.PutObject(ctx, "bucket", k, strings.NewReader("data "+k)); err != nil {
			t.Fatalf("put %s: %v", k, err)
		}
	}
	r, err := s.GetObject(ctx, "bucket", "a/b/c.txt")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if string(got) != "data a/b/c.txt" {
		t.Fatalf("got %q", got)
	}
	keys, err := s.ListObjects(ctx, "bucket", "a/")
	if err != nil || strings.Join(keys, ",") != "a/b/c.txt,a/b/f/g,a/d.txt" {
		t.Fatalf("ListObjects = %v, %v", keys, err)
	}
	keys, _ = s.ListObjects(ctx, "bucket", "a/b/c")
	if strings.Join(keys, ",") != "a/b/c.txt" {
		t.Fatalf("ListObjects(a/b/c) = %v", keys)
	}
	if err := s.DeleteObject(ctx, "bucket", "a/b/f/g"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteObject(ctx, "bucket", "a/b/f/g"); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := s.GetObject(ctx, "bucket", "a/b/f/g"); !errors.Is(err, cloudprovider.ErrNotFound) {
		t.Fatalf("get deleted: %v", err)
	}
	if _, err := s.GetObject(ctx, "bucket", "a/b"); !errors.Is(err, cloudprovider.ErrNotFound) {
		t.Fatalf("get directory: %v", err)
	}
}

func TestPutIsAtomic(t *testing.T) {
	ctx := context.Background()
	s, root := newStore(t, "")
	if err := s.PutObject(ctx, "bucket", "x/obj", strings.NewReader("old")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutObject(ctx, "bucket", "x/obj", io.MultiReader(strings.NewReader(strings.Repeat("x", 1000)), iotest.ErrReader(errors.New("boom")))); err == nil {
		t.Fatal("put with failing reader succeeded")
	}
	r, err := s.GetObject(ctx, "bucket", "x/obj")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if string(got) != "old" {
		t.Fatalf("object changed by failed put: %q", got)
	}
	entries, _ := os.ReadDir(filepath.Join(root, "bucket", "x"))
	if len(entries) != 1 {
		t.Fatalf("temporary file left behind: %v", entries)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.PutObject(cctx, "bucket", "x/new", strings.NewReader("data")); !errors.Is(err, context.Canceled) {
		t.Fatalf("put with cancelled ctx: %v", err)
	}
}

func TestKeysCannotEscape(t *testing.T) {
	ctx := context.Background()
	s, root := newStore(t, "")
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "bucket", "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(root, "bucket", "filelink")); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"../x", "a/../../x", "/etc/passwd", "", "a//b", "./a", "a/.", "link/secret", "link/new", "filelink", ".ark-upload-1"} {
		if r, err := s.GetObject(ctx, "bucket", key); err == nil {
			r.Close()
			t.Errorf("get %q succeeded", key)
		}
		// Putting "filelink" replaces the link itself (rename does not follow links): allowed.
		if err := s.PutObject(ctx, "bucket", key, strings.NewReader("x")); err == nil && key != "filelink" {
			t.Errorf("put %q succeeded", key)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(outside, "secret")); string(b) != "secret" {
		t.Errorf("file outside the root changed: %q", b)
	}
	for _, bucket := range []string{"..", ".", "a/b", "", "/tmp"} {
		if err := s.PutObject(ctx, bucket, "k", strings.NewReader("x")); err == nil {
			t.Errorf("put in bucket %q succeeded", bucket)
		}
	}
	if _, err := os.Stat(filepath.Join(outside, "new")); err == nil {
		t.Error("a file was written outside the root")
	}
	if _, err := s.ListObjects(ctx, "missing", ""); !errors.Is(err, cloudprovider.ErrBucketNotFound) {
		t.Errorf("list of missing bucket: %v", err)
	}
}

func TestSignedURL(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	var s *ObjectStore
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	s, _ = newStore(t, srv.URL+"/download")
	s.opts.Now = func() time.Time { return now }
	mux.Handle("/download/", s.DownloadHandler())
	key := "b 1/ä+x.tar.gz"
	if err := s.PutObject(ctx, "bucket", key, strings.NewReader("payload")); err != nil {
		t.Fatal(err)
	}
	signed, err := s.CreateSignedURL(ctx, "bucket", key, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	get := func(u string) (int, string) {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(signed); code != 200 || body != "payload" {
		t.Fatalf("GET signed = %d %q", code, body)
	}
	u, _ := url.Parse(signed)
	tampered := func(f func(q url.Values, u *url.URL)) string {
		c := *u
		q := c.Query()
		f(q, &c)
		c.RawQuery = q.Encode()
		return c.String()
	}
	cases := map[string]string{
		"bad signature": tampered(func(q url.Values, _ *url.URL) { q.Set("signature", "AAAA"+q.Get("signature")[4:]) }),
		"no signature":  tampered(func(q url.Values, _ *url.URL) { q.Del("signature") }),
		"later expiry":  tampered(func(q url.Values, _ *url.URL) { q.Set("expires", "1900000000") }),
		"other key": tampered(func(_ url.Values, c *url.URL) {
			c.Path = strings.Replace(c.Path, "x.tar.gz", "y.tar.gz", 1)
			c.RawPath = ""
		}),
	}
	for name, u := range cases {
		if code, _ := get(u); code != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", name, code)
		}
	}
	now = now.Add(2 * time.Minute)
	if code, _ := get(signed); code != http.StatusForbidden {
		t.Errorf("expired: status %d, want 403", code)
	}
	// A handler built from the same options (another process) accepts the URL.
	h, err := NewDownloadHandler(Options{Root: s.opts.Root, DownloadBaseURL: srv.URL + "/download", SigningKey: s.opts.SigningKey})
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(-2 * time.Minute)
	signed, _ = s.CreateSignedURL(ctx, "bucket", key, time.Hour)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, signed, nil))
	if rec.Code != 200 || rec.Body.String() != "payload" {
		t.Errorf("NewDownloadHandler: %d %q", rec.Code, rec.Body.String())
	}
	noBase, _ := newStore(t, "")
	if _, err := noBase.CreateSignedURL(ctx, "bucket", key, time.Minute); !errors.Is(err, cloudprovider.ErrInvalidConfig) {
		t.Errorf("without downloadURL: %v", err)
	}
}
