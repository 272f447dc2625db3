package restore

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/klog/v2"

	"github.com/go-logr/logr"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/discovery"
)

// fakeDiscoveryClient serves a mutable set of resources to a
// discovery.Helper.
type fakeDiscoveryClient struct {
	mu        sync.Mutex
	resources map[schema.GroupVersion][]metav1.APIResource
	calls     int
}

func (f *fakeDiscoveryClient) add(gv schema.GroupVersion, r metav1.APIResource) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.resources == nil {
		f.resources = map[schema.GroupVersion][]metav1.APIResource{}
	}
	if r.Verbs == nil {
		r.Verbs = metav1.Verbs{"create", "get", "list", "delete"}
	}
	f.resources[gv] = append(f.resources[gv], r)
}

func (f *fakeDiscoveryClient) ServerGroups() (*metav1.APIGroupList, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	byGroup := map[string][]string{}
	for gv := range f.resources {
		byGroup[gv.Group] = append(byGroup[gv.Group], gv.Version)
	}
	var names []string
	for g := range byGroup {
		names = append(names, g)
	}
	sort.Strings(names)
	list := &metav1.APIGroupList{}
	for _, g := range names {
		vs := byGroup[g]
		sort.Strings(vs)
		grp := metav1.APIGroup{Name: g}
		for _, v := range vs {
			gvd := metav1.GroupVersionForDiscovery{GroupVersion: schema.GroupVersion{Group: g, Version: v}.String(), Version: v}
			grp.Versions = append(grp.Versions, gvd)
		}
		grp.PreferredVersion = grp.Versions[0]
		list.Groups = append(list.Groups, grp)
	}
	return list, nil
}

func (f *fakeDiscoveryClient) ServerResourcesForGroupVersion(groupVersion string) (*metav1.APIResourceList, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	gv, err := schema.ParseGroupVersion(groupVersion)
	if err != nil {
		return nil, err
	}
	return &metav1.APIResourceList{GroupVersion: groupVersion, APIResources: append([]metav1.APIResource(nil), f.resources[gv]...)}, nil
}

type testResource struct {
	gvr        schema.GroupVersionResource
	shortNames []string
	kind       string
	namespaced bool
	verbs      []string
}

var standardResources = []testResource{
	{gvr: schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, kind: "Namespace", shortNames: []string{"ns"}},
	{gvr: schema.GroupVersionResource{Version: "v1", Resource: "nodes"}, kind: "Node"},
	{gvr: schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumes"}, kind: "PersistentVolume"},
	{gvr: schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}, kind: "PersistentVolumeClaim", namespaced: true},
	{gvr: schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, kind: "ConfigMap", namespaced: true, shortNames: []string{"cm"}},
	{gvr: schema.GroupVersionResource{Version: "v1", Resource: "secrets"}, kind: "Secret", namespaced: true},
	{gvr: schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}, kind: "ServiceAccount", namespaced: true},
	{gvr: schema.GroupVersionResource{Version: "v1", Resource: "services"}, kind: "Service", namespaced: true},
	{gvr: schema.GroupVersionResource{Version: "v1", Resource: "pods"}, kind: "Pod", namespaced: true},
	{gvr: schema.GroupVersionResource{Version: "v1", Resource: "endpoints"}, kind: "Endpoints", namespaced: true},
	{gvr: schema.GroupVersionResource{Version: "v1", Resource: "events"}, kind: "Event", namespaced: true},
	{gvr: schema.GroupVersionResource{Version: "v1", Resource: "limitranges"}, kind: "LimitRange", namespaced: true},
	{gvr: schema.GroupVersionResource{Version: "v1", Resource: "componentstatuses"}, kind: "ComponentStatus", verbs: []string{"get", "list"}},
	{gvr: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, kind: "Deployment", namespaced: true},
	{gvr: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}, kind: "ReplicaSet", namespaced: true},
	{gvr: schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}, kind: "Job", namespaced: true},
	{gvr: schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}, kind: "EndpointSlice", namespaced: true},
	{gvr: schema.GroupVersionResource{Group: "events.k8s.io", Version: "v1", Resource: "events"}, kind: "Event", namespaced: true},
	{gvr: schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"}, kind: "ClusterRole"},
	{gvr: schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}, kind: "CustomResourceDefinition"},
	{gvr: schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingwebhookconfigurations"}, kind: "ValidatingWebhookConfiguration"},
	{gvr: schema.GroupVersionResource{Group: "ark.heptio.com", Version: "v1", Resource: "backups"}, kind: "Backup", namespaced: true},
}

// testEnv is a fake cluster: a discovery helper over a fake discovery client,
// a fake dynamic client and a CRD waiter that "establishes" CRDs by adding
// their resources to discovery.
type testEnv struct {
	disc     *fakeDiscoveryClient
	helper   *discovery.Helper
	client   *dynamicfake.FakeDynamicClient
	waiter   *fakeCRDWaiter
	tempDir  string
	restorer *Restorer
}

type fakeCRDWaiter struct {
	env    *testEnv
	mu     sync.Mutex
	waited []string
	fail   map[string]bool
}

func (w *fakeCRDWaiter) WaitEstablished(ctx context.Context, name string) error {
	w.mu.Lock()
	w.waited = append(w.waited, name)
	fail := w.fail[name]
	w.mu.Unlock()
	if fail {
		return context.DeadlineExceeded
	}
	crd, err := w.env.client.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	plural, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
	kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
	scope, _, _ := unstructured.NestedString(crd.Object, "spec", "scope")
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	for _, v := range versions {
		name, _, _ := unstructured.NestedString(v.(map[string]any), "name")
		w.env.disc.add(schema.GroupVersion{Group: group, Version: name}, metav1.APIResource{Name: plural, Kind: kind, Namespaced: scope == "Namespaced"})
	}
	return nil
}

func newTestEnv(t *testing.T, opts Options, existing ...runtime.Object) *testEnv {
	t.Helper()
	env := &testEnv{disc: &fakeDiscoveryClient{}}
	listKinds := map[schema.GroupVersionResource]string{}
	for _, r := range standardResources {
		env.disc.add(r.gvr.GroupVersion(), metav1.APIResource{Name: r.gvr.Resource, Kind: r.kind, Namespaced: r.namespaced, Verbs: r.verbs, ShortNames: r.shortNames})
		listKinds[r.gvr] = r.kind + "List"
	}
	listKinds[schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}] = "WidgetList"
	env.helper = discovery.NewHelper(env.disc)
	env.client = dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), listKinds, existing...)
	env.waiter = &fakeCRDWaiter{env: env, fail: map[string]bool{}}
	env.tempDir = t.TempDir()
	if opts.CRDWaiter == nil {
		opts.CRDWaiter = env.waiter
	}
	opts.TempDir = env.tempDir
	if opts.CRDTimeout == 0 {
		opts.CRDTimeout = 5 * time.Second
	}
	opts.ListItems = true
	env.restorer = NewRestorer(env.helper, env.client, opts)
	return env
}

// run restores contents and checks the extraction directory is gone.
func (env *testEnv) run(t *testing.T, restore *arkv1.Restore, backup *arkv1.Backup, contents []byte) (*Result, string) {
	t.Helper()
	var log bytes.Buffer
	res, err := env.restorer.Restore(quietContext(), restore, backup, bytes.NewReader(contents), &log, nil)
	if err != nil {
		t.Fatalf("Restore: %v\nlog:\n%s", err, log.String())
	}
	assertEmptyDir(t, env.tempDir)
	if n := res.Restored + res.Existing + res.Skipped + res.Failed; n != res.TotalItems {
		t.Errorf("restored %d + existing %d + skipped %d + failed %d = %d, not the %d items of the backup",
			res.Restored, res.Existing, res.Skipped, res.Failed, n, res.TotalItems)
	}
	return res, log.String()
}

func (env *testEnv) get(t *testing.T, gvr schema.GroupVersionResource, ns, name string) *unstructured.Unstructured {
	t.Helper()
	obj, err := env.client.Resource(gvr).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get %s %s/%s: %v", gvr.Resource, ns, name, err)
	}
	return obj
}

func (env *testEnv) exists(gvr schema.GroupVersionResource, ns, name string) bool {
	_, err := env.client.Resource(gvr).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	return err == nil
}

// creates returns "resource ns/name" of every create action, in order.
func (env *testEnv) creates() []string {
	var out []string
	for _, a := range env.client.Actions() {
		if a.GetVerb() != "create" {
			continue
		}
		out = append(out, a.GetResource().Resource)
	}
	return out
}

func assertEmptyDir(t testing.TB, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("%s is not empty: %v", dir, names)
	}
}

var (
	gvrNamespaces = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	gvrConfigMaps = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	gvrSecrets    = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	gvrServices   = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	gvrPods       = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	gvrPVs        = schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumes"}
	gvrPVCs       = schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}
	gvrSAs        = schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}
	gvrDeploy     = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	gvrWidgets    = schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}
)

// tarEntry is one entry of a hand-made tarball.
type tarEntry struct {
	hdr  tar.Header
	data []byte
}

func file(name string, data []byte) tarEntry {
	return tarEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data))}, data: data}
}

func makeTarball(t testing.TB, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		h := e.hdr
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("header %q: %v", h.Name, err)
		}
		if len(e.data) > 0 {
			if _, err := tw.Write(e.data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// obj builds an object as an API server would return it.
func obj(apiVersion, kind, ns, name string, fields map[string]any) map[string]any {
	md := map[string]any{
		"name":              name,
		"uid":               "uid-of-" + name,
		"resourceVersion":   "12345",
		"creationTimestamp": "2026-11-21T10:00:00Z",
		"generation":        int64(3),
		"selfLink":          "/api/x",
		"managedFields":     []any{map[string]any{"manager": "kubectl", "operation": "Update"}},
		"labels":            map[string]any{"app": "demo"},
	}
	if ns != "" {
		md["namespace"] = ns
	}
	o := map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": md}
	for k, v := range fields {
		if k == "metadata" {
			for mk, mv := range v.(map[string]any) {
				md[mk] = mv
			}
			continue
		}
		o[k] = v
	}
	return o
}

// item returns the tarball entry of o, in ark's layout.
func item(t testing.TB, resource string, o map[string]any) tarEntry {
	t.Helper()
	u := unstructured.Unstructured{Object: o}
	data, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	if ns := u.GetNamespace(); ns != "" {
		return file(filepath.Join("resources", resource, "namespaces", ns, u.GetName()+".json"), data)
	}
	return file(filepath.Join("resources", resource, "cluster", u.GetName()+".json"), data)
}

func newRestore(name string, mutate func(*arkv1.RestoreSpec)) *arkv1.Restore {
	r := &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Namespace: "heptio-ark", Name: name}, Spec: arkv1.RestoreSpec{BackupName: "b1"}}
	if mutate != nil {
		mutate(&r.Spec)
	}
	return r
}

func schemaGVR(group, version, resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: group, Version: version, Resource: resource}
}

// quietContext carries a logger that drops the klog copy of the restore log
// (the tests read the JSON log).
func quietContext() context.Context {
	return klog.NewContext(context.Background(), logr.Discard())
}

func discoveryHelper(c discovery.Client) *discovery.Helper { return discovery.NewHelper(c) }
