// Package cloudprovider defines the ObjectStore interface that ark uses to read and write
// backups in object storage, and the errors its implementations return. The implementations
// live in the aws, gcp, azure and filesystem subpackages; package factory chooses one by the
// name given in Config.backupStorageProvider.name.
package cloudprovider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// ObjectStore reads and writes objects in buckets. Keys are slash-separated paths.
// Every method honours ctx: cancelling it aborts the call (an upload in progress is abandoned
// and never becomes visible).
type ObjectStore interface {
	// PutObject streams body, of unknown length, into bucket/key, replacing any object there.
	// Memory use is bounded whatever the size of body. The object becomes visible only once
	// body has been read to EOF and the upload completed: if body returns an error or the
	// upload fails, PutObject returns an error and no partial object is left under key.
	PutObject(ctx context.Context, bucket, key string, body io.Reader) error

	// PutObjectIfAbsent writes body (small: it may be held in memory) into bucket/key only
	// if no object exists there, atomically: of several concurrent callers, from one
	// process or many, exactly one succeeds and the others get an error matching
	// ErrAlreadyExists, the winner's object untouched. It is the store's own conditional
	// create: S3 If-None-Match: *, GCS ifGenerationMatch=0, Azure If-None-Match: *, a
	// hard link on a filesystem (link(2) fails with EEXIST).
	PutObjectIfAbsent(ctx context.Context, bucket, key string, body io.Reader) error

	// GetObject opens bucket/key for reading. The caller must close the reader. A missing
	// key gives an error that matches ErrNotFound.
	GetObject(ctx context.Context, bucket, key string) (io.ReadCloser, error)

	// ListObjects returns every key that starts with prefix (all levels), sorted.
	ListObjects(ctx context.Context, bucket, prefix string) ([]string, error)

	// DeleteObject removes bucket/key. Deleting a key that does not exist is not an error.
	DeleteObject(ctx context.Context, bucket, key string) error

	// CreateSignedURL returns a URL that lets anyone holding it GET bucket/key with plain
	// HTTP until ttl has passed, without other credentials.
	CreateSignedURL(ctx context.Context, bucket, key string, ttl time.Duration) (string, error)
}

// Errors that ObjectStore implementations wrap; check them with errors.Is.
var (
	// ErrNotFound: the object does not exist.
	ErrNotFound = errors.New("object not found")
	// ErrAlreadyExists: a conditional create found an object at the key.
	ErrAlreadyExists = errors.New("object already exists")
	// ErrBucketNotFound: the bucket (S3/GCS bucket, Azure container, filesystem directory)
	// does not exist. It does not match ErrNotFound, so that a missing bucket is never
	// mistaken for an empty one.
	ErrBucketNotFound = errors.New("bucket not found")
	// ErrAccessDenied: the credentials were refused or lack permission.
	ErrAccessDenied = errors.New("access denied (check the provider's credentials)")
	// ErrInvalidConfig: the provider name or its config is wrong.
	ErrInvalidConfig = errors.New("invalid object store config")
)

// Error is the error ObjectStore implementations return: it names the provider, the
// operation and the object, and wraps the cause (one of the errors above when it applies).
// It never contains credentials.
type Error struct {
	Provider string // aws, gcp, azure, filesystem
	Op       string // put, get, list, delete, sign
	Bucket   string
	Key      string
	Err      error
}

func (e *Error) Error() string {
	target := e.Bucket
	if e.Key != "" {
		target += "/" + e.Key
	}
	return fmt.Sprintf("%s: %s %q: %v", e.Provider, e.Op, target, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ConfigError returns an error matching ErrInvalidConfig for provider.
func ConfigError(provider, format string, args ...any) error {
	return fmt.Errorf("%s: %w: %s", provider, ErrInvalidConfig, fmt.Sprintf(format, args...))
}
