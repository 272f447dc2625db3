package authz

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/format"
	arkclient "github.com/heptio/ark/pkg/generated/clientset/versioned"
)

func TestRequesterRoundTrip(t *testing.T) {
	b := &arkv1.Backup{}
	if _, ok := RequesterOf(b); ok {
		t.Error("a new backup has a requester")
	}
	want := Requester{Username: "alice", Groups: []string{"team-a", "system:authenticated"}}
	SetRequester(b, want)
	got, ok := RequesterOf(b)
	if !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("RequesterOf = %+v %v, want %+v", got, ok, want)
	}
	s := &arkv1.Schedule{}
	SetRequester(s, want)
	nb := &arkv1.Backup{}
	CopyRequester(nb, s)
	if got, _ := RequesterOf(nb); !reflect.DeepEqual(got, want) {
		t.Errorf("copied %+v", got)
	}
}

// The CLI's client adds the requester, learnt once from a SelfSubjectReview,
// to the creates of ark's kinds, and to nothing else.
func TestRecordRequester(t *testing.T) {
	var reviews atomic.Int32
	var bodies []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/selfsubjectreviews") {
			reviews.Add(1)
			io.WriteString(w, `{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview","status":{"userInfo":{"username":"alice","groups":["team-a","system:authenticated"]}}}`)
			return
		}
		var obj map[string]any
		data, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(data, &obj)
		bodies = append(bodies, obj)
		w.Write(data)
	}))
	defer srv.Close()
	cfg := &rest.Config{Host: srv.URL}
	if err := RecordRequester(cfg); err != nil {
		t.Fatal(err)
	}
	c, err := arkclient.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.ArkV1().Backups("ark").Create(ctx, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "b"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ArkV1().Restores("ark").Create(ctx, &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "r", Annotations: map[string]string{"x": "y"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Someone else's requester is left for the admission policy to refuse.
	forged := &arkv1.DownloadRequest{ObjectMeta: metav1.ObjectMeta{Name: "d"}}
	SetRequester(forged, Requester{Username: "admin"})
	if _, err := c.ArkV1().DownloadRequests("ark").Create(ctx, forged, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ArkV1().Configs("ark").Create(ctx, &arkv1.Config{ObjectMeta: metav1.ObjectMeta{Name: "c"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if reviews.Load() != 1 {
		t.Errorf("%d SelfSubjectReviews, want 1", reviews.Load())
	}
	want := []string{"alice|team-a,system:authenticated", "alice|team-a,system:authenticated", "admin|", "|"}
	for i, b := range bodies {
		ann, _ := b["metadata"].(map[string]any)["annotations"].(map[string]any)
		got := ""
		if ann != nil {
			u, _ := ann[format.RequesterAnnotation].(string)
			g, _ := ann[format.RequesterGroupsAnnotation].(string)
			got = u + "|" + g
		} else {
			got = "|"
		}
		if got != want[i] {
			t.Errorf("create %d: requester %q, want %q", i, got, want[i])
		}
	}
	if ann := bodies[1]["metadata"].(map[string]any)["annotations"].(map[string]any); ann["x"] != "y" {
		t.Errorf("the restore's own annotation is lost: %v", ann)
	}
}
