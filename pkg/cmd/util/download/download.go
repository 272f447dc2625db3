// Package download fetches a backup's or restore's file through a
// DownloadRequest: the server answers with a short-lived URL, so the client
// never needs credentials for the bucket.
package download

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	arkclient "github.com/heptio/ark/pkg/generated/clientset/versioned"
)

// ErrNotFound is matched (errors.Is) by the error of a file the bucket does not hold.
var ErrNotFound = errors.New("the bucket holds no such file")

// Stream asks the server for the file of kind for name and copies it to w,
// gunzipped when gunzip is set. It waits at most timeout for the server's answer.
func Stream(ctx context.Context, client arkclient.Interface, namespace string, kind arkv1.DownloadTargetKind, name string, w io.Writer, gunzip bool, timeout time.Duration) error {
	reqs := client.ArkV1().DownloadRequests(namespace)
	req, err := reqs.Create(ctx, &arkv1.DownloadRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: fmt.Sprintf("%s-%s", name, rand.String(8))},
		Spec:       arkv1.DownloadRequestSpec{Target: arkv1.DownloadTarget{Kind: kind, Name: name}},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("creating a download request: %w", err)
	}
	defer reqs.Delete(context.WithoutCancel(ctx), req.Name, metav1.DeleteOptions{}) //nolint:errcheck // the server expires it anyway

	deadline := time.Now().Add(timeout)
	for req.Status.Phase != arkv1.DownloadRequestPhaseProcessed {
		if req.Status.Phase == arkv1.DownloadRequestPhaseFailed {
			return fmt.Errorf("the server could not get the %s of %q: %s", kind, name, req.Status.FailureReason)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no ark server answered the download request for the %s of %q within %s: is `ark server` running?", kind, name, timeout)
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

	httpReq, err := http.NewRequestWithContext(ctx, http.MethodGet, req.Status.DownloadURL, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(httpReq)
	if err != nil {
		return fmt.Errorf("downloading the %s of %q: %w", kind, name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return fmt.Errorf("the %s of %q: %w", kind, name, ErrNotFound)
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("downloading the %s of %q: %s: %s", kind, name, resp.Status, body)
	}
	var r io.Reader = resp.Body
	if gunzip {
		gz, err := gzip.NewReader(resp.Body)
		if err != nil {
			return fmt.Errorf("the %s of %q is not gzip: %w", kind, name, err)
		}
		defer gz.Close()
		r = gz
	}
	if _, err := io.Copy(w, r); err != nil {
		return fmt.Errorf("downloading the %s of %q: %w", kind, name, err)
	}
	return nil
}
