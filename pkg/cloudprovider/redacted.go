package cloudprovider

import (
	"context"
	"io"
	"time"

	"github.com/heptio/ark/pkg/redact"
)

// Redacted returns s with every error it returns, including those of reading
// an object, passed through redact.Error: the SDKs quote request URLs in their
// errors, and those carry SAS signatures and pre-signed query strings. It is
// applied once, where a store leaves package factory, so that nothing that
// reaches a log, a status, an Event or /readyz holds a credential. Errors
// still match the sentinel errors of this package with errors.Is. Signed URLs
// themselves are returned as they are: they are the answer of a
// DownloadRequest, readable only by who may read that request.
func Redacted(s ObjectStore) ObjectStore {
	if s == nil {
		return nil
	}
	if _, ok := s.(redacted); ok {
		return s
	}
	return redacted{s}
}

// Unwrap returns the store Redacted wrapped (s itself otherwise), e.g. to
// reach the filesystem provider's download handler.
func Unwrap(s ObjectStore) ObjectStore {
	if r, ok := s.(redacted); ok {
		return r.s
	}
	return s
}

type redacted struct{ s ObjectStore }

func (r redacted) PutObject(ctx context.Context, bucket, key string, body io.Reader) error {
	return redact.Error(r.s.PutObject(ctx, bucket, key, body))
}

func (r redacted) PutObjectIfAbsent(ctx context.Context, bucket, key string, body io.Reader) error {
	return redact.Error(r.s.PutObjectIfAbsent(ctx, bucket, key, body))
}

func (r redacted) GetObject(ctx context.Context, bucket, key string) (io.ReadCloser, error) {
	rc, err := r.s.GetObject(ctx, bucket, key)
	if err != nil {
		return nil, redact.Error(err)
	}
	return redactedReader{rc}, nil
}

func (r redacted) ListObjects(ctx context.Context, bucket, prefix string) ([]string, error) {
	k, err := r.s.ListObjects(ctx, bucket, prefix)
	return k, redact.Error(err)
}

func (r redacted) DeleteObject(ctx context.Context, bucket, key string) error {
	return redact.Error(r.s.DeleteObject(ctx, bucket, key))
}

func (r redacted) CreateSignedURL(ctx context.Context, bucket, key string, ttl time.Duration) (string, error) {
	u, err := r.s.CreateSignedURL(ctx, bucket, key, ttl)
	return u, redact.Error(err)
}

// redactedReader redacts the errors of a body read mid-stream (a reset
// connection is reported with the request's URL).
type redactedReader struct{ rc io.ReadCloser }

func (r redactedReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	if err == io.EOF || err == nil {
		return n, err
	}
	return n, redact.Error(err)
}

func (r redactedReader) Close() error { return redact.Error(r.rc.Close()) }
