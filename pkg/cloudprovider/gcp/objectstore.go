// Package gcp implements cloudprovider.ObjectStore on Google Cloud Storage with
// cloud.google.com/go/storage.
//
// Credentials: Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS naming a
// service-account key file, or the metadata server).
//
// Config keys: storageEndpoint (optional) points the client at another endpoint, e.g.
// fake-gcs-server at "http://127.0.0.1:4443". An http:// endpoint is taken to be an emulator:
// the client sends no credentials (Google credentials are never sent in clear text).
//
// Signed URLs: when GOOGLE_APPLICATION_CREDENTIALS names a service-account key, the URL is
// a V4 signed URL made with that key (for an emulator, against its host). Without a key file,
// on GCS the library signs through the IAM signBlob API; with an http:// emulator and no key,
// there is nothing to sign with, so the URL is the object's plain media URL
// (<endpoint>/download/storage/v1/b/<bucket>/o/<key>?alt=media), which emulators serve without
// authentication. That last form is for tests only: it grants nothing on real GCS.
package gcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"github.com/heptio/ark/pkg/cloudprovider"
)

const provider = "gcp"

// chunkSize is the size of each resumable-upload request: the Writer holds one such buffer,
// so an upload uses about that much memory whatever the object size.
const chunkSize = 8 << 20

// ConfigKeys are the config keys this provider reads.
var ConfigKeys = []string{"storageEndpoint"}

// Options configures an ObjectStore.
type Options struct {
	// Endpoint of the storage server, e.g. http://127.0.0.1:4443; empty for GCS.
	Endpoint string
	// CredentialsFile is a service-account key file; empty uses GOOGLE_APPLICATION_CREDENTIALS.
	CredentialsFile string
}

// ObjectStore is the GCS implementation of cloudprovider.ObjectStore.
type ObjectStore struct {
	client   *storage.Client
	endpoint string // set for an emulator
	emulator bool
	signer   *serviceAccountKey
}

var _ cloudprovider.ObjectStore = (*ObjectStore)(nil)

type serviceAccountKey struct {
	ClientEmail string `json:"client_email"`
	PrivateKey  string `json:"private_key"`
}

// NewFromConfig builds an ObjectStore from Config.backupStorageProvider.config.
func NewFromConfig(ctx context.Context, config map[string]string) (*ObjectStore, error) {
	if err := cloudprovider.CheckConfigKeys(provider, config, ConfigKeys...); err != nil {
		return nil, err
	}
	return New(ctx, Options{Endpoint: config["storageEndpoint"]})
}

// New builds an ObjectStore.
func New(ctx context.Context, o Options) (*ObjectStore, error) {
	s := &ObjectStore{}
	credFile := o.CredentialsFile
	if credFile == "" {
		credFile = os.Getenv("GOOGLE_APPLICATION_CREDENTIALS")
	}
	if credFile != "" {
		data, err := os.ReadFile(credFile)
		if err != nil {
			return nil, fmt.Errorf("%s: reading credentials file named by GOOGLE_APPLICATION_CREDENTIALS: %w", provider, err)
		}
		var key serviceAccountKey
		if err := json.Unmarshal(data, &key); err != nil {
			return nil, fmt.Errorf("%s: credentials file %s is not valid JSON", provider, credFile)
		}
		if key.ClientEmail != "" && key.PrivateKey != "" {
			s.signer = &key
		}
	}

	var opts []option.ClientOption
	if o.Endpoint != "" {
		u, err := url.Parse(o.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, cloudprovider.ConfigError(provider, "config key \"storageEndpoint\": %q is not an http(s) URL", o.Endpoint)
		}
		s.endpoint = strings.TrimSuffix(o.Endpoint, "/")
		s.emulator = u.Scheme == "http"
		opts = append(opts, option.WithEndpoint(s.endpoint+"/storage/v1/"), storage.WithJSONReads())
		if s.emulator {
			opts = append(opts, option.WithoutAuthentication())
		}
	}
	if !s.emulator && credFile != "" && o.CredentialsFile != "" {
		opts = append(opts, option.WithAuthCredentialsFile(option.ServiceAccount, credFile))
	}
	client, err := storage.NewClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s: creating storage client: %w", provider, err)
	}
	// Bounded retries: the library would otherwise retry a refused connection until ctx ends.
	client.SetRetry(
		storage.WithMaxAttempts(4),
		storage.WithBackoff(gax.Backoff{Initial: 200 * time.Millisecond, Max: 3 * time.Second, Multiplier: 2}),
	)
	s.client = client
	return s, nil
}

// Close releases the client.
func (s *ObjectStore) Close() error { return s.client.Close() }

func (s *ObjectStore) wrap(op, bucket, key string, err error) error {
	if err == nil {
		return nil
	}
	cause := err
	var gErr *googleapi.Error
	switch {
	case errors.Is(err, cloudprovider.ErrBucketNotFound):
	case errors.Is(err, storage.ErrBucketNotExist):
		cause = cloudprovider.ErrBucketNotFound
	case errors.Is(err, storage.ErrObjectNotExist):
		cause = cloudprovider.ErrNotFound
	case errors.As(err, &gErr) && gErr.Code == http.StatusNotFound && strings.Contains(strings.ToLower(gErr.Message), "bucket"):
		cause = fmt.Errorf("%w: %v", cloudprovider.ErrBucketNotFound, err)
	case errors.As(err, &gErr) && (gErr.Code == http.StatusUnauthorized || gErr.Code == http.StatusForbidden):
		cause = fmt.Errorf("%w: %v", cloudprovider.ErrAccessDenied, err)
	}
	return &cloudprovider.Error{Provider: provider, Op: op, Bucket: bucket, Key: key, Err: cause}
}

// PutObjectIfAbsent uploads body with the precondition ifGenerationMatch=0 (the object
// must not exist); GCS answers 412 Precondition Failed when it does.
func (s *ObjectStore) PutObjectIfAbsent(ctx context.Context, bucket, key string, body io.Reader) error {
	if err := cloudprovider.CheckBucket(provider, "put", bucket); err != nil {
		return err
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := s.client.Bucket(bucket).Object(key).If(storage.Conditions{DoesNotExist: true}).NewWriter(wctx)
	w.ChunkSize = 0 // one request: the body is small
	if _, err := io.Copy(w, body); err != nil {
		cancel()
		_ = w.Close()
		return s.wrap("put", bucket, key, err)
	}
	err := w.Close()
	var gErr *googleapi.Error
	switch {
	case errors.As(err, &gErr) && gErr.Code == http.StatusPreconditionFailed:
		err = fmt.Errorf("%w: %v", cloudprovider.ErrAlreadyExists, err)
	case errors.As(err, &gErr) && gErr.Code == http.StatusNotFound:
		err = fmt.Errorf("%w: %v", cloudprovider.ErrBucketNotFound, err)
	}
	return s.wrap("put", bucket, key, err)
}

// PutObject streams body with a resumable upload in 8 MiB chunks. If body fails, the upload
// is cancelled and no object is created.
func (s *ObjectStore) PutObject(ctx context.Context, bucket, key string, body io.Reader) error {
	if err := cloudprovider.CheckBucket(provider, "put", bucket); err != nil {
		return err
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := s.client.Bucket(bucket).Object(key).NewWriter(wctx)
	w.ChunkSize = chunkSize
	if _, err := io.Copy(w, body); err != nil {
		cancel() // aborts the upload: Close then fails and nothing is committed
		_ = w.Close()
		return s.wrap("put", bucket, key, err)
	}
	err := w.Close()
	var gErr *googleapi.Error
	if errors.As(err, &gErr) && gErr.Code == http.StatusNotFound {
		// An upload needs no existing object: a 404 means the bucket is missing.
		err = fmt.Errorf("%w: %v", cloudprovider.ErrBucketNotFound, err)
	}
	return s.wrap("put", bucket, key, err)
}

// GetObject opens bucket/key.
func (s *ObjectStore) GetObject(ctx context.Context, bucket, key string) (io.ReadCloser, error) {
	if err := cloudprovider.CheckBucket(provider, "get", bucket); err != nil {
		return nil, err
	}
	r, err := s.client.Bucket(bucket).Object(key).NewReader(ctx)
	if errors.Is(err, storage.ErrObjectNotExist) {
		// GCS answers the same 404 for a missing bucket: tell them apart.
		if _, aerr := s.client.Bucket(bucket).Attrs(ctx); errors.Is(aerr, storage.ErrBucketNotExist) {
			err = aerr
		}
	}
	if err != nil {
		return nil, s.wrap("get", bucket, key, err)
	}
	return r, nil
}

// ListObjects lists every key under prefix.
func (s *ObjectStore) ListObjects(ctx context.Context, bucket, prefix string) ([]string, error) {
	if err := cloudprovider.CheckBucket(provider, "list", bucket); err != nil {
		return nil, err
	}
	q := &storage.Query{Prefix: prefix}
	if err := q.SetAttrSelection([]string{"Name"}); err != nil {
		return nil, err
	}
	var ret []string
	it := s.client.Bucket(bucket).Objects(ctx, q)
	for {
		attrs, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, s.wrap("list", bucket, prefix, err)
		}
		ret = append(ret, attrs.Name)
	}
	sort.Strings(ret)
	return ret, nil
}

// DeleteObject deletes bucket/key; a missing key is not an error.
func (s *ObjectStore) DeleteObject(ctx context.Context, bucket, key string) error {
	if err := cloudprovider.CheckBucket(provider, "delete", bucket); err != nil {
		return err
	}
	err := s.client.Bucket(bucket).Object(key).Delete(ctx)
	if errors.Is(err, storage.ErrObjectNotExist) {
		return nil
	}
	return s.wrap("delete", bucket, key, err)
}

// CreateSignedURL returns a URL to GET bucket/key until ttl has passed (see the package doc).
func (s *ObjectStore) CreateSignedURL(ctx context.Context, bucket, key string, ttl time.Duration) (string, error) {
	if err := cloudprovider.CheckBucket(provider, "sign", bucket); err != nil {
		return "", err
	}
	if ttl <= 0 {
		return "", &cloudprovider.Error{Provider: provider, Op: "sign", Bucket: bucket, Key: key,
			Err: fmt.Errorf("ttl must be positive, got %s", ttl)}
	}
	opts := &storage.SignedURLOptions{
		Method:  http.MethodGet,
		Expires: time.Now().Add(ttl),
		Scheme:  storage.SigningSchemeV4,
	}
	if s.endpoint != "" {
		u, _ := url.Parse(s.endpoint)
		opts.Hostname = u.Host
		opts.Insecure = u.Scheme == "http"
	}
	if s.signer != nil {
		opts.GoogleAccessID = s.signer.ClientEmail
		opts.PrivateKey = []byte(s.signer.PrivateKey)
	} else if s.emulator {
		// Nothing to sign with, and the emulator needs no signature: the plain media URL.
		return fmt.Sprintf("%s/download/storage/v1/b/%s/o/%s?alt=media",
			s.endpoint, url.PathEscape(bucket), url.PathEscape(key)), nil
	}
	u, err := s.client.Bucket(bucket).SignedURL(key, opts)
	if err != nil {
		return "", s.wrap("sign", bucket, key, err)
	}
	return u, nil
}
