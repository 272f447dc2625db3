package server

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type fakeBucket struct{ err error }

func (f fakeBucket) ListBackups(context.Context) ([]string, error) { return nil, f.err }

func TestHealthAndReadiness(t *testing.T) {
	ready := newReadiness()
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ark_backup_attempt_total 0\n")) })
	h := newHTTPHandler(ready, metrics, nil, false)
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec.Code, rec.Body.String()
	}
	steps := []struct {
		name      string
		do        func()
		wantReady int
		wantBody  string
	}{
		{name: "starting", do: func() {}, wantReady: 503, wantBody: "caches not synced"},
		{name: "bucket down", do: func() {
			_ = ready.checkBucket(context.Background(), fakeBucket{errors.New(`Get "http://h/c?sig=s3cret": connection refused`)})
		}, wantReady: 503, wantBody: "bucket does not answer"},
		{name: "bucket up", do: func() { _ = ready.checkBucket(context.Background(), fakeBucket{}) }, wantReady: 200, wantBody: "ok"},
	}
	for _, s := range steps {
		s.do()
		if code, _ := get("/healthz"); code != 200 {
			t.Errorf("%s: /healthz = %d", s.name, code)
		}
		if code, body := get("/readyz"); code != s.wantReady || !strings.Contains(body, s.wantBody) {
			t.Errorf("%s: /readyz = %d %q", s.name, code, body)
		} else if strings.Contains(body, "s3cret") || strings.Contains(body, "refused") {
			t.Errorf("%s: /readyz tells the error: %q", s.name, body)
		}
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "ark_backup_attempt_total") {
		t.Errorf("/metrics = %d %q", code, body)
	}
	if code, _ := get(downloadPath + "/x"); code != 404 {
		t.Errorf("downloads without a filesystem bucket = %d", code)
	}
	if code, _ := get("/debug/pprof/heap"); code != 404 {
		t.Errorf("profiles without --profiling = %d", code)
	}
}

// TestProfiling: with --profiling the runtime profiles are served.
func TestProfiling(t *testing.T) {
	h := newHTTPHandler(newReadiness(), nil, nil, true)
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/goroutine?debug=1"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != 200 || rec.Body.Len() == 0 {
			t.Errorf("%s = %d, %d bytes", path, rec.Code, rec.Body.Len())
		}
	}
}
