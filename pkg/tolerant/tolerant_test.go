package tolerant

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/tools/cache"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	arklisters "github.com/heptio/ark/pkg/generated/listers/ark/v1"
)

const ns = "heptio-ark"

func backup(name, ttl string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "ark.heptio.com/v1",
		"kind":       "Backup",
		"metadata":   map[string]any{"name": name, "namespace": ns, "uid": name + "-uid", "resourceVersion": "1"},
		"spec":       map[string]any{"ttl": ttl},
	}}
}

func newClient(objs ...runtime.Object) *dynamicfake.FakeDynamicClient {
	return dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{Resource("Backup"): "BackupList"}, objs...)
}

type recorder struct {
	mu  sync.Mutex
	bad []BadObject
}

func (r *recorder) report(b BadObject) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bad = append(r.bad, b)
}

func (r *recorder) names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, b := range r.bad {
		out = append(out, b.Ref.Name)
	}
	return out
}

func TestListSkipsUndecodable(t *testing.T) {
	client := newClient(backup("good", "24h"), backup("typo", "30d"), backup("other", "1h"))
	items, bad, err := List[*arkv1.Backup](context.Background(), client.Resource(Resource("Backup")).Namespace(ns), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 {
		t.Errorf("got %d good backups, want 2", len(items))
	}
	for _, b := range items {
		if b.Name == "good" && b.Spec.TTL.Duration != 24*time.Hour {
			t.Errorf("good backup ttl = %s, want 24h", b.Spec.TTL.Duration)
		}
	}
	if len(bad) != 1 || bad[0].Ref.Name != "typo" || bad[0].Ref.Kind != "Backup" || !strings.Contains(bad[0].Error(), `unknown unit "d"`) {
		t.Errorf("bad = %v, want the one backup typo with its ttl error", bad)
	}
}

func TestGetReportsUndecodable(t *testing.T) {
	client := newClient(backup("typo", "30d"))
	_, err := Get[*arkv1.Backup](context.Background(), client.Resource(Resource("Backup")).Namespace(ns), "typo")
	if _, ok := err.(BadObject); !ok {
		t.Fatalf("err = %v, want a BadObject", err)
	}
}

func TestInformerSyncsAroundBadObjects(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := newClient(backup("good", "24h"), backup("typo", "30d"))
	res := client.Resource(Resource("Backup")).Namespace(ns)
	rec := &recorder{}
	informer := NewInformer[*arkv1.Backup](client, Resource("Backup"), ns, 0, rec.report)
	lister := arklisters.NewBackupLister(informer.GetIndexer())
	go informer.Run(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), informer.HasSynced) {
		t.Fatal("informer did not sync")
	}
	if _, err := lister.Backups(ns).Get("good"); err != nil {
		t.Errorf("good backup not in the cache: %v", err)
	}
	if _, err := lister.Backups(ns).Get("typo"); err == nil {
		t.Error("undecodable backup is in the cache")
	}

	// Through the watch: a new bad object is skipped and reported, a new good one arrives.
	if _, err := res.Create(ctx, backup("typo2", "2w"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := res.Create(ctx, backup("good2", "1h"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A good object turned bad keeps its last good version in the cache.
	if _, err := res.Update(ctx, backup("good", "1y"), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		_, err := lister.Backups(ns).Get("good2")
		return err == nil && len(rec.names()) >= 3, nil
	}); err != nil {
		t.Fatalf("watch did not deliver good2 and report the bad ones: reported %v", rec.names())
	}
	if b, err := lister.Backups(ns).Get("good"); err != nil || b.Spec.TTL.Duration != 24*time.Hour {
		t.Errorf("good backup after a bad update: %v, %v; want the 24h version", b, err)
	}
	if got := strings.Join(rec.names(), ","); got != "typo,typo2,good" {
		t.Errorf("reported %s, want typo,typo2,good", got)
	}
	// Deleting a bad object is passed on.
	if err := res.Delete(ctx, "good", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		_, err := lister.Backups(ns).Get("good")
		return err != nil, nil
	}); err != nil {
		t.Fatal("deleting an object whose last version was undecodable left it in the cache")
	}
}
