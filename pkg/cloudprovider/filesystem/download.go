package filesystem

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/heptio/ark/pkg/cloudprovider"
)

// Query parameters of a download URL.
const (
	paramExpires   = "expires"
	paramSignature = "signature"
)

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func sign(key []byte, bucket, objectKey string, expires int64) string {
	m := hmac.New(sha256.New, key)
	// NUL cannot occur in a bucket or key, so the fields cannot be shifted into one another.
	fmt.Fprintf(m, "GET\x00%s\x00%s\x00%d", bucket, objectKey, expires)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// CreateSignedURL returns <downloadURL>/<bucket>/<key>?expires=<unix>&signature=<HMAC>.
func (s *ObjectStore) CreateSignedURL(_ context.Context, bucket, key string, ttl time.Duration) (string, error) {
	fail := func(err error) (string, error) {
		return "", &cloudprovider.Error{Provider: provider, Op: "sign", Bucket: bucket, Key: key, Err: err}
	}
	if err := checkBucketName(bucket); err != nil {
		return fail(err)
	}
	if err := CheckKey(key); err != nil {
		return fail(err)
	}
	if ttl <= 0 {
		return fail(fmt.Errorf("ttl must be positive, got %s", ttl))
	}
	if s.opts.DownloadBaseURL == "" {
		return fail(cloudprovider.ConfigError(provider, "config key \"downloadURL\" is not set: it is needed to create download URLs"))
	}
	expires := s.opts.Now().Add(ttl).Unix()
	elems := []string{url.PathEscape(bucket)}
	for _, e := range strings.Split(key, "/") {
		elems = append(elems, url.PathEscape(e))
	}
	q := url.Values{}
	q.Set(paramExpires, strconv.FormatInt(expires, 10))
	q.Set(paramSignature, sign(s.opts.SigningKey, bucket, key, expires))
	return s.opts.DownloadBaseURL + "/" + strings.Join(elems, "/") + "?" + q.Encode(), nil
}

// DownloadHandler returns the handler that serves this store's signed URLs.
func (s *ObjectStore) DownloadHandler() http.Handler {
	return &downloadHandler{store: s, basePath: basePath(s.opts.DownloadBaseURL)}
}

// NewDownloadHandler returns an http.Handler serving the signed URLs made by an ObjectStore
// with the same Root, DownloadBaseURL and SigningKey. Mount it at the path of
// DownloadBaseURL (it expects the full request path, not one stripped of that prefix).
func NewDownloadHandler(o Options) (http.Handler, error) {
	if o.DownloadBaseURL == "" {
		return nil, cloudprovider.ConfigError(provider, "the download handler needs DownloadBaseURL")
	}
	if len(o.SigningKey) == 0 {
		return nil, cloudprovider.ConfigError(provider, "the download handler needs the signing key of the URLs")
	}
	s, err := New(o)
	if err != nil {
		return nil, err
	}
	return s.DownloadHandler(), nil
}

func basePath(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return "/"
	}
	return strings.TrimSuffix(u.EscapedPath(), "/") + "/"
}

type downloadHandler struct {
	store    *ObjectStore
	basePath string
}

var errForbidden = errors.New("invalid or expired download link")

func (h *downloadHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	bucket, key, err := h.parse(r)
	if err != nil {
		// One answer for every failure, so the handler tells nothing about what exists.
		http.Error(w, errForbidden.Error(), http.StatusForbidden)
		return
	}
	b, err := h.store.openKey("get", bucket, key)
	if err != nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	defer b.Close()
	f, err := openRegular(b, key)
	if err != nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", path.Base(key)))
	w.Header().Set("Cache-Control", "private, no-store")
	http.ServeContent(w, r, "", st.ModTime(), f)
}

func (h *downloadHandler) parse(r *http.Request) (bucket, key string, err error) {
	p := r.URL.EscapedPath()
	if !strings.HasPrefix(p, h.basePath) {
		return "", "", errForbidden
	}
	elems := strings.Split(strings.TrimPrefix(p, h.basePath), "/")
	if len(elems) < 2 {
		return "", "", errForbidden
	}
	for i, e := range elems {
		if elems[i], err = url.PathUnescape(e); err != nil {
			return "", "", errForbidden
		}
	}
	bucket, key = elems[0], strings.Join(elems[1:], "/")
	if checkBucketName(bucket) != nil || CheckKey(key) != nil {
		return "", "", errForbidden
	}
	q := r.URL.Query()
	expires, err := strconv.ParseInt(q.Get(paramExpires), 10, 64)
	if err != nil {
		return "", "", errForbidden
	}
	want := sign(h.store.opts.SigningKey, bucket, key, expires)
	if !hmac.Equal([]byte(want), []byte(q.Get(paramSignature))) {
		return "", "", errForbidden
	}
	if h.store.opts.Now().Unix() >= expires {
		return "", "", errForbidden
	}
	return bucket, key, nil
}
