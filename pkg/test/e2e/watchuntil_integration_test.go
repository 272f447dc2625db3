//go:build integration

package e2e

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
)

// watchUntil waits until cond holds for the object name of gvr in namespace,
// watching that one object (as `kubectl wait` does) rather than polling it:
// cond sees each version the API server sends, and the API server does no
// work between two changes. A benchmark polling a Restore every 20 ms cost
// the API server 15% of its CPU at 20,000 objects (the Restore of
// BenchmarkScale maps 500 namespaces), during the restore and not during
// the raw client-go loop it is measured against. A deleted object, ctx done
// or timeout is an error.
func watchUntil(ctx context.Context, dyn dynamic.Interface, gvr schema.GroupVersionResource, namespace, name string, timeout time.Duration, cond func(*unstructured.Unstructured) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := dyn.Resource(gvr).Namespace(namespace)
	selector := fields.OneTermEqualSelector("metadata.name", name).String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = selector
			return client.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = selector
			return client.Watch(ctx, o)
		},
	}
	_, err := watchtools.UntilWithSync(ctx, lw, &unstructured.Unstructured{}, nil, func(ev watch.Event) (bool, error) {
		switch ev.Type {
		case watch.Deleted:
			return false, fmt.Errorf("%s %s/%s was deleted", gvr.Resource, namespace, name)
		case watch.Added, watch.Modified:
			u, ok := ev.Object.(*unstructured.Unstructured)
			if !ok {
				return false, nil
			}
			return cond(u)
		}
		return false, nil
	})
	return err
}

// watchUntilTyped is watchUntil for a typed object: each version is
// converted to a new T before cond sees it.
func watchUntilTyped[T any](ctx context.Context, dyn dynamic.Interface, gvr schema.GroupVersionResource, namespace, name string, timeout time.Duration, cond func(*T) (bool, error)) error {
	return watchUntil(ctx, dyn, gvr, namespace, name, timeout, func(u *unstructured.Unstructured) (bool, error) {
		obj := new(T)
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj); err != nil {
			return false, err
		}
		return cond(obj)
	})
}
