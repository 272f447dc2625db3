package client

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/heptio/ark/pkg/tolerant"
)

// List lists the ark objects of one kind (e.g. "Backup") in the factory's
// namespace that match a label selector, decoding them one by one: objects
// that cannot be decoded come back apart, in bad, so that one bad object
// does not hide the others (see package tolerant).
func List[T any, PT interface {
	*T
	runtime.Object
}](ctx context.Context, f Factory, kind, selector string) (items []T, bad []error, err error) {
	dyn, err := f.DynamicClient()
	if err != nil {
		return nil, nil, err
	}
	objs, badObjs, err := tolerant.List[PT](ctx, dyn.Resource(tolerant.Resource(kind)).Namespace(f.Namespace()), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, nil, err
	}
	for _, o := range objs {
		items = append(items, *o)
	}
	for _, b := range badObjs {
		bad = append(bad, b)
	}
	return items, bad, nil
}

// Get reads one ark object of a kind by name; one that cannot be decoded is an
// error that names it and says why.
func Get[T any, PT interface {
	*T
	runtime.Object
}](ctx context.Context, f Factory, kind, name string) (*T, error) {
	dyn, err := f.DynamicClient()
	if err != nil {
		return nil, err
	}
	obj, err := tolerant.Get[PT](ctx, dyn.Resource(tolerant.Resource(kind)).Namespace(f.Namespace()), name)
	if err != nil {
		return nil, err
	}
	return (*T)(obj), nil
}
