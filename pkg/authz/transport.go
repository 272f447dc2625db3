package authz

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/heptio/ark/pkg/format"
)

// createPath matches the path of a create (POST to the collection) of the
// kinds that record their requester, behind any path prefix of the server URL.
var createPath = regexp.MustCompile(`/apis/ark\.heptio\.com/v1/namespaces/[^/]+/(backups|restores|schedules|downloadrequests|deletebackuprequests)$`)

// RecordRequester makes every client built from cfg record its user as the
// requester of each Backup, Restore, Schedule, DownloadRequest and
// DeleteBackupRequest it creates: the JSON body of the create gets the
// requester annotations, filled once per config from a SelfSubjectReview.
// A body that already has them is sent as it is (the admission policy judges
// it). On an API server without SelfSubjectReview (before Kubernetes 1.28)
// objects are created without a requester.
func RecordRequester(cfg *rest.Config) error {
	who, err := kubernetes.NewForConfig(rest.CopyConfig(cfg))
	if err != nil {
		return err
	}
	var once sync.Once
	var me *Requester
	var meErr error
	lookup := func(ctx context.Context) (*Requester, error) {
		once.Do(func() {
			r, err := WhoAmI(ctx, who.AuthenticationV1())
			switch {
			case err == nil:
				me = &r
			case apierrors.IsNotFound(err):
				// No SelfSubjectReview: no requester is recorded.
			default:
				meErr = err
			}
		})
		return me, meErr
	}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return &requesterTransport{next: rt, lookup: lookup}
	})
	return nil
}

type requesterTransport struct {
	next   http.RoundTripper
	lookup func(context.Context) (*Requester, error)
}

func (t *requesterTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodPost || req.Body == nil || !createPath.MatchString(req.URL.Path) ||
		!strings.HasPrefix(req.Header.Get("Content-Type"), "application/json") {
		return t.next.RoundTrip(req)
	}
	me, err := t.lookup(req.Context())
	if err != nil {
		return nil, err
	}
	if me == nil {
		return t.next.RoundTrip(req)
	}
	body, err := io.ReadAll(req.Body)
	_ = req.Body.Close()
	if err != nil {
		return nil, err
	}
	body, err = withRequester(body, *me)
	if err != nil {
		return nil, fmt.Errorf("recording the requester: %w", err)
	}
	out := req.Clone(req.Context())
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	out.ContentLength = int64(len(body))
	out.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return t.next.RoundTrip(out)
}

// withRequester returns the JSON object body with the requester annotations
// of r added, unless it has them.
func withRequester(body []byte, r Requester) ([]byte, error) {
	var obj map[string]any
	if err := json.Unmarshal(body, &obj); err != nil {
		return nil, err
	}
	meta, _ := obj["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		obj["metadata"] = meta
	}
	ann, _ := meta["annotations"].(map[string]any)
	if ann == nil {
		ann = map[string]any{}
		meta["annotations"] = ann
	}
	if _, ok := ann[format.RequesterAnnotation]; ok {
		return body, nil
	}
	ann[format.RequesterAnnotation] = r.Username
	ann[format.RequesterGroupsAnnotation] = strings.Join(r.Groups, ",")
	return json.Marshal(obj)
}
