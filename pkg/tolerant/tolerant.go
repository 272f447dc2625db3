// Package tolerant lists and watches ark objects one item at a time, so that an
// object the typed client cannot decode (a Backup stored with `ttl: 30d` before
// its CRD rejected that, a field of the wrong type) is reported and skipped
// instead of failing the whole list: with the typed client one such object
// makes every List fail, the server's informers never sync, and `ark backup
// get` fails for everyone.
//
// Objects are read through the dynamic client (any JSON decodes into
// unstructured) and then decoded into their typed form with the same codec the
// generated clientset uses, item by item.
package tolerant

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/cache"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	arkscheme "github.com/heptio/ark/pkg/generated/clientset/versioned/scheme"
)

// BadObject is an object that was skipped because it cannot be decoded.
type BadObject struct {
	// Ref names the object (kind, namespace, name, uid, resourceVersion), as
	// far as its metadata could be read.
	Ref corev1.ObjectReference
	// Err is the decoding error, e.g. `time: unknown unit "d" in duration "30d"`.
	Err error
}

// Error says which object is unreadable and why.
func (b BadObject) Error() string {
	return fmt.Sprintf("%s %s/%s cannot be read and is skipped: %v (fix it with kubectl edit or delete it)",
		b.Ref.Kind, b.Ref.Namespace, b.Ref.Name, b.Err)
}

// Report is told of every skipped object (the server logs it and records an
// Event on it). It may be called from several goroutines.
type Report func(BadObject)

// decoder is the codec of the generated clientset: the typed client decodes
// exactly like this.
var decoder = arkscheme.Codecs.UniversalDeserializer()

// Decode turns one unstructured ark object into its typed form T (a pointer
// such as *arkv1.Backup). The error is a BadObject.
func Decode[T runtime.Object](u *unstructured.Unstructured) (T, error) {
	var zero T
	data, err := u.MarshalJSON()
	if err == nil {
		var obj runtime.Object
		if obj, _, err = decoder.Decode(data, nil, nil); err == nil {
			if t, ok := obj.(T); ok {
				return t, nil
			}
			err = fmt.Errorf("decoded a %T, want %T", obj, zero)
		}
	}
	return zero, BadObject{Ref: refOf(u), Err: err}
}

func refOf(u *unstructured.Unstructured) corev1.ObjectReference {
	return corev1.ObjectReference{
		APIVersion:      u.GetAPIVersion(),
		Kind:            u.GetKind(),
		Namespace:       u.GetNamespace(),
		Name:            u.GetName(),
		UID:             u.GetUID(),
		ResourceVersion: u.GetResourceVersion(),
	}
}

// Resource is the plural resource name of an ark kind, e.g. "backups".
func Resource(kind string) schema.GroupVersionResource {
	plural := map[string]string{"Backup": "backups", "Restore": "restores", "Schedule": "schedules", "Config": "configs", "DownloadRequest": "downloadrequests", "DeleteBackupRequest": "deletebackuprequests", "ServerStatusRequest": "serverstatusrequests", "BackupVerificationRequest": "backupverificationrequests"}[kind]
	return arkv1.SchemeGroupVersion.WithResource(plural)
}

// List lists the objects of one resource page by page (as the API server
// pages them) and decodes each; those that cannot be decoded are returned
// apart, in bad.
func List[T runtime.Object](ctx context.Context, client dynamic.ResourceInterface, opts metav1.ListOptions) (items []T, bad []BadObject, err error) {
	for {
		list, err := client.List(ctx, opts)
		if err != nil {
			return nil, nil, err
		}
		for i := range list.Items {
			obj, err := Decode[T](&list.Items[i])
			if err != nil {
				bad = append(bad, err.(BadObject))
				continue
			}
			items = append(items, obj)
		}
		if list.GetContinue() == "" {
			return items, bad, nil
		}
		opts.Continue = list.GetContinue()
	}
}

// Get reads one object; an undecodable one is a BadObject error.
func Get[T runtime.Object](ctx context.Context, client dynamic.ResourceInterface, name string) (T, error) {
	u, err := client.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		var zero T
		return zero, err
	}
	return Decode[T](u)
}

// NewListWatch is a ListerWatcher of typed T objects over client that skips
// and reports undecodable objects. A watch event that turns a good object into
// a bad one is dropped (the cache keeps the last good version: it still
// exists, and forgetting it would look like a deletion); a bad object's
// deletion is passed on with its metadata so that the cache forgets it.
func NewListWatch[T runtime.Object](client dynamic.ResourceInterface, report Report) *cache.ListWatch {
	seen := newReportOnce(report)
	return &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			list, err := client.List(ctx, opts)
			if err != nil {
				return nil, err
			}
			out := &metav1.List{ListMeta: metav1.ListMeta{
				ResourceVersion:    list.GetResourceVersion(),
				Continue:           list.GetContinue(),
				RemainingItemCount: list.GetRemainingItemCount(),
			}}
			for i := range list.Items {
				obj, err := Decode[T](&list.Items[i])
				if err != nil {
					seen.add(err.(BadObject))
					continue
				}
				out.Items = append(out.Items, runtime.RawExtension{Object: obj})
			}
			return out, nil
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			w, err := client.Watch(ctx, opts)
			if err != nil {
				return nil, err
			}
			return watch.Filter(w, func(in watch.Event) (watch.Event, bool) {
				u, ok := in.Object.(*unstructured.Unstructured)
				if !ok || in.Type == watch.Error {
					return in, true
				}
				obj, err := Decode[T](u)
				if err == nil {
					return watch.Event{Type: in.Type, Object: obj}, true
				}
				if in.Type == watch.Deleted {
					if stub, err := stubOf(u); err == nil {
						return watch.Event{Type: in.Type, Object: stub}, true
					}
				}
				seen.add(err.(BadObject))
				return in, false
			}), nil
		},
	}
}

// stubOf is an empty typed object carrying u's metadata, enough for a cache
// to find and forget it.
func stubOf(u *unstructured.Unstructured) (runtime.Object, error) {
	obj, err := arkscheme.Scheme.New(u.GroupVersionKind())
	if err != nil {
		return nil, err
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	m.SetNamespace(u.GetNamespace())
	m.SetName(u.GetName())
	m.SetUID(u.GetUID())
	m.SetResourceVersion(u.GetResourceVersion())
	return obj, nil
}

// NewInformer is a shared informer of T (with the namespace index the
// generated listers need) over one resource of client in namespace, fed by
// NewListWatch.
func NewInformer[T runtime.Object](client dynamic.Interface, resource schema.GroupVersionResource, namespace string, resync time.Duration, report Report) cache.SharedIndexInformer {
	var zero T
	example := reflect.New(reflect.TypeOf(zero).Elem()).Interface().(T)
	lw := cache.ToListWatcherWithWatchListSemantics(NewListWatch[T](client.Resource(resource).Namespace(namespace), report), client)
	return cache.NewSharedIndexInformer(lw, example, resync, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
}

// reportOnce reports each version of a bad object once: an informer lists
// again after every broken watch, and one line per version is enough.
type reportOnce struct {
	report Report
	mu     sync.Mutex
	seen   map[types.UID]string
}

func newReportOnce(r Report) *reportOnce {
	return &reportOnce{report: r, seen: map[types.UID]string{}}
}

func (r *reportOnce) add(b BadObject) {
	if r.report == nil {
		return
	}
	r.mu.Lock()
	if b.Ref.UID != "" && r.seen[b.Ref.UID] == b.Ref.ResourceVersion {
		r.mu.Unlock()
		return
	}
	r.seen[b.Ref.UID] = b.Ref.ResourceVersion
	r.mu.Unlock()
	r.report(b)
}
