package backup

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	fakediscovery "k8s.io/client-go/discovery/fake"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/discovery"
)

// ---- fixtures -------------------------------------------------------------

type apiRes struct {
	gv, name, kind string
	namespaced     bool
	short          []string
	verbs          []string
}

var testResources = []apiRes{
	{"v1", "namespaces", "Namespace", false, []string{"ns"}, nil},
	{"v1", "pods", "Pod", true, []string{"po"}, nil},
	{"v1", "pods/log", "Pod", true, nil, []string{"get"}},
	{"v1", "bindings", "Binding", true, nil, []string{"create"}},
	{"v1", "configmaps", "ConfigMap", true, []string{"cm"}, nil},
	{"v1", "secrets", "Secret", true, nil, nil},
	{"v1", "events", "Event", true, []string{"ev"}, nil},
	{"v1", "persistentvolumeclaims", "PersistentVolumeClaim", true, []string{"pvc"}, nil},
	{"v1", "persistentvolumes", "PersistentVolume", false, []string{"pv"}, nil},
	{"apps/v1", "deployments", "Deployment", true, []string{"deploy"}, nil},
	{"rbac.authorization.k8s.io/v1", "clusterroles", "ClusterRole", false, nil, nil},
	{"events.k8s.io/v1", "events", "Event", true, []string{"ev"}, nil},
	{"ark.heptio.com/v1", "backups", "Backup", true, []string{"bkp"}, nil},
	{"stable.example.com/v1", "crontabs", "CronTab", true, []string{"ct"}, nil},
	{"apiextensions.k8s.io/v1", "customresourcedefinitions", "CustomResourceDefinition", false, []string{"crd"}, nil},
}

func newDiscovery() *discovery.Helper {
	byGV := map[string]*metav1.APIResourceList{}
	var order []string
	for _, r := range testResources {
		l, ok := byGV[r.gv]
		if !ok {
			l = &metav1.APIResourceList{GroupVersion: r.gv}
			byGV[r.gv] = l
			order = append(order, r.gv)
		}
		verbs := r.verbs
		if verbs == nil {
			verbs = []string{"create", "delete", "get", "list", "watch"}
		}
		singular := strings.ToLower(r.kind)
		l.APIResources = append(l.APIResources, metav1.APIResource{
			Name: r.name, SingularName: singular, Kind: r.kind, Namespaced: r.namespaced, ShortNames: r.short, Verbs: verbs,
		})
	}
	fd := &fakediscovery.FakeDiscovery{Fake: &clienttesting.Fake{}}
	for _, gv := range order {
		fd.Resources = append(fd.Resources, byGV[gv])
	}
	return discovery.NewHelper(fd)
}

func gvrOf(gv, resource string) schema.GroupVersionResource {
	g, _ := schema.ParseGroupVersion(gv)
	return g.WithResource(resource)
}

func listKinds() map[schema.GroupVersionResource]string {
	m := map[schema.GroupVersionResource]string{}
	for _, r := range testResources {
		if !strings.Contains(r.name, "/") {
			m[gvrOf(r.gv, r.name)] = r.kind + "List"
		}
	}
	return m
}

func obj(apiVersion, kind, ns, name string, labels map[string]string, extra map[string]interface{}) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]interface{}{}}
	for k, v := range extra {
		u.Object[k] = v
	}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetNamespace(ns)
	u.SetName(name)
	if labels != nil {
		u.SetLabels(labels)
	}
	return u
}

var nginx = map[string]string{"app": "nginx"}

func pod(ns, name string, labels map[string]string, claims ...string) *unstructured.Unstructured {
	var vols []interface{}
	for _, c := range claims {
		vols = append(vols, map[string]interface{}{"name": c, "persistentVolumeClaim": map[string]interface{}{"claimName": c}})
	}
	spec := map[string]interface{}{"containers": []interface{}{
		map[string]interface{}{"name": "main", "image": "nginx"},
		map[string]interface{}{"name": "sidecar", "image": "busybox"},
	}}
	if vols != nil {
		spec["volumes"] = vols
	}
	return obj("v1", "Pod", ns, name, labels, map[string]interface{}{"spec": spec})
}

func pvc(ns, name, volume string, labels map[string]string) *unstructured.Unstructured {
	extra := map[string]interface{}{"spec": map[string]interface{}{}, "status": map[string]interface{}{"phase": "Pending"}}
	if volume != "" {
		extra["spec"] = map[string]interface{}{"volumeName": volume}
		extra["status"] = map[string]interface{}{"phase": "Bound"}
	}
	return obj("v1", "PersistentVolumeClaim", ns, name, labels, extra)
}

// testObjects is a small cluster:
//
//	ns1 (app=nginx): deployment nginx*, configmaps c1* and c2, secret s1, pod p1* using
//	                 claim1* (bound to pv1), event e1, crontab ct1, events.k8s.io event e2
//	ns2:             configmap c3, deployment d2, claim claim2 (unbound)
//	ns3:             configmap c4
//	heptio-ark:      backup b1
//	cluster:         pv1 (bound to claim1), pv2*, clusterrole cr1, CRDs of crontabs and of
//	                 an unused resource
//
// (* = labelled app=nginx)
func testObjects() []runtime.Object {
	return []runtime.Object{
		obj("v1", "Namespace", "", "ns1", nginx, nil),
		obj("v1", "Namespace", "", "ns2", nil, nil),
		obj("v1", "Namespace", "", "ns3", nil, nil),
		obj("v1", "Namespace", "", "heptio-ark", nil, nil),
		obj("apps/v1", "Deployment", "ns1", "nginx", nginx, nil),
		obj("v1", "ConfigMap", "ns1", "c1", nginx, map[string]interface{}{"data": map[string]interface{}{"k": "v"}}),
		obj("v1", "ConfigMap", "ns1", "c2", nil, nil),
		obj("v1", "Secret", "ns1", "s1", nil, nil),
		pod("ns1", "p1", nginx, "claim1"),
		pvc("ns1", "claim1", "pv1", nginx),
		obj("v1", "Event", "ns1", "e1", nil, nil),
		obj("events.k8s.io/v1", "Event", "ns1", "e2", nil, nil),
		obj("stable.example.com/v1", "CronTab", "ns1", "ct1", nil, nil),
		obj("v1", "ConfigMap", "ns2", "c3", nil, nil),
		obj("apps/v1", "Deployment", "ns2", "d2", nil, nil),
		pvc("ns2", "claim2", "", nil),
		obj("v1", "ConfigMap", "ns3", "c4", nil, nil),
		obj("ark.heptio.com/v1", "Backup", "heptio-ark", "b1", nil, nil),
		obj("v1", "PersistentVolume", "", "pv1", nil, map[string]interface{}{"spec": map[string]interface{}{"claimRef": map[string]interface{}{"namespace": "ns1", "name": "claim1"}}}),
		obj("v1", "PersistentVolume", "", "pv2", nginx, nil),
		obj("rbac.authorization.k8s.io/v1", "ClusterRole", "", "cr1", nil, nil),
		obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "crontabs.stable.example.com", nil, nil),
		obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "unused.stable.example.com", nil, nil),
	}
}

// ---- fakes ----------------------------------------------------------------

// recorder records hook runs and snapshots in order.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, s)
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

type fakeExecutor struct {
	rec *recorder
	// fn, if set, decides the outcome of a command.
	fn func(ctx context.Context, command []string) error
}

func (f *fakeExecutor) ExecPodCommand(ctx context.Context, ns, pod, container string, command []string, stdout, stderr io.Writer) error {
	f.rec.add(fmt.Sprintf("exec %s/%s/%s %s", ns, pod, container, strings.Join(command, " ")))
	fmt.Fprintf(stdout, "ran %s", command[0])
	if f.fn != nil {
		return f.fn(ctx, command)
	}
	return nil
}

type fakeSnapshotter struct {
	rec  *recorder
	fail map[string]bool
	tags map[string]map[string]string
}

func (f *fakeSnapshotter) SnapshotVolume(ctx context.Context, pv *unstructured.Unstructured, tags map[string]string) (*arkv1.VolumeBackupInfo, error) {
	f.rec.add("snapshot " + pv.GetName())
	if f.tags == nil {
		f.tags = map[string]map[string]string{}
	}
	f.tags[pv.GetName()] = tags
	if f.fail[pv.GetName()] {
		return nil, errors.New("quota exceeded")
	}
	return &arkv1.VolumeBackupInfo{SnapshotID: "snap-" + pv.GetName(), Type: "gp3", AvailabilityZone: "us-east-1a"}, nil
}

type env struct {
	dyn      *dynamicfake.FakeDynamicClient
	disc     *discovery.Helper
	rec      *recorder
	exec     *fakeExecutor
	snap     *fakeSnapshotter
	noSnap   bool
	pageSize int64
	progress []arkv1.BackupProgress
	log      bytes.Buffer
}

func newEnv(objs ...runtime.Object) *env {
	if objs == nil {
		objs = testObjects()
	}
	rec := &recorder{}
	return &env{
		dyn:  dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), listKinds(), objs...),
		disc: newDiscovery(),
		rec:  rec,
		exec: &fakeExecutor{rec: rec},
		snap: &fakeSnapshotter{rec: rec},
	}
}

type tarball struct {
	names []string
	files map[string][]byte
}

func (e *env) run(t *testing.T, spec arkv1.BackupSpec) (*Result, *tarball, error) {
	t.Helper()
	return e.runCtx(t, context.Background(), spec)
}

func (e *env) runCtx(t *testing.T, ctx context.Context, spec arkv1.BackupSpec) (*Result, *tarball, error) {
	t.Helper()
	var snap VolumeSnapshotter = e.snap
	if e.noSnap {
		snap = nil
	}
	var opts []Option
	if e.pageSize > 0 {
		opts = append(opts, WithPageSize(e.pageSize))
	}
	b := NewBackupper(e.disc, e.dyn, e.exec, snap, clocktesting.NewFakePassiveClock(time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)), opts...)
	backup := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: "heptio-ark", Name: "b"}, Spec: spec}
	var buf bytes.Buffer
	e.progress = nil
	e.log.Reset()
	res, err := b.Backup(ctx, backup, &buf, &e.log, func(p arkv1.BackupProgress) { e.progress = append(e.progress, p) })
	if res == nil {
		t.Fatal("nil result")
	}
	if err != nil {
		return res, nil, err
	}
	return res, readTarball(t, buf.Bytes()), nil
}

func readTarball(t testing.TB, data []byte) *tarball {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	tb := &tarball{files: map[string][]byte{}}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := tb.files[h.Name]; dup {
			t.Errorf("duplicate entry %s", h.Name)
		}
		tb.names = append(tb.names, h.Name)
		tb.files[h.Name] = b
	}
	return tb
}

func (tb *tarball) items() []string {
	var out []string
	for _, n := range tb.names {
		if strings.HasPrefix(n, "resources/") {
			out = append(out, strings.TrimSuffix(strings.TrimPrefix(n, "resources/"), ".json"))
		}
	}
	sort.Strings(out)
	return out
}

// ---- tests ----------------------------------------------------------------

func TestFiltering(t *testing.T) {
	ns1 := []string{
		"configmaps/namespaces/ns1/c1", "configmaps/namespaces/ns1/c2",
		"crontabs.stable.example.com/namespaces/ns1/ct1",
		"customresourcedefinitions.apiextensions.k8s.io/cluster/crontabs.stable.example.com",
		"deployments.apps/namespaces/ns1/nginx",
		"persistentvolumeclaims/namespaces/ns1/claim1",
		"pods/namespaces/ns1/p1",
		"secrets/namespaces/ns1/s1",
	}
	ns2 := []string{"configmaps/namespaces/ns2/c3", "deployments.apps/namespaces/ns2/d2", "persistentvolumeclaims/namespaces/ns2/claim2"}
	ns3 := []string{"configmaps/namespaces/ns3/c4"}
	cat := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	tests := []struct {
		name string
		spec arkv1.BackupSpec
		want []string
	}{
		{
			name: "everything",
			spec: arkv1.BackupSpec{},
			want: cat(ns1, ns2, ns3, []string{
				"clusterroles.rbac.authorization.k8s.io/cluster/cr1",
				"customresourcedefinitions.apiextensions.k8s.io/cluster/unused.stable.example.com",
				"namespaces/cluster/heptio-ark", "namespaces/cluster/ns1", "namespaces/cluster/ns2", "namespaces/cluster/ns3",
				"persistentvolumes/cluster/pv1", "persistentvolumes/cluster/pv2",
			}),
		},
		{
			name: "star namespaces is everything",
			spec: arkv1.BackupSpec{IncludedNamespaces: []string{"*"}, IncludedResources: []string{"*"}},
			want: cat(ns1, ns2, ns3, []string{
				"clusterroles.rbac.authorization.k8s.io/cluster/cr1",
				"customresourcedefinitions.apiextensions.k8s.io/cluster/unused.stable.example.com",
				"namespaces/cluster/heptio-ark", "namespaces/cluster/ns1", "namespaces/cluster/ns2", "namespaces/cluster/ns3",
				"persistentvolumes/cluster/pv1", "persistentvolumes/cluster/pv2",
			}),
		},
		{
			name: "one namespace: its items, its bound volume, its namespace",
			spec: arkv1.BackupSpec{IncludedNamespaces: []string{"ns1"}},
			want: cat(ns1, []string{"namespaces/cluster/ns1", "persistentvolumes/cluster/pv1"}),
		},
		{
			name: "one namespace with cluster resources",
			spec: arkv1.BackupSpec{IncludedNamespaces: []string{"ns1"}, IncludeClusterResources: ptr.To(true)},
			want: cat(ns1, []string{
				"clusterroles.rbac.authorization.k8s.io/cluster/cr1", "namespaces/cluster/ns1",
				"customresourcedefinitions.apiextensions.k8s.io/cluster/unused.stable.example.com",
				"persistentvolumes/cluster/pv1", "persistentvolumes/cluster/pv2",
			}),
		},
		{
			name: "an empty named namespace is still taken",
			spec: arkv1.BackupSpec{IncludedNamespaces: []string{"heptio-ark", "nonexistent"}},
			want: []string{"namespaces/cluster/heptio-ark"},
		},
		{
			name: "excluded namespace: no cluster resources by default, selected namespaces kept",
			spec: arkv1.BackupSpec{ExcludedNamespaces: []string{"ns2"}},
			want: cat(ns1, ns3, []string{"namespaces/cluster/heptio-ark", "namespaces/cluster/ns1", "namespaces/cluster/ns3", "persistentvolumes/cluster/pv1"}),
		},
		{
			name: "all namespaces without cluster resources",
			spec: arkv1.BackupSpec{IncludeClusterResources: ptr.To(false)},
			want: cat(ns1, ns2, ns3, []string{"namespaces/cluster/ns1", "namespaces/cluster/ns2", "namespaces/cluster/ns3", "persistentvolumes/cluster/pv1"}),
		},
		{
			name: "resources by short name and resource.group",
			spec: arkv1.BackupSpec{IncludedResources: []string{"cm", "deployments.apps"}},
			want: []string{
				"configmaps/namespaces/ns1/c1", "configmaps/namespaces/ns1/c2", "configmaps/namespaces/ns2/c3", "configmaps/namespaces/ns3/c4",
				"deployments.apps/namespaces/ns1/nginx", "deployments.apps/namespaces/ns2/d2",
				"namespaces/cluster/ns1", "namespaces/cluster/ns2", "namespaces/cluster/ns3",
			},
		},
		{
			name: "excluded resources by kind and plural",
			spec: arkv1.BackupSpec{IncludedNamespaces: []string{"ns1"}, ExcludedResources: []string{"ConfigMap", "secrets", "crontabs.stable.example.com"}},
			want: []string{
				"deployments.apps/namespaces/ns1/nginx", "namespaces/cluster/ns1",
				"persistentvolumeclaims/namespaces/ns1/claim1", "persistentvolumes/cluster/pv1", "pods/namespaces/ns1/p1",
			},
		},
		{
			name: "label selector",
			spec: arkv1.BackupSpec{LabelSelector: &metav1.LabelSelector{MatchLabels: nginx}},
			want: []string{
				"configmaps/namespaces/ns1/c1", "deployments.apps/namespaces/ns1/nginx", "namespaces/cluster/ns1",
				"persistentvolumeclaims/namespaces/ns1/claim1", "persistentvolumes/cluster/pv1", "persistentvolumes/cluster/pv2",
				"pods/namespaces/ns1/p1",
			},
		},
		{
			name: "label selector in a namespace: bound volume without the label is taken",
			spec: arkv1.BackupSpec{IncludedNamespaces: []string{"ns1"}, LabelSelector: &metav1.LabelSelector{MatchLabels: nginx}},
			want: []string{
				"configmaps/namespaces/ns1/c1", "deployments.apps/namespaces/ns1/nginx", "namespaces/cluster/ns1",
				"persistentvolumeclaims/namespaces/ns1/claim1", "persistentvolumes/cluster/pv1",
				"pods/namespaces/ns1/p1",
			},
		},
		{
			name: "volumes and namespaces excluded",
			spec: arkv1.BackupSpec{IncludedNamespaces: []string{"ns1"}, ExcludedResources: []string{"pv", "ns"}},
			want: ns1,
		},
		{
			name: "events and ark kinds only when listed",
			spec: arkv1.BackupSpec{IncludedResources: []string{"events", "events.events.k8s.io", "backups.ark.heptio.com"}},
			want: []string{
				"backups.ark.heptio.com/namespaces/heptio-ark/b1", "events.events.k8s.io/namespaces/ns1/e2", "events/namespaces/ns1/e1",
				"namespaces/cluster/heptio-ark", "namespaces/cluster/ns1",
			},
		},
		{
			name: "a custom resource brings its definition",
			spec: arkv1.BackupSpec{IncludedResources: []string{"ct"}},
			want: []string{
				"crontabs.stable.example.com/namespaces/ns1/ct1", "namespaces/cluster/ns1",
				"customresourcedefinitions.apiextensions.k8s.io/cluster/crontabs.stable.example.com",
			},
		},
		{
			name: "definitions excluded",
			spec: arkv1.BackupSpec{IncludedNamespaces: []string{"ns1"}, ExcludedResources: []string{"crd"}},
			want: append(cat(ns1[:3], ns1[4:]), "namespaces/cluster/ns1", "persistentvolumes/cluster/pv1"),
		},
		{
			name: "cluster-scoped only",
			spec: arkv1.BackupSpec{IncludedResources: []string{"clusterroles.rbac.authorization.k8s.io", "pv"}},
			want: []string{"clusterroles.rbac.authorization.k8s.io/cluster/cr1", "persistentvolumes/cluster/pv1", "persistentvolumes/cluster/pv2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv()
			e.noSnap = true
			res, tb, err := e.run(t, tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			got := tb.items()
			want := append([]string(nil), tt.want...)
			sort.Strings(want)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("items:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
			}
			if res.ItemsBackedUp != len(want) {
				t.Errorf("ItemsBackedUp = %d, want %d", res.ItemsBackedUp, len(want))
			}
			if len(res.Errors) != 0 {
				t.Errorf("errors: %v", res.Errors)
			}
		})
	}
}

func TestInvalidSpec(t *testing.T) {
	tests := []struct {
		name string
		spec arkv1.BackupSpec
		want string
	}{
		{"unknown resources", arkv1.BackupSpec{IncludedResources: []string{"foos", "cm"}, ExcludedResources: []string{"bars"}}, "unknown resources: bars, foos"},
		{"star excluded", arkv1.BackupSpec{ExcludedNamespaces: []string{"*"}}, `excludes list cannot contain "*"`},
		{"both", arkv1.BackupSpec{IncludedNamespaces: []string{"a"}, ExcludedNamespaces: []string{"a"}}, `"a" is both included and excluded`},
		{"selector", arkv1.BackupSpec{LabelSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: "Bad"}}}}, "labelSelector"},
		{"hook without command", arkv1.BackupSpec{Hooks: arkv1.BackupHooks{Resources: []arkv1.BackupResourceHookSpec{{Name: "h", Pre: []arkv1.BackupResourceHook{{Exec: &arkv1.ExecHook{}}}}}}}, "exec.command is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := newEnv().run(t, tt.spec)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestTarballLayoutAndOrder(t *testing.T) {
	e := newEnv()
	e.noSnap = true
	_, tb, err := e.run(t, arkv1.BackupSpec{})
	if err != nil {
		t.Fatal(err)
	}
	if tb.names[0] != "metadata/version" || string(tb.files["metadata/version"]) != "1" {
		t.Fatalf("first entry %s = %q", tb.names[0], tb.files[tb.names[0]])
	}
	// Resource directories in order: claims, the others by name, volumes, namespaces.
	var dirs []string
	for _, n := range tb.names[1:] {
		d := strings.Split(n, "/")[1]
		if len(dirs) == 0 || dirs[len(dirs)-1] != d {
			dirs = append(dirs, d)
		}
	}
	want := []string{"persistentvolumeclaims", "clusterroles.rbac.authorization.k8s.io", "configmaps",
		"crontabs.stable.example.com", "deployments.apps", "pods", "secrets",
		"customresourcedefinitions.apiextensions.k8s.io", "persistentvolumes", "namespaces"}
	if fmt.Sprint(dirs) != fmt.Sprint(want) {
		t.Errorf("order:\n got %v\nwant %v", dirs, want)
	}
	// One object per file, as listed, with apiVersion and kind.
	var cm map[string]interface{}
	if err := json.Unmarshal(tb.files["resources/configmaps/namespaces/ns1/c1.json"], &cm); err != nil {
		t.Fatal(err)
	}
	if cm["apiVersion"] != "v1" || cm["kind"] != "ConfigMap" || cm["data"].(map[string]interface{})["k"] != "v" {
		t.Errorf("c1 = %v", cm)
	}
	var ct map[string]interface{}
	if err := json.Unmarshal(tb.files["resources/crontabs.stable.example.com/namespaces/ns1/ct1.json"], &ct); err != nil {
		t.Fatal(err)
	}
	if ct["apiVersion"] != "stable.example.com/v1" || ct["kind"] != "CronTab" {
		t.Errorf("ct1 = %v", ct)
	}
}

func TestPointInTimeListOptions(t *testing.T) {
	e := newEnv()
	e.noSnap = true
	e.pageSize = 2
	var mu sync.Mutex
	var lists []metav1.ListOptions
	// configmaps come in pages of 2 with continue tokens.
	all := []string{"c1", "c2", "c3", "c4", "c5"}
	e.dyn.PrependReactor("list", "configmaps", func(a clienttesting.Action) (bool, runtime.Object, error) {
		o := a.(clienttesting.ListActionImpl).GetListOptions()
		start := 0
		if o.Continue != "" {
			fmt.Sscanf(o.Continue, "tok-%d", &start)
		}
		l := &unstructured.UnstructuredList{Object: map[string]interface{}{"apiVersion": "v1", "kind": "ConfigMapList"}}
		for i := start; i < start+int(o.Limit) && i < len(all); i++ {
			item := obj("", "", "ns3", all[i], nil, nil) // lists leave out apiVersion/kind
			delete(item.Object, "apiVersion")
			delete(item.Object, "kind")
			l.Items = append(l.Items, *item)
		}
		if start+int(o.Limit) < len(all) {
			l.SetContinue(fmt.Sprintf("tok-%d", start+int(o.Limit)))
		}
		l.SetResourceVersion("42")
		return true, l, nil
	})
	quorumReads := 0
	e.dyn.PrependReactor("list", "namespaces", func(a clienttesting.Action) (bool, runtime.Object, error) {
		// The fake drops the options of cluster-wide lists: the first list is the quorum read.
		if quorumReads++; quorumReads == 1 {
			l := &unstructured.UnstructuredList{Object: map[string]interface{}{"apiVersion": "v1", "kind": "NamespaceList"}}
			l.SetResourceVersion("42")
			return true, l, nil
		}
		return false, nil, nil
	})
	// Runs first: records every list.
	e.dyn.PrependReactor("list", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetNamespace() != "" { // the fake keeps the options of namespaced lists only
			mu.Lock()
			lists = append(lists, a.(clienttesting.ListActionImpl).GetListOptions())
			mu.Unlock()
		}
		return false, nil, nil
	})
	res, tb, err := e.run(t, arkv1.BackupSpec{IncludedNamespaces: []string{"ns3"}, IncludedResources: []string{"configmaps"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.ResourceVersion != "42" || len(res.InconsistentResources) != 0 {
		t.Errorf("rv %q inconsistent %v", res.ResourceVersion, res.InconsistentResources)
	}
	got := tb.items()
	if want := "[configmaps/namespaces/ns3/c1 configmaps/namespaces/ns3/c2 configmaps/namespaces/ns3/c3 configmaps/namespaces/ns3/c4 configmaps/namespaces/ns3/c5 namespaces/cluster/ns3]"; fmt.Sprint(got) != want {
		t.Errorf("items %v", got)
	}
	var cm map[string]interface{}
	_ = json.Unmarshal(tb.files["resources/configmaps/namespaces/ns3/c5.json"], &cm)
	if cm["apiVersion"] != "v1" || cm["kind"] != "ConfigMap" {
		t.Errorf("apiVersion/kind not set on list items: %v", cm)
	}
	// After the first (quorum) list, every list is at exactly 42 or continues one.
	var cmLists []string
	for _, o := range lists {
		switch {
		case o.Continue != "":
			if o.ResourceVersion != "" || o.ResourceVersionMatch != "" {
				t.Errorf("continue with rv: %+v", o)
			}
		case o.ResourceVersion != "42" || o.ResourceVersionMatch != metav1.ResourceVersionMatchExact || o.Limit != 2:
			t.Errorf("list not at exactly 42 with limit 2: %+v", o)
		}
		cmLists = append(cmLists, o.Continue)
	}
	if len(cmLists) < 3 {
		t.Errorf("expected paging, lists: %v", cmLists)
	}
}

func TestFallbackWhenCompacted(t *testing.T) {
	e := newEnv()
	e.noSnap = true
	e.dyn.PrependReactor("list", "configmaps", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.(clienttesting.ListActionImpl).GetListOptions().ResourceVersionMatch == metav1.ResourceVersionMatchExact {
			return true, nil, apierrors.NewResourceExpired("too old resource version: 1 (5)")
		}
		return false, nil, nil
	})
	e.dyn.PrependReactor("list", "secrets", func(a clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewServiceUnavailable("aggregated API down")
	})
	res, tb, err := e.run(t, arkv1.BackupSpec{IncludedNamespaces: []string{"ns1", "ns3"}})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(res.InconsistentResources) != "[configmaps secrets]" {
		t.Errorf("inconsistent = %v", res.InconsistentResources)
	}
	items := strings.Join(tb.items(), " ")
	for _, want := range []string{"configmaps/namespaces/ns1/c1", "configmaps/namespaces/ns3/c4"} {
		if !strings.Contains(items, want) {
			t.Errorf("%s missing after fallback", want)
		}
	}
	if strings.Contains(items, "secrets/") {
		t.Errorf("secrets written: %s", items)
	}
	// configmaps: one warning per namespace listed; secrets: warning, then error.
	if n := countContaining(res.Warnings, "configmaps"); n != 2 {
		t.Errorf("configmaps warnings = %d: %v", n, res.Warnings)
	}
	if n := countContaining(res.Errors, "secrets"); n != 2 {
		t.Errorf("secrets errors = %d: %v", n, res.Errors)
	}
}

func countContaining(list []string, s string) int {
	n := 0
	for _, l := range list {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}

func TestVolumeSnapshots(t *testing.T) {
	t.Run("no provider: one warning per volume", func(t *testing.T) {
		e := newEnv()
		e.noSnap = true
		res, _, err := e.run(t, arkv1.BackupSpec{})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Warnings) != 2 || countContaining(res.Warnings, "pv1") != 1 || countContaining(res.Warnings, "pv2") != 1 {
			t.Errorf("warnings = %v", res.Warnings)
		}
		if len(res.Errors) != 0 || len(res.VolumeBackups) != 0 {
			t.Errorf("errors %v volumes %v", res.Errors, res.VolumeBackups)
		}
	})
	t.Run("snapshots with tags, a failure is an error", func(t *testing.T) {
		e := newEnv()
		e.snap.fail = map[string]bool{"pv2": true}
		res, _, err := e.run(t, arkv1.BackupSpec{})
		if err != nil {
			t.Fatal(err)
		}
		if got := e.rec.list(); fmt.Sprint(got) != "[snapshot pv1 snapshot pv2]" {
			t.Errorf("calls = %v", got)
		}
		if v := res.VolumeBackups["pv1"]; v == nil || v.SnapshotID != "snap-pv1" || len(res.VolumeBackups) != 1 {
			t.Errorf("volume backups = %v", res.VolumeBackups)
		}
		if len(res.Errors) != 1 || !strings.Contains(res.Errors[0], "pv2") || !strings.Contains(res.Errors[0], "quota exceeded") {
			t.Errorf("errors = %v", res.Errors)
		}
		if tags := e.snap.tags["pv1"]; tags[BackupNameTag] != "b" || tags[PVNameTag] != "pv1" {
			t.Errorf("tags = %v", tags)
		}
		var st arkv1.BackupStatus
		res.ApplyTo(&st)
		if st.Errors != 1 || st.VolumeBackups["pv1"].SnapshotID != "snap-pv1" || st.Version != 1 {
			t.Errorf("status = %+v", st)
		}
	})
	t.Run("snapshotVolumes false", func(t *testing.T) {
		e := newEnv()
		res, _, err := e.run(t, arkv1.BackupSpec{SnapshotVolumes: ptr.To(false)})
		if err != nil {
			t.Fatal(err)
		}
		if len(e.rec.list()) != 0 || len(res.Warnings) != 0 || len(res.VolumeBackups) != 0 {
			t.Errorf("calls %v warnings %v", e.rec.list(), res.Warnings)
		}
	})
	t.Run("only volumes in the backup", func(t *testing.T) {
		e := newEnv()
		_, _, err := e.run(t, arkv1.BackupSpec{IncludedNamespaces: []string{"ns2"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(e.rec.list()) != 0 {
			t.Errorf("calls %v", e.rec.list())
		}
	})
}

func hookSpec(name string, onError arkv1.HookErrorMode, timeout time.Duration, ns []string, sel map[string]string) arkv1.BackupResourceHookSpec {
	h := arkv1.BackupResourceHookSpec{
		Name:               name,
		IncludedNamespaces: ns,
		Pre: []arkv1.BackupResourceHook{
			{Exec: &arkv1.ExecHook{Command: []string{"fsfreeze", "--freeze", "/data"}, OnError: onError, Timeout: metav1.Duration{Duration: timeout}}},
		},
		Post: []arkv1.BackupResourceHook{
			{Exec: &arkv1.ExecHook{Container: "sidecar", Command: []string{"fsfreeze", "--unfreeze", "/data"}, OnError: onError}},
		},
	}
	if sel != nil {
		h.LabelSelector = &metav1.LabelSelector{MatchLabels: sel}
	}
	return h
}

func TestHooks(t *testing.T) {
	objs := append(testObjects(), pod("ns2", "p2", nil), pod("ns1", "p3", map[string]string{"app": "other"}))

	t.Run("pre, snapshot, post around the pod", func(t *testing.T) {
		e := newEnv(objs...)
		var pods []string
		e.dyn.PrependReactor("list", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
			e.rec.add("list pods")
			return false, nil, nil
		})
		_ = pods
		res, tb, err := e.run(t, arkv1.BackupSpec{Hooks: arkv1.BackupHooks{Resources: []arkv1.BackupResourceHookSpec{
			hookSpec("freeze", "", 0, []string{"ns1"}, nginx),
		}}})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{
			"list pods",
			"exec ns1/p1/main fsfreeze --freeze /data",
			"snapshot pv1",
			"exec ns1/p1/sidecar fsfreeze --unfreeze /data",
			"snapshot pv2",
		}
		if got := e.rec.list(); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("sequence:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
		}
		if len(res.Errors) != 0 {
			t.Errorf("errors %v", res.Errors)
		}
		if _, ok := tb.files["resources/pods/namespaces/ns1/p1.json"]; !ok {
			t.Error("p1 not written")
		}
		if !strings.Contains(e.log.String(), "ran fsfreeze") {
			t.Errorf("hook output not logged")
		}
	})

	t.Run("continue records an error", func(t *testing.T) {
		e := newEnv(objs...)
		e.exec.fn = func(ctx context.Context, cmd []string) error {
			return errors.New("command terminated with exit code 1")
		}
		res, tb, err := e.run(t, arkv1.BackupSpec{Hooks: arkv1.BackupHooks{Resources: []arkv1.BackupResourceHookSpec{
			hookSpec("freeze", arkv1.HookErrorModeContinue, 0, nil, nil),
		}}})
		if err != nil {
			t.Fatal(err)
		}
		// 3 pods x (pre + post)
		if n := countContaining(res.Errors, "Hook failed"); n != 6 {
			t.Errorf("hook errors = %d: %v", n, res.Errors)
		}
		if _, ok := tb.files["resources/pods/namespaces/ns2/p2.json"]; !ok {
			t.Error("p2 not written")
		}
	})

	t.Run("fail fails the backup", func(t *testing.T) {
		e := newEnv(objs...)
		e.exec.fn = func(ctx context.Context, cmd []string) error { return errors.New("exit 1") }
		res, _, err := e.run(t, arkv1.BackupSpec{Hooks: arkv1.BackupHooks{Resources: []arkv1.BackupResourceHookSpec{
			hookSpec("freeze", arkv1.HookErrorModeFail, 0, []string{"ns2"}, nil),
		}}})
		if !errors.Is(err, errHookFailed) || !strings.Contains(err.Error(), "ns2/p2") {
			t.Fatalf("err = %v", err)
		}
		if !strings.Contains(e.log.String(), `"msg":"Backup failed"`) {
			t.Errorf("failure not logged:\n%s", e.log.String())
		}
		if len(res.Errors) != 1 {
			t.Errorf("errors = %v", res.Errors)
		}
		if n := countContaining(e.rec.list(), "exec"); n != 1 {
			t.Errorf("exec after failure: %v", e.rec.list())
		}
	})

	t.Run("timeout", func(t *testing.T) {
		e := newEnv(objs...)
		e.exec.fn = func(ctx context.Context, cmd []string) error {
			if cmd[1] == "--freeze" {
				time.Sleep(2 * time.Second) // ignores its context
				return nil
			}
			<-ctx.Done()
			return ctx.Err()
		}
		start := time.Now()
		spec := hookSpec("slow", "", 50*time.Millisecond, []string{"ns2"}, nil)
		spec.Post[0].Exec.Timeout = metav1.Duration{Duration: 50 * time.Millisecond}
		res, _, err := e.run(t, arkv1.BackupSpec{Hooks: arkv1.BackupHooks{Resources: []arkv1.BackupResourceHookSpec{spec}}})
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("took %v", d)
		}
		if n := countContaining(res.Errors, "timed out after 50ms"); n != 2 {
			t.Errorf("errors = %v", res.Errors)
		}
	})

	t.Run("no executor", func(t *testing.T) {
		e := newEnv(objs...)
		b := NewBackupper(e.disc, e.dyn, nil, nil, nil)
		backup := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Spec: arkv1.BackupSpec{
			IncludedNamespaces: []string{"ns2"},
			Hooks:              arkv1.BackupHooks{Resources: []arkv1.BackupResourceHookSpec{hookSpec("h", "", 0, nil, nil)}},
		}}
		res, err := b.Backup(context.Background(), backup, io.Discard, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if n := countContaining(res.Errors, "no pod command executor"); n != 2 {
			t.Errorf("errors = %v", res.Errors)
		}
	})
}

func TestProgressAndLog(t *testing.T) {
	var objs []runtime.Object
	objs = append(objs, obj("v1", "Namespace", "", "big", nil, nil))
	for i := 0; i < 250; i++ {
		objs = append(objs, obj("v1", "ConfigMap", "big", fmt.Sprintf("cm-%03d", i), nil, nil))
	}
	e := newEnv(objs...)
	res, _, err := e.run(t, arkv1.BackupSpec{IncludedResources: []string{"configmaps"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.ItemsBackedUp != 251 {
		t.Errorf("items = %d", res.ItemsBackedUp)
	}
	var got []string
	for _, p := range e.progress {
		got = append(got, fmt.Sprintf("%d/%d", p.ItemsBackedUp, p.TotalItems))
	}
	if fmt.Sprint(got) != "[100/250 200/250 251/251]" {
		t.Errorf("progress = %v", got)
	}
	lines := strings.Split(strings.TrimSpace(e.log.String()), "\n")
	included := 0
	skipped := 0
	for _, l := range lines {
		var entry struct{ Time, Level, Msg, Backup, Resource, Reason string }
		if err := json.Unmarshal([]byte(l), &entry); err != nil {
			t.Fatalf("bad log line %q: %v", l, err)
		}
		if entry.Time != "2026-11-22T01:00:00Z" || entry.Backup != "b" || entry.Level == "" || entry.Msg == "" {
			t.Errorf("log line %q", l)
		}
		if entry.Msg == "Item backed up" {
			included++
		}
		if entry.Msg == "Resource skipped" && entry.Resource == "secrets" && entry.Reason != "" {
			skipped++
		}
	}
	if included != 251 || skipped != 1 {
		t.Errorf("included %d skipped %d", included, skipped)
	}
}

type failingDiscovery struct{ *discovery.Helper }

func (failingDiscovery) FailedGroups() map[schema.GroupVersion]error {
	return map[schema.GroupVersion]error{{Group: "metrics.k8s.io", Version: "v1beta1"}: errors.New("503")}
}

func TestFailedDiscoveryGroupIsAWarning(t *testing.T) {
	e := newEnv()
	b := NewBackupper(failingDiscovery{e.disc}, e.dyn, nil, nil, nil)
	res, err := b.Backup(context.Background(), &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "b"},
		Spec: arkv1.BackupSpec{IncludedNamespaces: []string{"ns3"}}}, io.Discard, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "metrics.k8s.io/v1beta1") {
		t.Errorf("warnings = %v", res.Warnings)
	}
}

type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n -= len(p); w.n < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestWholeBackupFailures(t *testing.T) {
	e := newEnv()
	b := NewBackupper(e.disc, e.dyn, nil, nil, nil)
	backup := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "b"}}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Backup(ctx, backup, io.Discard, nil, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	// gzip buffers; a tiny limit fails at the latest when the stream is closed.
	if _, err := b.Backup(context.Background(), backup, &failingWriter{n: 10}, nil, nil); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("write error: %v", err)
	}
	e.dyn.PrependReactor("list", "namespaces", func(a clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "namespaces"}, "", errors.New("no"))
	})
	if _, err := b.Backup(context.Background(), backup, io.Discard, nil, nil); err == nil || !strings.Contains(err.Error(), "resourceVersion") {
		t.Errorf("first list: %v", err)
	}
}

// The CSI provider's VolumeSnapshots of earlier backups are not backed up;
// other VolumeSnapshots are.
func TestSkipsArksOwnVolumeSnapshots(t *testing.T) {
	saved := testResources
	defer func() { testResources = saved }()
	testResources = append(append([]apiRes{}, saved...), apiRes{"snapshot.storage.k8s.io/v1", "volumesnapshots", "VolumeSnapshot", true, nil, nil})
	e := newEnv(
		obj("v1", "Namespace", "", "ns1", nil, nil),
		obj("snapshot.storage.k8s.io/v1", "VolumeSnapshot", "ns1", "ark-old-data", map[string]string{BackupNameTag: "old"}, nil),
		obj("snapshot.storage.k8s.io/v1", "VolumeSnapshot", "ns1", "users-own", nil, nil),
	)
	_, tb, err := e.run(t, arkv1.BackupSpec{IncludedNamespaces: []string{"ns1"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"metadata/version", "resources/volumesnapshots.snapshot.storage.k8s.io/namespaces/ns1/users-own.json", "resources/namespaces/cluster/ns1.json"}
	sort.Strings(want)
	got := append([]string{}, tb.names...)
	sort.Strings(got)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("tarball:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
