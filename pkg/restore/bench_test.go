package restore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// discardClient accepts every create and finds nothing: the engine's own cost.
type discardClient struct{ dynamic.Interface }

func (discardClient) Resource(gvr schema.GroupVersionResource) dynamic.NamespaceableResourceInterface {
	return discardResource{gvr: gvr}
}

type discardResource struct {
	dynamic.NamespaceableResourceInterface
	gvr schema.GroupVersionResource
}

func (r discardResource) Namespace(string) dynamic.ResourceInterface { return r }

func (r discardResource) Create(_ context.Context, obj *unstructured.Unstructured, _ metav1.CreateOptions, _ ...string) (*unstructured.Unstructured, error) {
	return obj, nil
}

func (r discardResource) Get(_ context.Context, name string, _ metav1.GetOptions, _ ...string) (*unstructured.Unstructured, error) {
	return nil, apierrors.NewNotFound(r.gvr.GroupResource(), name)
}

// BenchmarkEngine10kConfigMaps measures the engine alone (extraction,
// decoding, cleaning, logging) on 10,000 ~1 KB ConfigMaps, with creates that
// cost nothing.
func BenchmarkEngine10kConfigMaps(b *testing.B) {
	var entries []tarEntry
	value := strings.Repeat("x", 900)
	for i := range 10000 {
		o := obj("v1", "ConfigMap", "src", fmt.Sprintf("cm-%05d", i), map[string]any{"data": map[string]any{"value": value}})
		entries = append(entries, item(b, "configmaps", o))
	}
	contents := makeTarball(b, entries...)
	env := &testEnv{disc: &fakeDiscoveryClient{}}
	for _, r := range standardResources {
		env.disc.add(r.gvr.GroupVersion(), metav1.APIResource{Name: r.gvr.Resource, Kind: r.kind, Namespaced: r.namespaced})
	}
	r := NewRestorer(discoveryHelper(env.disc), discardClient{}, Options{TempDir: b.TempDir()})
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		res, err := r.Restore(quietContext(), newRestore("bench", nil), nil, bytes.NewReader(contents), io.Discard, nil)
		if err != nil || res.Restored != 10000 {
			b.Fatalf("%v %+v", err, res)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/10000, "µs/item")
}
