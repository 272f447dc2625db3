//go:build integration

package conformance

import (
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heptio/ark/pkg/cloudprovider"
	"github.com/heptio/ark/pkg/cloudprovider/factory"
	"github.com/heptio/ark/pkg/cloudprovider/filesystem"
	"github.com/heptio/ark/pkg/test/objectstores"
)

const bucket = "ark-conformance"

// provider is one ObjectStore under test.
type provider struct {
	name   string // aws, gcp, azure, filesystem
	server *objectstores.Server
	config map[string]string
	store  cloudprovider.ObjectStore
	secret string // a credential that must never appear in an error
}

var (
	setupOnce sync.Once
	setupErr  error
	providers []*provider
	fsServer  *httptest.Server
	fsRoot    string
)

func wanted() []string {
	all := []string{"aws", "gcp", "azure", "filesystem"}
	if v := os.Getenv("ARK_CONFORMANCE_PROVIDERS"); v != "" {
		return strings.Split(v, ",")
	}
	return all
}

func kindsWanted() []objectstores.Kind {
	var kinds []objectstores.Kind
	for _, n := range wanted() {
		switch n {
		case "aws":
			kinds = append(kinds, objectstores.S3)
		case "gcp":
			kinds = append(kinds, objectstores.GCS)
		case "azure":
			kinds = append(kinds, objectstores.Azure)
		}
	}
	return kinds
}

func TestMain(m *testing.M) {
	code := objectstores.Main(m, kindsWanted()...)
	if fsServer != nil {
		fsServer.Close()
	}
	if fsRoot != "" {
		_ = os.RemoveAll(fsRoot)
	}
	os.Exit(code)
}

func doSetup() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, k := range kindsWanted() {
		srv := objectstores.Servers[k]
		if err := srv.SetEnv(); err != nil {
			return err
		}
		if err := srv.CreateBucket(ctx, bucket); err != nil {
			return err
		}
		name, config, _ := srv.Provider()
		store, err := factory.NewObjectStore(ctx, name, config)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		secret := srv.SecretKey + srv.AccountKey
		providers = append(providers, &provider{name: name, server: srv, config: config, store: store, secret: secret})
	}
	if slices.Contains(wanted(), "filesystem") {
		root, err := os.MkdirTemp("", "ark-conformance-fs-")
		if err != nil {
			return err
		}
		fsRoot = root
		if err := os.Mkdir(filepath.Join(root, bucket), 0o755); err != nil {
			return err
		}
		mux := http.NewServeMux()
		fsServer = httptest.NewServer(mux)
		config := map[string]string{"root": root, "downloadURL": fsServer.URL + "/download"}
		store, err := factory.NewObjectStore(ctx, "filesystem", config)
		if err != nil {
			return err
		}
		mux.Handle("/download/", cloudprovider.Unwrap(store).(*filesystem.ObjectStore).DownloadHandler())
		providers = append(providers, &provider{name: "filesystem", config: config, store: store})
	}
	return nil
}

// forEachB runs f as a sub-benchmark per provider.
func forEachB(b *testing.B, f func(b *testing.B, p *provider)) {
	b.Helper()
	setupOnce.Do(func() { setupErr = doSetup() })
	if setupErr != nil {
		b.Fatalf("setup: %v", setupErr)
	}
	for _, p := range providers {
		b.Run(p.name, func(b *testing.B) { f(b, p) })
	}
}

// forEach runs f as a subtest per provider.
func forEach(t *testing.T, f func(t *testing.T, p *provider)) {
	t.Helper()
	setupOnce.Do(func() { setupErr = doSetup() })
	if setupErr != nil {
		t.Fatalf("setup: %v", setupErr)
	}
	for _, p := range providers {
		t.Run(p.name, func(t *testing.T) { f(t, p) })
	}
}

// testPrefix returns a key prefix unique to this test run.
func testPrefix(t testing.TB) string {
	return fmt.Sprintf("%s-%d/", strings.ReplaceAll(t.Name(), "/", "-"), time.Now().UnixNano())
}

// randomStream yields n pseudo-random bytes, cheaply, and their CRC-32C.
type randomStream struct {
	rng       *rand.ChaCha8
	remaining int64
	crc       uint32
	read      atomic.Int64
	onRead    func(total int64)
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func newRandomStream(n int64, seed byte) *randomStream {
	return &randomStream{rng: rand.NewChaCha8([32]byte{seed}), remaining: n}
}

func (r *randomStream) Read(p []byte) (int, error) {
	if r.remaining <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.remaining {
		p = p[:r.remaining]
	}
	n, _ := r.rng.Read(p)
	r.crc = crc32.Update(r.crc, castagnoli, p[:n])
	r.remaining -= int64(n)
	total := r.read.Add(int64(n))
	if r.onRead != nil {
		r.onRead(total)
	}
	return n, nil
}

// heapSampler records the peak of HeapInuse above the level when it started, and the peak
// resident set size (which also counts buffers outside the Go heap, e.g. azblob's mmap'd
// upload buffers).
type heapSampler struct {
	base    uint64
	rssBase uint64
	peak    atomic.Uint64
	stop    chan struct{}
	done    chan struct{}
}

func startHeapSampler() *heapSampler {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	h := &heapSampler{base: ms.HeapInuse, stop: make(chan struct{}), done: make(chan struct{})}
	// Writing 5 to clear_refs resets the peak RSS (VmHWM) of this process.
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	h.rssBase = procStatus("VmRSS")
	go func() {
		defer close(h.done)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > h.peak.Load() {
				h.peak.Store(ms.HeapInuse)
			}
			select {
			case <-h.stop:
				return
			case <-t.C:
			}
		}
	}()
	return h
}

// Stop returns the peak heap in use above the starting level, in MiB.
func (h *heapSampler) Stop() float64 {
	close(h.stop)
	<-h.done
	peak := h.peak.Load()
	if peak < h.base {
		return 0
	}
	return float64(peak-h.base) / (1 << 20)
}

// RSS returns the peak resident set size above the starting level, in MiB (after Stop).
func (h *heapSampler) RSS() float64 {
	peak := procStatus("VmHWM")
	if peak < h.rssBase {
		return 0
	}
	return float64(peak-h.rssBase) / (1 << 20)
}

// procStatus returns a "kB" field of /proc/self/status, in bytes (0 if unavailable).
func procStatus(field string) uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			var kb uint64
			fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb)
			return kb << 10
		}
	}
	return 0
}

// readAllCRC reads r to the end and returns its length and CRC-32C.
func readAllCRC(r io.Reader) (int64, uint32, error) {
	buf := make([]byte, 256<<10)
	var n int64
	var crc uint32
	for {
		m, err := r.Read(buf)
		crc = crc32.Update(crc, castagnoli, buf[:m])
		n += int64(m)
		if err == io.EOF {
			return n, crc, nil
		}
		if err != nil {
			return n, crc, err
		}
	}
}

// storeVia builds a store of p that reaches its server through endpoint instead.
func storeVia(ctx context.Context, p *provider, endpoint string) (cloudprovider.ObjectStore, error) {
	config := map[string]string{}
	for k, v := range p.config {
		config[k] = v
	}
	switch p.name {
	case "aws":
		config["s3Url"] = endpoint
	case "gcp":
		config["storageEndpoint"] = endpoint
	case "azure":
		config["storageEndpoint"] = endpoint + "/" + p.server.Account
	}
	return factory.NewObjectStore(ctx, p.name, config)
}
