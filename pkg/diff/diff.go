// Package diff compares a backup with the live cluster, object by object:
// objects only in the backup, only in the cluster (within the backup's
// scope), and changed, with the fields that differ. Both sides are cleaned of
// what the API server sets, as a restore cleans an object before creating it
// (restore.CleanObject), so that only what a restore would bring back counts.
//
// It runs in the client with the user's credentials: it reads no more of the
// cluster than the user may, and what the user may not read is reported.
package diff

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/backup"
	"github.com/heptio/ark/pkg/discovery"
	"github.com/heptio/ark/pkg/format"
	"github.com/heptio/ark/pkg/restore"
	"github.com/heptio/ark/pkg/util/collections"
)

// Discovery is what a comparison needs of discovery; *discovery.Helper
// implements it.
type Discovery interface {
	Resources() []discovery.Resource
	ResolveResource(name string) (schema.GroupVersionResource, metav1.APIResource, error)
}

// Field is one field that differs: its path ("data.from",
// "spec.containers[0].image") and its value on each side (absent: nil).
type Field struct {
	Path    string `json:"path"`
	Backup  any    `json:"backup,omitempty"`
	Cluster any    `json:"cluster,omitempty"`
}

// Changed is an object in both, with the fields that differ.
type Changed struct {
	restore.ItemRef
	Fields []Field `json:"fields"`
}

// Report is the comparison of a backup with the cluster. Items are named as
// in the backup (resource directory, namespace, name).
type Report struct {
	Backup        string            `json:"backup"`
	OnlyInBackup  []restore.ItemRef `json:"onlyInBackup"`
	OnlyInCluster []restore.ItemRef `json:"onlyInCluster"`
	Changed       []Changed         `json:"changed"`
	// Unchanged counts the objects equal on both sides.
	Unchanged int `json:"unchanged"`
	// Controlled counts the objects, on either side, that a controller makes
	// again (restore.RecreatedByController: the Pods of a ReplicaSet, the
	// ReplicaSets of a Deployment): a restore skips them, so they are not
	// compared.
	Controlled int `json:"controlled"`
	// Errors are what could not be compared: items of the backup that do not
	// decode, objects or resources the user may not read.
	Errors []string `json:"errors,omitempty"`
}

// Differs says whether the backup and the cluster differ.
func (r *Report) Differs() bool {
	return len(r.OnlyInBackup)+len(r.OnlyInCluster)+len(r.Changed) > 0
}

// Options narrow a comparison. Empty lists mean all.
type Options struct {
	// Namespaces compares only these namespaces (and no cluster-scoped objects).
	Namespaces []string
	// Resources compares only these resources (names as the CLI takes them:
	// "configmaps", "deployments.apps", "cm").
	Resources []string
}

// Compare compares the backup whose spec is spec and whose tarball is arc
// with the cluster behind dyn.
func Compare(ctx context.Context, disc Discovery, dyn dynamic.Interface, b *arkv1.Backup, arc *restore.Archive, opts Options) (*Report, error) {
	scope, err := backup.NewScope(disc, b.Spec)
	if err != nil {
		return nil, fmt.Errorf("the backup's spec: %w", err)
	}
	resources, err := collections.ResolveResources(disc, opts.Resources, nil)
	if err != nil {
		return nil, err
	}
	namespaces := collections.NewIncludesExcludes(opts.Namespaces, nil)
	wantNamespace := func(gr schema.GroupResource, ns, name string) bool {
		if len(opts.Namespaces) == 0 {
			return true
		}
		if gr == (schema.GroupResource{Resource: "namespaces"}) && ns == "" {
			return namespaces.ShouldInclude(name)
		}
		return ns != "" && namespaces.ShouldInclude(ns)
	}

	rep := &Report{Backup: b.Name, OnlyInBackup: []restore.ItemRef{}, OnlyInCluster: []restore.ItemRef{}, Changed: []Changed{}}
	seen := map[string]bool{}
	err = arc.Each(func(ref restore.ItemRef, obj *unstructured.Unstructured, err error) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		gr := schema.ParseGroupResource(ref.Resource)
		if !resources.ShouldInclude(gr.String()) || !wantNamespace(gr, ref.Namespace, ref.Name) {
			return nil
		}
		seen[key(gr, ref.Namespace, ref.Name)] = true
		if err != nil {
			rep.Errors = append(rep.Errors, fmt.Sprintf("%s: %v", ref, err))
			return nil
		}
		if restore.RecreatedByController(gr, obj) {
			rep.Controlled++
			return nil
		}
		gvr, api, err := disc.ResolveResource(gr.String())
		if err != nil || gvr.GroupResource() != gr {
			rep.OnlyInBackup = append(rep.OnlyInBackup, ref) // the cluster does not even serve its kind
			return nil
		}
		if gv, err := schema.ParseGroupVersion(obj.GetAPIVersion()); err == nil && gv.Group == gvr.Group && gv.Version != "" {
			gvr.Version = gv.Version // compare in the version backed up
		}
		var live *unstructured.Unstructured
		if api.Namespaced {
			live, err = dyn.Resource(gvr).Namespace(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		} else {
			live, err = dyn.Resource(gvr).Get(ctx, ref.Name, metav1.GetOptions{})
		}
		switch {
		case apierrors.IsNotFound(err):
			rep.OnlyInBackup = append(rep.OnlyInBackup, ref)
		case err != nil:
			rep.Errors = append(rep.Errors, fmt.Sprintf("%s: reading it from the cluster: %v", ref, err))
		default:
			if fields := Fields(gr, obj, live); len(fields) > 0 {
				rep.Changed = append(rep.Changed, Changed{ItemRef: ref, Fields: fields})
			} else {
				rep.Unchanged++
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	// What the cluster has within the backup's scope that the backup lacks.
	for _, res := range disc.Resources() {
		gr := res.GroupResource()
		if !scope.ResourceListed(res) || !resources.ShouldInclude(gr.String()) {
			continue
		}
		if !res.API.Namespaced && len(opts.Namespaces) > 0 {
			continue
		}
		err := list(ctx, dyn.Resource(res.GVR), scope.Selector().String(), func(o *unstructured.Unstructured) {
			ns := o.GetNamespace()
			if res.API.Namespaced && (!scope.NamespaceIncluded(ns) || !wantNamespace(gr, ns, o.GetName())) {
				return
			}
			if !seen[key(gr, ns, o.GetName())] {
				if restore.RecreatedByController(gr, o) {
					rep.Controlled++
					return
				}
				rep.OnlyInCluster = append(rep.OnlyInCluster, restore.ItemRef{Resource: gr.String(), Namespace: ns, Name: o.GetName()})
			}
		})
		if err != nil {
			rep.Errors = append(rep.Errors, fmt.Sprintf("listing %s: %v", gr, err))
		}
	}
	sortRefs(rep.OnlyInBackup)
	sortRefs(rep.OnlyInCluster)
	sort.Strings(rep.Errors)
	return rep, nil
}

func key(gr schema.GroupResource, ns, name string) string { return gr.String() + "|" + ns + "|" + name }

// list lists every object of a resource, in pages.
func list(ctx context.Context, r dynamic.NamespaceableResourceInterface, selector string, f func(*unstructured.Unstructured)) error {
	opts := metav1.ListOptions{LabelSelector: selector, Limit: 500}
	for {
		l, err := r.List(ctx, opts)
		if err != nil {
			return err
		}
		for i := range l.Items {
			f(&l.Items[i])
		}
		if opts.Continue = l.GetContinue(); opts.Continue == "" {
			return nil
		}
	}
}

func sortRefs(refs []restore.ItemRef) {
	sort.Slice(refs, func(i, j int) bool { return refs[i].String() < refs[j].String() })
}

// Fields returns the fields in which the backed-up copy of an object of
// resource gr and its live copy differ, once both are cleaned as a restore
// cleans an object (restore.CleanObject) and without the label a restore
// puts on what it creates. Nil: equal.
func Fields(gr schema.GroupResource, backedUp, live *unstructured.Unstructured) []Field {
	a, b := comparable(gr, backedUp), comparable(gr, live)
	var out []Field
	walk("", a.Object, b.Object, &out)
	return out
}

func comparable(gr schema.GroupResource, obj *unstructured.Unstructured) *unstructured.Unstructured {
	c := obj.DeepCopy()
	restore.CleanObject(gr, c)
	if l := c.GetLabels(); l != nil {
		delete(l, format.RestoreNameLabel)
		if len(l) == 0 {
			unstructured.RemoveNestedField(c.Object, "metadata", "labels")
		} else {
			c.SetLabels(l)
		}
	}
	return c
}

// walk appends the paths under path where a and b differ: maps key by key,
// lists element by element, anything else as a whole.
func walk(path string, a, b any, out *[]Field) {
	switch x := a.(type) {
	case map[string]any:
		if y, ok := b.(map[string]any); ok {
			keys := map[string]bool{}
			for k := range x {
				keys[k] = true
			}
			for k := range y {
				keys[k] = true
			}
			sorted := make([]string, 0, len(keys))
			for k := range keys {
				sorted = append(sorted, k)
			}
			sort.Strings(sorted)
			for _, k := range sorted {
				p := k
				if path != "" {
					p = path + "." + k
				}
				walk(p, x[k], y[k], out)
			}
			return
		}
	case []any:
		if y, ok := b.([]any); ok {
			for i := 0; i < max(len(x), len(y)); i++ {
				var ea, eb any
				if i < len(x) {
					ea = x[i]
				}
				if i < len(y) {
					eb = y[i]
				}
				walk(fmt.Sprintf("%s[%d]", path, i), ea, eb, out)
			}
			return
		}
	}
	if !reflect.DeepEqual(a, b) {
		*out = append(*out, Field{Path: path, Backup: a, Cluster: b})
	}
}

// ErrDiffers is returned by callers that exit non-zero when the backup and
// the cluster differ (`ark backup diff --exit-code`).
var ErrDiffers = errors.New("the backup and the cluster differ")

// Summary is a one-line count of a report.
func (r *Report) Summary() string {
	parts := []string{
		fmt.Sprintf("%d only in the backup", len(r.OnlyInBackup)),
		fmt.Sprintf("%d only in the cluster", len(r.OnlyInCluster)),
		fmt.Sprintf("%d changed", len(r.Changed)),
		fmt.Sprintf("%d unchanged", r.Unchanged),
	}
	if r.Controlled > 0 {
		parts = append(parts, fmt.Sprintf("%d made by controllers (not compared)", r.Controlled))
	}
	if len(r.Errors) > 0 {
		parts = append(parts, fmt.Sprintf("%d not compared", len(r.Errors)))
	}
	return strings.Join(parts, ", ")
}
