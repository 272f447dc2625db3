package download

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const signature = "X-Amz-Signature=deadbeefcafe&X-Amz-Credential=AKIAEXAMPLE"

// Each failure names the file and the store's host, never the URL's query.
func TestFetchErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/missing":
			http.Error(w, "<Error><Code>NoSuchKey</Code></Error>", http.StatusNotFound)
		case "/expired":
			http.Error(w, "<Error><Code>AccessDenied</Code></Error>", http.StatusForbidden)
		case "/broken":
			http.Error(w, "oops "+r.URL.RawQuery, http.StatusInternalServerError)
		case "/notgzip":
			_, _ = w.Write([]byte("plain"))
		default:
			gz := gzip.NewWriter(w)
			_, _ = gz.Write([]byte("the log"))
			_ = gz.Close()
		}
	}))
	defer srv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	tests := []struct {
		name, url, want string
	}{
		{"404", srv.URL + "/missing?" + signature, `Log of backup "b1" not found in the bucket`},
		{"403", srv.URL + "/expired?" + signature, "refused the download URL (403 Forbidden)"},
		{"500", srv.URL + "/broken?" + signature, "500 Internal Server Error"},
		{"not gzip", srv.URL + "/notgzip?" + signature, "is not gzip"},
		{"unreachable", closed.URL + "/b1-logs.gz?" + signature, "publicUrl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := Fetch(context.Background(), http.DefaultClient, tt.url, what("BackupLog", "b1"), &out, true)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			for _, secret := range []string{"deadbeef", "AKIAEXAMPLE", "X-Amz", tt.url} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error holds %q: %v", secret, err)
				}
			}
		})
	}
	var out bytes.Buffer
	if err := Fetch(context.Background(), http.DefaultClient, srv.URL+"/b1-logs.gz?"+signature, "log", &out, true); err != nil || out.String() != "the log" {
		t.Fatalf("download: %q, %v", out.String(), err)
	}
}

// --cacert trusts a store's self-signed certificate; --insecure-skip-tls-verify any.
func TestTLSOptions(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("tarball")) }))
	defer srv.Close()
	ctx := context.Background()
	var out bytes.Buffer
	if err := Fetch(ctx, http.DefaultClient, srv.URL+"/x?"+signature, "tarball", &out, false); err == nil || strings.Contains(err.Error(), "deadbeef") {
		t.Fatalf("an unknown CA was accepted, or the error leaks: %v", err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	cert := srv.Certificate()
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, o := range []*TLSOptions{{CACert: caFile}, {InsecureSkipVerify: true}} {
		c, err := o.httpClient()
		if err != nil {
			t.Fatal(err)
		}
		out.Reset()
		if err := Fetch(ctx, c, srv.URL+"/x?"+signature, "tarball", &out, false); err != nil || out.String() != "tarball" {
			t.Errorf("%+v: %q, %v", o, out.String(), err)
		}
	}
	if _, err := (&TLSOptions{CACert: filepath.Join(t.TempDir(), "none.pem")}).httpClient(); err == nil {
		t.Error("a missing --cacert file was accepted")
	}
}
