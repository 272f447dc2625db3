// Package filesystem implements cloudprovider.ObjectStore on a local directory: a bucket is
// a subdirectory of the root and a key a slash-separated path inside it.
//
// Writes are atomic: an object is written to a temporary file in its final directory,
// fsynced, then renamed into place (and the directory fsynced), so a reader sees the old
// object or the whole new one, never a part. All file access goes through os.Root, so no key
// can reach outside the bucket, whether by "..", an absolute path or a symbolic link; keys with
// such elements are also rejected up front.
//
// Download URLs are HMAC-SHA256-signed, expiring links to the http.Handler returned by
// NewDownloadHandler (or ObjectStore.DownloadHandler), which the ark server mounts at the
// path of Options.DownloadBaseURL.
//
// Config keys: root (default /var/lib/ark), downloadURL (the base URL under which the ark
// server serves the download handler; without it CreateSignedURL fails), signingKeyFile (a
// file holding the HMAC key, at least 32 bytes; without it a random key is made per process,
// which is enough when the same process serves the downloads).
package filesystem

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/heptio/ark/pkg/cloudprovider"
)

const (
	provider = "filesystem"
	// DefaultRoot is the root directory when config.root is not set.
	DefaultRoot = "/var/lib/ark"
	// tempPrefix starts the names of files being written; they are never listed.
	tempPrefix = ".ark-upload-"
	// minKeyLen is the shortest signing key accepted.
	minKeyLen = 32
)

// ConfigKeys are the config keys this provider reads.
var ConfigKeys = []string{"root", "downloadURL", "signingKeyFile"}

// Options configures an ObjectStore and its download handler.
type Options struct {
	// Root is the directory holding the buckets; default DefaultRoot.
	Root string
	// DownloadBaseURL is where the download handler is served, e.g.
	// "https://ark.example.com/download". Required to create signed URLs.
	DownloadBaseURL string
	// SigningKey is the HMAC key of download URLs (at least 32 bytes); empty: a random key.
	SigningKey []byte
	// Now returns the current time (tests); nil: time.Now.
	Now func() time.Time
}

// ObjectStore is the directory implementation of cloudprovider.ObjectStore.
type ObjectStore struct {
	opts Options
}

var _ cloudprovider.ObjectStore = (*ObjectStore)(nil)

// NewFromConfig builds an ObjectStore from Config.backupStorageProvider.config.
func NewFromConfig(_ context.Context, config map[string]string) (*ObjectStore, error) {
	if err := cloudprovider.CheckConfigKeys(provider, config, ConfigKeys...); err != nil {
		return nil, err
	}
	o := Options{Root: config["root"], DownloadBaseURL: config["downloadURL"]}
	if f := config["signingKeyFile"]; f != "" {
		key, err := os.ReadFile(f)
		if err != nil {
			return nil, cloudprovider.ConfigError(provider, "config key \"signingKeyFile\": %v", err)
		}
		o.SigningKey = []byte(strings.TrimSpace(string(key)))
	}
	return New(o)
}

// New builds an ObjectStore; the root directory is created if missing (not the buckets).
func New(o Options) (*ObjectStore, error) {
	if o.Root == "" {
		o.Root = DefaultRoot
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.DownloadBaseURL != "" {
		u, err := url.Parse(o.DownloadBaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
			return nil, cloudprovider.ConfigError(provider, "config key \"downloadURL\": %q is not an http(s) URL without query", o.DownloadBaseURL)
		}
		o.DownloadBaseURL = strings.TrimSuffix(o.DownloadBaseURL, "/")
	}
	if len(o.SigningKey) == 0 {
		o.SigningKey = make([]byte, minKeyLen)
		if _, err := rand.Read(o.SigningKey); err != nil {
			return nil, err
		}
	} else if len(o.SigningKey) < minKeyLen {
		return nil, cloudprovider.ConfigError(provider, "the signing key must be at least %d bytes", minKeyLen)
	}
	if err := os.MkdirAll(o.Root, 0o700); err != nil {
		return nil, cloudprovider.ConfigError(provider, "config key \"root\": %v", err)
	}
	return &ObjectStore{opts: o}, nil
}

// Root returns the root directory.
func (s *ObjectStore) Root() string { return s.opts.Root }

func wrap(op, bucket, key string, err error) error {
	if err == nil {
		return nil
	}
	var ce *cloudprovider.Error
	if errors.As(err, &ce) {
		return err
	}
	if errors.Is(err, fs.ErrNotExist) {
		err = cloudprovider.ErrNotFound
	}
	return &cloudprovider.Error{Provider: provider, Op: op, Bucket: bucket, Key: key, Err: err}
}

func checkBucketName(bucket string) error {
	if bucket == "" || bucket == "." || bucket == ".." || strings.ContainsAny(bucket, "/\\\x00") {
		return fmt.Errorf("invalid bucket name %q: it must be one directory name", bucket)
	}
	return nil
}

// CheckKey returns an error unless key is a relative slash-separated path whose elements
// are all plain names (no "", ".", "..", NUL, nor the temporary-file prefix).
func CheckKey(key string) error {
	if key == "" {
		return errors.New("empty key")
	}
	if strings.HasPrefix(key, "/") {
		return fmt.Errorf("invalid key %q: absolute path", key)
	}
	for _, elem := range strings.Split(key, "/") {
		switch {
		case elem == "" || elem == "." || elem == "..":
			return fmt.Errorf("invalid key %q: empty, \".\" or \"..\" path element", key)
		case strings.ContainsRune(elem, 0):
			return fmt.Errorf("invalid key %q: NUL byte", key)
		case strings.HasPrefix(elem, tempPrefix):
			return fmt.Errorf("invalid key %q: %q is reserved for temporary files", key, tempPrefix)
		}
	}
	return nil
}

// openBucket opens the bucket directory as an os.Root confined to it.
func (s *ObjectStore) openBucket(op, bucket, key string) (*os.Root, error) {
	if err := checkBucketName(bucket); err != nil {
		return nil, &cloudprovider.Error{Provider: provider, Op: op, Bucket: bucket, Key: key, Err: err}
	}
	root, err := os.OpenRoot(s.opts.Root)
	if err != nil {
		return nil, &cloudprovider.Error{Provider: provider, Op: op, Bucket: bucket, Key: key,
			Err: fmt.Errorf("opening root directory %s: %w", s.opts.Root, err)}
	}
	defer root.Close()
	b, err := root.OpenRoot(bucket)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = fmt.Errorf("%w: directory %s does not exist", cloudprovider.ErrBucketNotFound, path.Join(s.opts.Root, bucket))
		}
		return nil, &cloudprovider.Error{Provider: provider, Op: op, Bucket: bucket, Key: key, Err: err}
	}
	return b, nil
}

func (s *ObjectStore) openKey(op, bucket, key string) (*os.Root, error) {
	if err := CheckKey(key); err != nil {
		return nil, &cloudprovider.Error{Provider: provider, Op: op, Bucket: bucket, Key: key, Err: err}
	}
	return s.openBucket(op, bucket, key)
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// PutObject writes body to bucket/key atomically.
func (s *ObjectStore) PutObject(ctx context.Context, bucket, key string, body io.Reader) error {
	return s.put(ctx, bucket, key, body, false)
}

// PutObjectIfAbsent writes body to a temporary file and links it to bucket/key: link(2)
// fails with EEXIST when key exists, so of concurrent writers exactly one wins.
func (s *ObjectStore) PutObjectIfAbsent(ctx context.Context, bucket, key string, body io.Reader) error {
	return s.put(ctx, bucket, key, body, true)
}

// put writes body to a temporary file beside key, then renames it over key, or with
// exclusive links it to key (failing with ErrAlreadyExists if key exists).
func (s *ObjectStore) put(ctx context.Context, bucket, key string, body io.Reader, exclusive bool) (retErr error) {
	b, err := s.openKey("put", bucket, key)
	if err != nil {
		return err
	}
	defer b.Close()
	dir := path.Dir(key)
	if dir != "." {
		if err := b.MkdirAll(dir, 0o755); err != nil {
			return wrap("put", bucket, key, err)
		}
	}
	var f *os.File
	var tmp string
	for range 10 {
		tmp = path.Join(dir, tempPrefix+randomHex(8))
		f, err = b.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return wrap("put", bucket, key, err)
	}
	defer func() {
		if retErr != nil || exclusive {
			_ = f.Close()
			_ = b.Remove(tmp)
		}
	}()
	if _, err := io.Copy(f, ctxReader{ctx, body}); err != nil {
		return wrap("put", bucket, key, err)
	}
	if err := f.Sync(); err != nil {
		return wrap("put", bucket, key, err)
	}
	if err := f.Close(); err != nil {
		return wrap("put", bucket, key, err)
	}
	if err := ctx.Err(); err != nil {
		return wrap("put", bucket, key, err)
	}
	if exclusive {
		if err := b.Link(tmp, key); errors.Is(err, fs.ErrExist) {
			return &cloudprovider.Error{Provider: provider, Op: "put", Bucket: bucket, Key: key, Err: cloudprovider.ErrAlreadyExists}
		} else if err != nil {
			return wrap("put", bucket, key, err)
		}
	} else if err := b.Rename(tmp, key); err != nil {
		return wrap("put", bucket, key, err)
	}
	if d, err := b.Open(dir); err == nil {
		_ = d.Sync() // make the rename or link durable
		_ = d.Close()
	}
	return nil
}

type rootFile struct {
	*os.File
	root *os.Root
}

func (f rootFile) Close() error {
	err := f.File.Close()
	_ = f.root.Close()
	return err
}

// GetObject opens bucket/key.
func (s *ObjectStore) GetObject(ctx context.Context, bucket, key string) (io.ReadCloser, error) {
	b, err := s.openKey("get", bucket, key)
	if err != nil {
		return nil, err
	}
	f, err := openRegular(b, key)
	if err != nil {
		b.Close()
		return nil, wrap("get", bucket, key, err)
	}
	return rootFile{f, b}, nil
}

func openRegular(b *os.Root, key string) (*os.File, error) {
	f, err := b.Open(key)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fs.ErrNotExist
	}
	return f, nil
}

// ListObjects lists every regular file under prefix.
func (s *ObjectStore) ListObjects(ctx context.Context, bucket, prefix string) ([]string, error) {
	b, err := s.openBucket("list", bucket, prefix)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	// Walk only the deepest directory that prefix names entirely.
	start := "."
	if i := strings.LastIndex(prefix, "/"); i > 0 {
		start = prefix[:i]
		if CheckKey(start) != nil {
			return nil, nil // no key can start with such a prefix
		}
	}
	var ret []string
	err = fs.WalkDir(b.FS(), start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == start && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), tempPrefix) {
			return nil
		}
		if d.IsDir() {
			// Skip directories that cannot hold a key under prefix.
			if p != "." && !strings.HasPrefix(p+"/", prefix) && !strings.HasPrefix(prefix, p+"/") {
				return fs.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() && strings.HasPrefix(p, prefix) {
			ret = append(ret, p)
		}
		return nil
	})
	if err != nil {
		return nil, wrap("list", bucket, prefix, err)
	}
	sort.Strings(ret)
	return ret, nil
}

// DeleteObject removes bucket/key and the directories that this leaves empty.
func (s *ObjectStore) DeleteObject(ctx context.Context, bucket, key string) error {
	b, err := s.openKey("delete", bucket, key)
	if err != nil {
		return err
	}
	defer b.Close()
	if st, err := b.Lstat(key); err == nil && st.IsDir() {
		return nil // not an object
	}
	if err := b.Remove(key); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return wrap("delete", bucket, key, err)
	}
	for dir := path.Dir(key); dir != "."; dir = path.Dir(dir) {
		if b.Remove(dir) != nil { // fails when not empty
			break
		}
	}
	return nil
}
