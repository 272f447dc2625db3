// Package download fetches a backup's or restore's file through a
// DownloadRequest: the server answers with a short-lived URL, so the client
// never needs credentials for the bucket.
package download

import (
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/encryption"
	arkclient "github.com/heptio/ark/pkg/generated/clientset/versioned"
	"github.com/heptio/ark/pkg/redact"
)

// TLSOptions are the flags of the downloading commands for the TLS of the
// object store's download URL (not of the Kubernetes API server).
type TLSOptions struct {
	// InsecureSkipVerify accepts any certificate of the store.
	InsecureSkipVerify bool
	// CACert is a PEM file of the CAs that sign the store's certificate, added
	// to the system's.
	CACert string
}

// BindFlags adds --insecure-skip-tls-verify and --cacert.
func (o *TLSOptions) BindFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.InsecureSkipVerify, "insecure-skip-tls-verify", false, "Do not verify the TLS certificate of the object store the file is downloaded from (its download URL, not the Kubernetes API server).")
	fs.StringVar(&o.CACert, "cacert", "", "A PEM file of CA certificates to trust, besides the system's, for the object store the file is downloaded from (e.g. a self-signed MinIO).")
}

// httpClient is the client for the download URL.
func (o *TLSOptions) httpClient() (*http.Client, error) {
	if o == nil || (!o.InsecureSkipVerify && o.CACert == "") {
		return http.DefaultClient, nil
	}
	cfg := &tls.Config{InsecureSkipVerify: o.InsecureSkipVerify} //nolint:gosec // asked for by --insecure-skip-tls-verify
	if o.CACert != "" {
		pem, err := os.ReadFile(o.CACert)
		if err != nil {
			return nil, fmt.Errorf("--cacert: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--cacert: %s holds no PEM certificate", o.CACert)
		}
		cfg.RootCAs = pool
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = cfg
	return &http.Client{Transport: transport}, nil
}

// Option changes how Stream downloads.
type Option func(*streamOptions)

type streamOptions struct {
	tls *TLSOptions
	raw bool
}

// WithTLS downloads with the TLS settings of the command's flags.
func WithTLS(o *TLSOptions) Option { return func(s *streamOptions) { s.tls = o } }

// Raw downloads the file as stored in the bucket: encrypted, for a backup with client-side
// encryption. Without it, Stream gives the plaintext: the request carries a key made for it
// (an age X25519 recipient) and the server encrypts the file for that key alone.
func Raw() Option { return func(s *streamOptions) { s.raw = true } }

// what names the file of kind for messages: "log of backup b1".
func what(kind arkv1.DownloadTargetKind, name string) string {
	switch kind {
	case arkv1.DownloadTargetKindBackupLog:
		return fmt.Sprintf("log of backup %q", name)
	case arkv1.DownloadTargetKindBackupContents:
		return fmt.Sprintf("tarball of backup %q", name)
	case arkv1.DownloadTargetKindRestoreLog:
		return fmt.Sprintf("log of restore %q", name)
	case arkv1.DownloadTargetKindRestoreResults:
		return fmt.Sprintf("results of restore %q", name)
	case arkv1.DownloadTargetKindBackupResourceList:
		return fmt.Sprintf("resource list of backup %q", name)
	}
	return fmt.Sprintf("%s of %q", kind, name)
}

// ErrNotFound is matched (errors.Is) by the error of a file the bucket does not hold.
var ErrNotFound = errors.New("the bucket holds no such file")

// notFound is the error of a 404: its own message, and errors.Is(ErrNotFound).
type notFound struct{ msg string }

func (e notFound) Error() string        { return e.msg }
func (e notFound) Is(target error) bool { return target == ErrNotFound }

// Stream asks the server for the file of kind for name and copies it to w,
// gunzipped when gunzip is set. It waits at most timeout for the server's
// answer. Its errors never hold the signed URL nor its query (the signature):
// they name the store's host at most.
func Stream(ctx context.Context, client arkclient.Interface, namespace string, kind arkv1.DownloadTargetKind, name string, w io.Writer, gunzip bool, timeout time.Duration, opts ...Option) error {
	var so streamOptions
	for _, o := range opts {
		o(&so)
	}
	httpClient, err := so.tls.httpClient()
	if err != nil {
		return err
	}
	file := what(kind, name)
	spec := arkv1.DownloadRequestSpec{Target: arkv1.DownloadTarget{Kind: kind, Name: name}}
	var identity *encryption.Identity
	if !so.raw {
		id, recipient, err := encryption.GenerateEphemeral()
		if err != nil {
			return err
		}
		identity, spec.Recipient = &id, recipient
	}
	reqs := client.ArkV1().DownloadRequests(namespace)
	req, err := reqs.Create(ctx, &arkv1.DownloadRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: fmt.Sprintf("%s-%s", name, rand.String(8))},
		Spec:       spec,
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("creating a download request: %w", err)
	}
	defer reqs.Delete(context.WithoutCancel(ctx), req.Name, metav1.DeleteOptions{}) //nolint:errcheck // the server expires it anyway

	deadline := time.Now().Add(timeout)
	for req.Status.Phase != arkv1.DownloadRequestPhaseProcessed {
		if req.Status.Phase == arkv1.DownloadRequestPhaseFailed {
			return fmt.Errorf("the server could not get the %s: %s", file, req.Status.FailureReason)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no ark server answered the download request for the %s within %s: is `ark server` running?", file, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		if req, err = reqs.Get(ctx, req.Name, metav1.GetOptions{}); err != nil {
			return fmt.Errorf("reading the download request: %w", err)
		}
	}
	return fetch(ctx, httpClient, req.Status.DownloadURL, file, w, gunzip, identity)
}

// Fetch GETs the signed URL u of file (for messages, e.g. `log of backup "b1"`)
// into w, gunzipped when gunzip is set. Errors name u's host, never u.
func Fetch(ctx context.Context, httpClient *http.Client, u, file string, w io.Writer, gunzip bool) error {
	return fetch(ctx, httpClient, u, file, w, gunzip, nil)
}

// fetch is Fetch that, given identity, decrypts a file the server encrypted for it.
func fetch(ctx context.Context, httpClient *http.Client, u, file string, w io.Writer, gunzip bool, identity *encryption.Identity) error {
	parsed, err := url.Parse(u)
	if err != nil || parsed.Host == "" {
		return fmt.Errorf("the server answered the download request for the %s with an unusable URL", file)
	}
	host := parsed.Scheme + "://" + parsed.Host
	httpReq, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("downloading the %s from %s: %v", file, host, hideURL(err, u))
	}
	resp, err := httpClient.Do(httpReq)
	if err != nil {
		return fmt.Errorf("downloading the %s from %s: %v (when the server's store address is not reachable from here, set the provider's publicUrl config key: see README, Downloads from outside the cluster)",
			file, host, hideURL(err, u))
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return notFound{fmt.Sprintf("%s not found in the bucket (%s answered 404)", capitalize(file), host)}
	case resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("downloading the %s: %s refused the download URL (%s): it expired, or the server signed it for another address than %s (the provider's publicUrl config key)",
			file, host, resp.Status, host)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("downloading the %s from %s: %s", file, host, resp.Status)
	}
	var r io.Reader = resp.Body
	if identity != nil {
		// A plain file (a backup without encryption) comes as stored.
		isAge, body, err := encryption.Sniff(r)
		if err != nil {
			return fmt.Errorf("downloading the %s from %s: %v", file, host, hideURL(err, u))
		}
		r = body
		if isAge {
			if r, err = encryption.DecryptWith(body, *identity, "the "+file); err != nil {
				return err
			}
		}
	}
	if gunzip {
		gz, err := gzip.NewReader(r)
		if err != nil {
			return fmt.Errorf("the %s is not gzip: %v", file, hideURL(err, u))
		}
		defer gz.Close()
		r = gz
	}
	if _, err := io.Copy(w, r); err != nil {
		return fmt.Errorf("downloading the %s from %s: %v", file, host, hideURL(err, u))
	}
	return nil
}

// hideURL drops the URL from err: a *url.Error is replaced by its cause, any
// copy of u or its query left in the message is cut out, and what remains goes
// through the project's one redaction rule (pkg/redact).
func hideURL(err error, u string) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := err.Error()
	msg = strings.ReplaceAll(msg, u, "<download URL>")
	if i := strings.IndexByte(u, '?'); i >= 0 && i+1 < len(u) {
		msg = strings.ReplaceAll(msg, u[i+1:], "<signature>")
	}
	return redact.Text(msg)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
