package cluster

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"
	"sigs.k8s.io/yaml"
)

// FieldManager is the server-side apply field manager of ApplyYAML.
const FieldManager = "ark-test-cluster"

// crdReadyTimeout bounds the wait for a CRD to be Established and served.
const crdReadyTimeout = time.Minute

// ApplyCRDs creates or updates the CustomResourceDefinitions in the given
// YAML files (multi-document; a directory means its *.yaml and *.yml files)
// and waits until each is Established and served by discovery.
func (c *Cluster) ApplyCRDs(ctx context.Context, paths ...string) error {
	docs, err := readDocs(paths...)
	if err != nil {
		return err
	}
	crds := make([]*apiextensionsv1.CustomResourceDefinition, 0, len(docs))
	for _, d := range docs {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(d.data, crd); err != nil {
			return fmt.Errorf("%s: %w", d.source, err)
		}
		if crd.Kind != "CustomResourceDefinition" {
			return fmt.Errorf("%s: kind %q is not CustomResourceDefinition", d.source, crd.Kind)
		}
		crds = append(crds, crd)
	}
	for _, crd := range crds {
		if err := c.applyCRD(ctx, crd); err != nil {
			return err
		}
	}
	for _, crd := range crds {
		if err := c.waitCRD(ctx, crd); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) applyCRD(ctx context.Context, crd *apiextensionsv1.CustomResourceDefinition) error {
	client := c.apiext.ApiextensionsV1().CustomResourceDefinitions()
	_, err := client.Create(ctx, crd, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
			existing, err := client.Get(ctx, crd.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			updated := crd.DeepCopy()
			updated.ResourceVersion = existing.ResourceVersion
			_, err = client.Update(ctx, updated, metav1.UpdateOptions{})
			return err
		})
	}
	if err != nil {
		return fmt.Errorf("applying CRD %s: %w", crd.Name, err)
	}
	klog.FromContext(ctx).V(2).Info("Applied CRD", "name", crd.Name)
	return nil
}

// waitCRD waits until crd is Established and every served version of it is
// listed by discovery.
func (c *Cluster) waitCRD(ctx context.Context, crd *apiextensionsv1.CustomResourceDefinition) error {
	client := c.apiext.ApiextensionsV1().CustomResourceDefinitions()
	var last string
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, crdReadyTimeout, true, func(ctx context.Context) (bool, error) {
		got, err := client.Get(ctx, crd.Name, metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		if !crdCondition(got, apiextensionsv1.Established) {
			last = "not Established"
			for _, cond := range got.Status.Conditions {
				if cond.Type == apiextensionsv1.NamesAccepted && cond.Status == apiextensionsv1.ConditionFalse {
					return false, fmt.Errorf("CRD %s: names not accepted: %s", crd.Name, cond.Message)
				}
			}
			return false, nil
		}
		for _, v := range got.Spec.Versions {
			if !v.Served {
				continue
			}
			gv := schema.GroupVersion{Group: got.Spec.Group, Version: v.Name}.String()
			list, err := c.kube.Discovery().ServerResourcesForGroupVersion(gv)
			if err != nil {
				last = fmt.Sprintf("discovery of %s: %v", gv, err)
				return false, nil
			}
			if !slices.ContainsFunc(list.APIResources, func(r metav1.APIResource) bool { return r.Name == got.Spec.Names.Plural }) {
				last = fmt.Sprintf("discovery of %s does not list %s yet", gv, got.Spec.Names.Plural)
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for CRD %s (%s): %w", crd.Name, last, err)
	}
	return nil
}

func crdCondition(crd *apiextensionsv1.CustomResourceDefinition, t apiextensionsv1.CustomResourceDefinitionConditionType) bool {
	for _, cond := range crd.Status.Conditions {
		if cond.Type == t {
			return cond.Status == apiextensionsv1.ConditionTrue
		}
	}
	return false
}

// ApplyYAML applies arbitrary manifests (multi-document YAML files, or
// directories of them; `kind: List` is expanded) with server-side apply,
// forcing ownership of conflicting fields. Namespaces are applied first, then
// CRDs (waited for until served), then everything else in file order.
// Namespaced objects without a namespace go to "default".
func (c *Cluster) ApplyYAML(ctx context.Context, paths ...string) error {
	docs, err := readDocs(paths...)
	if err != nil {
		return err
	}
	var objs []*object
	for _, d := range docs {
		o, err := decodeObjects(d)
		if err != nil {
			return err
		}
		objs = append(objs, o...)
	}
	sortForApply(objs)

	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(c.kube.Discovery()))
	for _, o := range objs {
		gvk := o.obj.GroupVersionKind()
		if gvk.Kind == "CustomResourceDefinition" && gvk.Group == apiextensionsv1.GroupName {
			crd := &apiextensionsv1.CustomResourceDefinition{}
			if err := yaml.UnmarshalStrict(o.json, crd); err != nil {
				return fmt.Errorf("%s: %w", o.source, err)
			}
			if err := c.applyCRD(ctx, crd); err != nil {
				return err
			}
			if err := c.waitCRD(ctx, crd); err != nil {
				return err
			}
			mapper.Reset()
			continue
		}
		if err := c.applyObject(ctx, mapper, o); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) applyObject(ctx context.Context, mapper *restmapper.DeferredDiscoveryRESTMapper, o *object) error {
	gvk := o.obj.GroupVersionKind()
	mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		// A type that appeared after the mapper was filled (e.g. a CRD
		// applied by an earlier call).
		mapper.Reset()
		mapping, err = mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return fmt.Errorf("%s: %s: %w", o.source, gvk, err)
	}
	ri := c.dyn.Resource(mapping.Resource)
	var target interface {
		Patch(context.Context, string, types.PatchType, []byte, metav1.PatchOptions, ...string) (*unstructured.Unstructured, error)
	} = ri
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		ns := o.obj.GetNamespace()
		if ns == "" {
			ns = metav1.NamespaceDefault
			o.obj.SetNamespace(ns)
		}
		target = ri.Namespace(ns)
	} else {
		o.obj.SetNamespace("")
	}
	data, err := o.obj.MarshalJSON()
	if err != nil {
		return err
	}
	force := true
	if _, err := target.Patch(ctx, o.obj.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: FieldManager, Force: &force}); err != nil {
		return fmt.Errorf("%s: applying %s %s: %w", o.source, gvk.Kind, objectKey(o.obj), err)
	}
	klog.FromContext(ctx).V(2).Info("Applied", "kind", gvk.Kind, "object", objectKey(o.obj))
	return nil
}

func objectKey(o *unstructured.Unstructured) string {
	if ns := o.GetNamespace(); ns != "" {
		return ns + "/" + o.GetName()
	}
	return o.GetName()
}

// doc is one YAML document and where it came from.
type doc struct {
	source string // file:index, for errors
	data   []byte
}

type object struct {
	source string
	json   []byte
	obj    *unstructured.Unstructured
}

// readDocs splits the files (directories: their *.yaml and *.yml files, in
// name order) into non-empty YAML documents.
func readDocs(paths ...string) ([]doc, error) {
	if len(paths) == 0 {
		return nil, errors.New("no manifest paths given")
	}
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if ext := filepath.Ext(e.Name()); !e.IsDir() && (ext == ".yaml" || ext == ".yml") {
				files = append(files, filepath.Join(p, e.Name()))
			}
		}
	}
	var docs []doc
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		ds, err := splitYAML(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for i, d := range ds {
			docs = append(docs, doc{source: fmt.Sprintf("%s#%d", f, i), data: d})
		}
	}
	return docs, nil
}

// splitYAML returns the documents of a multi-document YAML stream, skipping
// documents that hold nothing but comments or whitespace.
func splitYAML(data []byte) ([][]byte, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out [][]byte
	for {
		d, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		var v interface{}
		if err := yaml.Unmarshal(d, &v); err != nil {
			return nil, err
		}
		if v == nil {
			continue
		}
		out = append(out, d)
	}
}

// decodeObjects decodes one document into objects, expanding `kind: List`.
func decodeObjects(d doc) ([]*object, error) {
	j, err := yaml.YAMLToJSON(d.data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.source, err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(j); err != nil {
		return nil, fmt.Errorf("%s: %w", d.source, err)
	}
	if !u.IsList() {
		if u.GetName() == "" {
			return nil, fmt.Errorf("%s: %s without metadata.name", d.source, u.GetKind())
		}
		return []*object{{source: d.source, json: j, obj: u}}, nil
	}
	list, err := u.ToList()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.source, err)
	}
	out := make([]*object, 0, len(list.Items))
	for i := range list.Items {
		item := &list.Items[i]
		ij, err := item.MarshalJSON()
		if err != nil {
			return nil, err
		}
		out = append(out, &object{source: fmt.Sprintf("%s[%d]", d.source, i), json: ij, obj: item})
	}
	return out, nil
}

// sortForApply orders Namespaces first, then CRDs, then the rest, each in
// input order.
func sortForApply(objs []*object) {
	rank := func(o *object) int {
		gvk := o.obj.GroupVersionKind()
		switch {
		case gvk.Group == "" && gvk.Kind == "Namespace":
			return 0
		case gvk.Group == apiextensionsv1.GroupName && gvk.Kind == "CustomResourceDefinition":
			return 1
		default:
			return 2
		}
	}
	sort.SliceStable(objs, func(i, j int) bool { return rank(objs[i]) < rank(objs[j]) })
}

// sanitizeName turns a test name into the start of a DNS-1123 label.
func sanitizeName(s string, max int) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= max {
			break
		}
	}
	return strings.Trim(b.String(), "-")
}
