package aws

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/heptio/ark/pkg/cloudprovider"
)

func TestConfig(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		config map[string]string
		want   string // substring of the error; "" for success
	}{
		{map[string]string{"region": "us-east-1"}, ""},
		{map[string]string{"s3Url": "http://127.0.0.1:9000", "s3ForcePathStyle": "true", "prefix": "a"}, ""},
		{map[string]string{}, `"region" is required`},
		{map[string]string{"region": "x", "s3ForcePathStyle": "yes please"}, "not a boolean"},
		{map[string]string{"region": "x", "s3url": "http://x"}, `unknown config key(s) "s3url"`},
		{map[string]string{"region": "x", "s3Url": "minio:9000"}, "scheme must be http or https"},
	} {
		t.Setenv("AWS_ACCESS_KEY_ID", "id")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
		_, err := NewFromConfig(ctx, tc.config)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: %v", tc.config, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, cloudprovider.ErrInvalidConfig)):
			t.Errorf("%v: got %v, want an ErrInvalidConfig with %q", tc.config, err, tc.want)
		}
	}
}

// TestKMSKeyIsSent checks the SSE-KMS headers against a stub S3 endpoint.
func TestKMSKeyIsSent(t *testing.T) {
	var mu sync.Mutex
	var headers []http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		headers = append(headers, r.Header.Clone())
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	for _, kms := range []string{"", "arn:aws:kms:us-east-1:1:key/abc"} {
		headers = nil
		s, err := New(context.Background(), Options{
			Region: "us-east-1", Endpoint: srv.URL, ForcePathStyle: true, KMSKeyID: kms,
			Credentials: credentials.NewStaticCredentialsProvider("id", "secret", ""),
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.PutObject(context.Background(), "b", "k", strings.NewReader("data")); err != nil {
			t.Fatal(err)
		}
		if len(headers) != 1 {
			t.Fatalf("%d requests", len(headers))
		}
		h := headers[0]
		if kms == "" {
			if h.Get("X-Amz-Server-Side-Encryption") != "" {
				t.Errorf("SSE header sent without kmsKeyId")
			}
			continue
		}
		if h.Get("X-Amz-Server-Side-Encryption") != "aws:kms" || h.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id") != kms {
			t.Errorf("SSE-KMS headers: %q %q", h.Get("X-Amz-Server-Side-Encryption"), h.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"))
		}
	}
}
