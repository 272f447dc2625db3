//go:build integration

package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/heptio/ark/pkg/cloudprovider"
	"github.com/heptio/ark/pkg/cloudprovider/factory"
	"github.com/heptio/ark/pkg/test/objectstores"
)

func get(t *testing.T, s cloudprovider.ObjectStore, key string) []byte {
	t.Helper()
	r, err := s.GetObject(context.Background(), bucket, key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return b
}

func TestRoundTripSmall(t *testing.T) {
	forEach(t, func(t *testing.T, p *provider) {
		ctx := context.Background()
		pre := testPrefix(t)
		cases := map[string][]byte{
			pre + "empty":                   {},
			pre + "one":                     {'x'},
			pre + "dir/sub/obj.json":        []byte(`{"kind":"Backup"}`),
			pre + "spaces and ünïcode+%.gz": bytes.Repeat([]byte("abc"), 1000),
		}
		for k, v := range cases {
			// Wrap in a plain io.Reader: the length is unknown to the store.
			if err := p.store.PutObject(ctx, bucket, k, struct{ io.Reader }{bytes.NewReader(v)}); err != nil {
				t.Fatalf("put %s: %v", k, err)
			}
		}
		for k, v := range cases {
			if got := get(t, p.store, k); !bytes.Equal(got, v) {
				t.Errorf("%s: got %d bytes, want %d", k, len(got), len(v))
			}
		}
		// Overwrite.
		if err := p.store.PutObject(ctx, bucket, pre+"one", strings.NewReader("two")); err != nil {
			t.Fatal(err)
		}
		if got := get(t, p.store, pre+"one"); string(got) != "two" {
			t.Errorf("after overwrite: %q", got)
		}
	})
}

func TestRoundTripLarge(t *testing.T) {
	const size = 160 << 20
	const maxHeapMiB = 80
	forEach(t, func(t *testing.T, p *provider) {
		ctx := context.Background()
		key := testPrefix(t) + "large.tar.gz"
		src := newRandomStream(size, 7)
		h := startHeapSampler()
		start := time.Now()
		if err := p.store.PutObject(ctx, bucket, key, src); err != nil {
			t.Fatalf("put: %v", err)
		}
		up := time.Since(start)
		upPeak := h.Stop()
		upRSS := h.RSS()

		h = startHeapSampler()
		start = time.Now()
		r, err := p.store.GetObject(ctx, bucket, key)
		if err != nil {
			t.Fatalf("get: %v", err)
		}
		n, crc, err := readAllCRC(r)
		r.Close()
		down := time.Since(start)
		downPeak := h.Stop()
		downRSS := h.RSS()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if n != size || crc != src.crc {
			t.Fatalf("read %d bytes crc %08x, want %d bytes crc %08x", n, crc, size, src.crc)
		}
		t.Logf("%d MiB: upload %v (peak heap +%.0f MiB, RSS +%.0f MiB), download %v (peak heap +%.0f MiB, RSS +%.0f MiB)",
			size>>20, up.Round(time.Millisecond), upPeak, upRSS, down.Round(time.Millisecond), downPeak, downRSS)
		if upPeak > maxHeapMiB || downPeak > maxHeapMiB {
			t.Errorf("peak heap above %d MiB for a %d MiB object: upload %.0f, download %.0f",
				maxHeapMiB, size>>20, upPeak, downPeak)
		}
		if upRSS > maxHeapMiB || downRSS > maxHeapMiB {
			t.Errorf("peak RSS grew more than %d MiB for a %d MiB object: upload %.0f, download %.0f",
				maxHeapMiB, size>>20, upRSS, downRSS)
		}
		if err := p.store.DeleteObject(ctx, bucket, key); err != nil {
			t.Error(err)
		}
	})
}

func TestListing(t *testing.T) {
	const many = 1100 // above the 1000-key page of S3, GCS and Azure list calls
	forEach(t, func(t *testing.T, p *provider) {
		ctx := context.Background()
		pre := testPrefix(t)
		var want []string
		for i := range many {
			want = append(want, fmt.Sprintf("%smany/k%05d", pre, i))
		}
		for _, d := range []string{"a", "b", "c"} {
			want = append(want, pre+"dirs/"+d+"/x", pre+"dirs/"+d+"/y/z")
		}
		want = append(want, pre+"top")
		keys := make(chan string)
		errs := make(chan error, len(want))
		var wg sync.WaitGroup
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range keys {
					if err := p.store.PutObject(ctx, bucket, k, strings.NewReader(k)); err != nil {
						errs <- err
					}
				}
			}()
		}
		for _, k := range want {
			keys <- k
		}
		close(keys)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}

		got, err := p.store.ListObjects(ctx, bucket, pre)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, "\n") != strings.Join(sorted(want), "\n") {
			t.Fatalf("ListObjects: got %d keys, want %d", len(got), len(want))
		}
		got, _ = p.store.ListObjects(ctx, bucket, pre+"many/k0100")
		if len(got) != 10 {
			t.Errorf("ListObjects(many/k0100) = %d keys, want 10", len(got))
		}
		got, err = p.store.ListObjects(ctx, bucket, pre+"nothing/")
		if err != nil || len(got) != 0 {
			t.Errorf("ListObjects(nothing) = %v, %v", got, err)
		}
	})
}

func sorted(s []string) []string {
	c := append([]string(nil), s...)
	for i := 1; i < len(c); i++ {
		for j := i; j > 0 && c[j] < c[j-1]; j-- {
			c[j], c[j-1] = c[j-1], c[j]
		}
	}
	return c
}

func TestDeleteAndNotFound(t *testing.T) {
	forEach(t, func(t *testing.T, p *provider) {
		ctx := context.Background()
		pre := testPrefix(t)
		if err := p.store.PutObject(ctx, bucket, pre+"d/obj", strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
		if err := p.store.DeleteObject(ctx, bucket, pre+"d/obj"); err != nil {
			t.Fatal(err)
		}
		_, err := p.store.GetObject(ctx, bucket, pre+"d/obj")
		if !errors.Is(err, cloudprovider.ErrNotFound) {
			t.Fatalf("get deleted: %v, want ErrNotFound", err)
		}
		if errors.Is(err, cloudprovider.ErrBucketNotFound) {
			t.Errorf("a missing key matches ErrBucketNotFound: %v", err)
		}
		if !strings.Contains(err.Error(), pre+"d/obj") {
			t.Errorf("error does not name the key: %v", err)
		}
		if err := p.store.DeleteObject(ctx, bucket, pre+"d/obj"); err != nil {
			t.Errorf("deleting a missing key: %v", err)
		}
		if _, err := p.store.GetObject(ctx, bucket, pre+"never"); !errors.Is(err, cloudprovider.ErrNotFound) {
			t.Errorf("get never written: %v", err)
		}
		if keys, err := p.store.ListObjects(ctx, bucket, pre); err != nil || len(keys) != 0 {
			t.Errorf("after delete ListObjects = %v, %v", keys, err)
		}
	})
}

func TestSignedURL(t *testing.T) {
	forEach(t, func(t *testing.T, p *provider) {
		ctx := context.Background()
		pre := testPrefix(t)
		key := pre + "backup-1/backup-1-logs.gz"
		if err := p.store.PutObject(ctx, bucket, key, strings.NewReader("the log")); err != nil {
			t.Fatal(err)
		}
		u, err := p.store.CreateSignedURL(ctx, bucket, key, 5*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != "the log" {
			t.Fatalf("GET signed URL: %d %q", resp.StatusCode, body)
		}
		if p.secret != "" && strings.Contains(u, p.secret) {
			t.Error("the signed URL contains the secret key")
		}
		if _, err := p.store.CreateSignedURL(ctx, bucket, key, 0); err == nil {
			t.Error("zero ttl accepted")
		}
	})
}

func TestInterruptedUpload(t *testing.T) {
	forEach(t, func(t *testing.T, p *provider) {
		ctx := context.Background()
		pre := testPrefix(t)
		t.Run("reader fails", func(t *testing.T) {
			key := pre + "reader-fails"
			err := p.store.PutObject(ctx, bucket, key, io.MultiReader(io.LimitReader(newRandomStream(64<<20, 1), 20<<20), iotest.ErrReader(errors.New("source broke"))))
			if err == nil {
				t.Fatal("PutObject succeeded although its reader failed")
			}
			if _, err := p.store.GetObject(ctx, bucket, key); !errors.Is(err, cloudprovider.ErrNotFound) {
				t.Fatalf("after a failed upload, get = %v, want ErrNotFound", err)
			}
		})
		t.Run("context cancelled", func(t *testing.T) {
			key := pre + "cancelled"
			cctx, cancel := context.WithCancel(ctx)
			src := newRandomStream(64<<20, 2)
			src.onRead = func(total int64) {
				if total > 20<<20 {
					cancel()
				}
			}
			if err := p.store.PutObject(cctx, bucket, key, src); err == nil {
				t.Fatal("PutObject succeeded although its context was cancelled")
			}
			if _, err := p.store.GetObject(ctx, bucket, key); !errors.Is(err, cloudprovider.ErrNotFound) {
				t.Fatalf("after a cancelled upload, get = %v, want ErrNotFound", err)
			}
		})
		if p.server == nil {
			return // no server to lose
		}
		t.Run("server goes away", func(t *testing.T) {
			host := strings.TrimPrefix(p.server.Endpoint, "http://")
			host, _, _ = strings.Cut(host, "/")
			proxy, err := objectstores.NewProxy(host)
			if err != nil {
				t.Fatal(err)
			}
			defer proxy.Close()
			store, err := storeVia(ctx, p, "http://"+proxy.Addr)
			if err != nil {
				t.Fatal(err)
			}
			key := pre + "server-gone"
			src := newRandomStream(96<<20, 3)
			var once sync.Once
			src.onRead = func(total int64) {
				if total > 30<<20 {
					once.Do(proxy.Break)
				}
			}
			tctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
			defer cancel()
			start := time.Now()
			err = store.PutObject(tctx, bucket, key, src)
			if err == nil {
				t.Fatal("PutObject succeeded although the server went away")
			}
			if tctx.Err() != nil {
				t.Fatalf("PutObject only failed at the test's deadline: %v", err)
			}
			t.Logf("failed after %v: %v", time.Since(start).Round(time.Millisecond), err)
			if _, err := p.store.GetObject(ctx, bucket, key); !errors.Is(err, cloudprovider.ErrNotFound) {
				t.Fatalf("after the failed upload, get = %v, want ErrNotFound", err)
			}
		})
	})
}

func TestBadInput(t *testing.T) {
	ctx := context.Background()
	t.Run("unknown provider", func(t *testing.T) {
		_, err := factory.NewObjectStore(ctx, "dropbox", nil)
		if !errors.Is(err, cloudprovider.ErrInvalidConfig) || !strings.Contains(err.Error(), `"dropbox"`) {
			t.Fatalf("got %v", err)
		}
	})
	forEach(t, func(t *testing.T, p *provider) {
		t.Run("unknown config key", func(t *testing.T) {
			config := map[string]string{"s3URL": "x"}
			for k, v := range p.config {
				config[k] = v
			}
			_, err := factory.NewObjectStore(ctx, p.name, config)
			if !errors.Is(err, cloudprovider.ErrInvalidConfig) || !strings.Contains(err.Error(), `"s3URL"`) {
				t.Fatalf("got %v", err)
			}
		})
		t.Run("missing bucket", func(t *testing.T) {
			const missing = "ark-no-such-bucket"
			_, err := p.store.ListObjects(ctx, missing, "")
			if !errors.Is(err, cloudprovider.ErrBucketNotFound) || !strings.Contains(err.Error(), missing) {
				t.Errorf("list: %v", err)
			}
			err = p.store.PutObject(ctx, missing, "k", strings.NewReader("x"))
			if !errors.Is(err, cloudprovider.ErrBucketNotFound) || !strings.Contains(err.Error(), missing) {
				t.Errorf("put: %v", err)
			}
			_, err = p.store.GetObject(ctx, missing, "k")
			if !errors.Is(err, cloudprovider.ErrBucketNotFound) || errors.Is(err, cloudprovider.ErrNotFound) {
				t.Errorf("get: %v", err)
			}
			t.Logf("get from a missing bucket: %v", err)
		})
		t.Run("wrong credentials", func(t *testing.T) {
			const wrongSecret = "WRONGsecretWRONGsecretWRONGsecret0123456789+/="
			switch p.name {
			case "aws":
				t.Setenv("AWS_SECRET_ACCESS_KEY", wrongSecret)
			case "azure":
				t.Setenv("AZURE_STORAGE_KEY", "V1JPTkdzZWNyZXRXUk9OR3NlY3JldFdST05Hc2VjcmV0MDEyMzQ1Njc4OQ==")
			case "gcp":
				// fake-gcs-server checks no credentials: test a broken key file instead, whose
				// content must not leak either.
				f := filepath.Join(t.TempDir(), "key.json")
				if err := os.WriteFile(f, []byte(`{"private_key": "`+wrongSecret+`", `), 0o600); err != nil {
					t.Fatal(err)
				}
				t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", f)
			default:
				t.Skip("no credentials")
			}
			store, err := factory.NewObjectStore(ctx, p.name, p.config)
			if err == nil {
				_, err = store.ListObjects(ctx, bucket, "")
				if err == nil {
					err = store.PutObject(ctx, bucket, "k", strings.NewReader("x"))
				}
			}
			if err == nil {
				t.Fatal("no error with wrong credentials")
			}
			t.Logf("error: %v", err)
			msg := err.Error()
			for _, s := range []string{wrongSecret, p.secret, "V1JPTkdzZWNyZXRXUk9OR3NlY3JldFdST05Hc2VjcmV0MDEyMzQ1Njc4OQ=="} {
				if s != "" && strings.Contains(msg, s) {
					t.Errorf("the error contains a secret: %v", msg)
				}
			}
			if p.name != "gcp" && !errors.Is(err, cloudprovider.ErrAccessDenied) {
				t.Errorf("not ErrAccessDenied: %v", err)
			}
		})
		if p.server == nil {
			return
		}
		t.Run("unreachable endpoint", func(t *testing.T) {
			addr, err := objectstores.UnusedAddr()
			if err != nil {
				t.Fatal(err)
			}
			store, err := storeVia(ctx, p, "http://"+addr)
			if err != nil {
				t.Fatal(err)
			}
			tctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			defer cancel()
			start := time.Now()
			_, err = store.ListObjects(tctx, bucket, "")
			if err == nil {
				t.Fatal("no error")
			}
			if tctx.Err() != nil {
				t.Fatalf("only failed at the test's deadline: %v", err)
			}
			t.Logf("after %v: %v", time.Since(start).Round(time.Millisecond), err)
			if !strings.Contains(err.Error(), addr) && !strings.Contains(err.Error(), "connection refused") {
				t.Errorf("the error names neither the endpoint nor the refusal: %v", err)
			}
			if p.secret != "" && strings.Contains(err.Error(), p.secret) {
				t.Errorf("the error contains the secret: %v", err)
			}
		})
		t.Run("bad endpoint URL", func(t *testing.T) {
			_, err := storeVia(ctx, p, "ftp//nowhere")
			if !errors.Is(err, cloudprovider.ErrInvalidConfig) {
				t.Errorf("got %v", err)
			}
		})
	})
}

// TestPutObjectIfAbsent: the conditional create that claims a backup's name in a
// bucket shared by several clusters. Of concurrent writers exactly one wins, the others
// get ErrAlreadyExists, and the winner's object is untouched.
func TestPutObjectIfAbsent(t *testing.T) {
	forEach(t, func(t *testing.T, p *provider) {
		ctx := context.Background()
		pre := testPrefix(t)
		key := pre + "b/ark-backup.json"
		const writers = 8
		errs := make([]error, writers)
		var wg sync.WaitGroup
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = p.store.PutObjectIfAbsent(ctx, bucket, key, strings.NewReader(fmt.Sprintf("writer %d", i)))
			}()
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil:
				if winner >= 0 {
					t.Fatalf("writers %d and %d both created %s", winner, i, key)
				}
				winner = i
			case !errors.Is(err, cloudprovider.ErrAlreadyExists):
				t.Errorf("writer %d: %v, want an error matching ErrAlreadyExists", i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("no writer created %s: %v", key, errs)
		}
		if got, want := string(get(t, p.store, key)), fmt.Sprintf("writer %d", winner); got != want {
			t.Errorf("after the race: %q, want the winner's %q", got, want)
		}
		// An object written by a plain put is not overwritten either.
		other := pre + "c/ark-backup.json"
		if err := p.store.PutObject(ctx, bucket, other, strings.NewReader("first")); err != nil {
			t.Fatal(err)
		}
		if err := p.store.PutObjectIfAbsent(ctx, bucket, other, strings.NewReader("second")); !errors.Is(err, cloudprovider.ErrAlreadyExists) {
			t.Errorf("over an existing object: %v, want ErrAlreadyExists", err)
		}
		if got := string(get(t, p.store, other)); got != "first" {
			t.Errorf("existing object changed to %q", got)
		}
		// No temporary file or second object is left beside the winner.
		keys, err := p.store.ListObjects(ctx, bucket, pre)
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != 2 {
			t.Errorf("objects after the race: %v, want the two created", keys)
		}
		// Deleted, the key can be created again.
		if err := p.store.DeleteObject(ctx, bucket, key); err != nil {
			t.Fatal(err)
		}
		if err := p.store.PutObjectIfAbsent(ctx, bucket, key, strings.NewReader("again")); err != nil {
			t.Errorf("after delete: %v", err)
		}
	})
}
