//go:build integration

package conformance

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heptio/ark/pkg/cloudprovider/factory"
)

// TestGCSSignedURLWithKey: with a service-account key in GOOGLE_APPLICATION_CREDENTIALS, the
// gcp provider makes a real V4 signed URL (here for the emulator's host), not the plain media
// URL it falls back to without a key.
func TestGCSSignedURLWithKey(t *testing.T) {
	forEach(t, func(t *testing.T, p *provider) {
		if p.name != "gcp" {
			t.Skip("gcp only")
		}
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		der, _ := x509.MarshalPKCS8PrivateKey(key)
		sa, _ := json.Marshal(map[string]string{
			"type":         "service_account",
			"client_email": "ark@ark-test.iam.gserviceaccount.com",
			"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		})
		f := filepath.Join(t.TempDir(), "sa.json")
		if err := os.WriteFile(f, sa, 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", f)
		ctx := context.Background()
		store, err := factory.NewObjectStore(ctx, "gcp", p.config)
		if err != nil {
			t.Fatal(err)
		}
		obj := testPrefix(t) + "signed"
		if err := store.PutObject(ctx, bucket, obj, strings.NewReader("signed content")); err != nil {
			t.Fatal(err)
		}
		u, err := store.CreateSignedURL(ctx, bucket, obj, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(u, "X-Goog-Signature=") {
			t.Fatalf("not a V4 signed URL: %s", u)
		}
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "signed content" {
			t.Fatalf("GET %s: %d %q", u, resp.StatusCode, body)
		}

		// With publicUrl the V4 signature is made for the public host (V4 signs
		// the host), with its scheme.
		config := map[string]string{"publicUrl": "https://storage.example.com"}
		for k, v := range p.config {
			config[k] = v
		}
		public, err := factory.NewObjectStore(ctx, "gcp", config)
		if err != nil {
			t.Fatal(err)
		}
		u, err = public.CreateSignedURL(ctx, bucket, obj, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(u, "https://storage.example.com/") || !strings.Contains(u, "X-Goog-Signature=") || !strings.Contains(u, "X-Goog-SignedHeaders=host") {
			t.Fatalf("not a V4 URL signed for publicUrl: %s", u)
		}
	})
}
