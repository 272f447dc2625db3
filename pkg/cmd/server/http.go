package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/heptio/ark/pkg/redact"
)

// readiness is what /readyz reports: ready once the informer caches have
// synced and the bucket has answered. /readyz is unauthenticated, so it says
// only which of these fixed reasons holds; the error behind it goes to the
// log (redacted, as every provider error is).
type readiness struct {
	mu     sync.Mutex
	reason string // why not ready, one of the constants below; "" once ready
}

// The reasons /readyz gives: fixed text, never an error message.
const (
	notReadyStarting = "starting: caches not synced yet"
	notReadyBucket   = "the bucket does not answer (the server's log says why)"
)

func newReadiness() *readiness { return &readiness{reason: notReadyStarting} }

func (r *readiness) set(reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reason = reason
}

func (r *readiness) check() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reason != "" {
		return fmt.Errorf("%s", r.reason)
	}
	return nil
}

// bucketLister is how readiness checks that the bucket answers.
type bucketLister interface {
	ListBackups(ctx context.Context) ([]string, error)
}

// checkBucket marks the server ready when the bucket answers a listing.
func (r *readiness) checkBucket(ctx context.Context, bucket bucketLister) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := bucket.ListBackups(ctx); err != nil {
		r.set(notReadyBucket)
		return redact.Error(err)
	}
	r.set("")
	return nil
}

// newHTTPHandler serves /healthz (the process serves HTTP), /readyz (caches
// synced and bucket reached), /metrics, the filesystem provider's signed
// downloads under downloadPath, and with profiling Go's runtime profiles
// under /debug/pprof/ (net/http/pprof: heap, CPU, goroutines).
func newHTTPHandler(ready *readiness, metrics, downloads http.Handler, profiling bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := ready.check(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	if metrics != nil {
		mux.Handle("/metrics", metrics)
	}
	if downloads != nil {
		mux.Handle(downloadPath+"/", downloads)
	}
	if profiling {
		// The handlers of net/http/pprof, on this mux rather than on
		// http.DefaultServeMux, so that they are served only with --profiling.
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}
