package restore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	k8stesting "k8s.io/client-go/testing"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/format"
)

type panickingRestorer struct{}

func (panickingRestorer) RestoreVolume(context.Context, *unstructured.Unstructured, *arkv1.VolumeBackupInfo) (*unstructured.Unstructured, error) {
	panic("boom")
}

// renamingRestorer "restores" a volume by pointing the PV at a new volume ID.
type renamingRestorer struct{ calls []string }

func (r *renamingRestorer) RestoreVolume(_ context.Context, pv *unstructured.Unstructured, info *arkv1.VolumeBackupInfo) (*unstructured.Unstructured, error) {
	r.calls = append(r.calls, pv.GetName())
	if info.SnapshotID == "bad" {
		return nil, errors.New("snapshot not found")
	}
	out := pv.DeepCopy()
	_ = unstructured.SetNestedField(out.Object, "vol-from-"+info.SnapshotID, "spec", "awsElasticBlockStore", "volumeID")
	return out, nil
}

func backupWithSnapshots(snaps map[string]string) *arkv1.Backup {
	b := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "b1"}}
	b.Status.VolumeBackups = map[string]*arkv1.VolumeBackupInfo{}
	for pv, id := range snaps {
		b.Status.VolumeBackups[pv] = &arkv1.VolumeBackupInfo{SnapshotID: id}
	}
	return b
}

func crdObject(group, plural, kind string) map[string]any {
	return obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", plural+"."+group, map[string]any{
		"spec": map[string]any{
			"group":    group,
			"scope":    "Namespaced",
			"names":    map[string]any{"plural": plural, "kind": kind, "singular": strings.ToLower(kind)},
			"versions": []any{map[string]any{"name": "v1", "served": true, "storage": true}},
		},
		"status": map[string]any{"conditions": []any{map[string]any{"type": "Established", "status": "True"}}},
	})
}

func cm(ns, name string) map[string]any {
	return obj("v1", "ConfigMap", ns, name, map[string]any{"data": map[string]any{"k": "v"}})
}

// collapse removes consecutive duplicates.
func collapse(in []string) []string {
	var out []string
	for _, s := range in {
		if len(out) == 0 || out[len(out)-1] != s {
			out = append(out, s)
		}
	}
	return out
}

// inGroupOrder says whether got (resources, consecutive duplicates
// collapsed) holds each resource of groups once, the groups in their order,
// the resources within a group in any order.
func inGroupOrder(got []string, groups [][]string) bool {
	var want []string
	for _, g := range groups {
		if len(got) < len(want)+len(g) {
			return false
		}
		part := slices.Clone(got[len(want) : len(want)+len(g)])
		slices.Sort(part)
		if !slices.Equal(part, slices.Sorted(slices.Values(g))) {
			return false
		}
		want = append(want, g...)
	}
	return len(got) == len(want)
}

func TestGroups(t *testing.T) {
	for _, tc := range []struct {
		name  string
		plan  []string
		named []string
		want  [][]string
	}{
		{name: "empty"},
		{
			name:  "named resources and prerequisites alone, the others together",
			plan:  []string{crdResource, "namespaces", "secrets", "configmaps", "deployments.apps", "services", "widgets.example.com", "validatingwebhookconfigurations.admissionregistration.k8s.io"},
			named: []string{crdResource, "namespaces", "secrets", "configmaps"},
			want: [][]string{{crdResource}, {"namespaces"}, {"secrets"}, {"configmaps"},
				{"deployments.apps", "services", "widgets.example.com"}, {"validatingwebhookconfigurations.admissionregistration.k8s.io"}},
		},
		{
			name:  "a prerequisite the priorities do not name cuts the unordered run",
			plan:  []string{crdResource, "configmaps", "jobs.batch", "persistentvolumeclaims", "persistentvolumes", "pods", "serviceaccounts", "services"},
			named: []string{"configmaps"},
			want:  [][]string{{crdResource}, {"configmaps"}, {"jobs.batch"}, {"persistentvolumeclaims"}, {"persistentvolumes"}, {"pods"}, {"serviceaccounts"}, {"services"}},
		},
		{
			name: "nothing named: one group between the prerequisites",
			plan: []string{"cronjobs.batch", "deployments.apps", "namespaces", "pods", "services"},
			want: [][]string{{"cronjobs.batch", "deployments.apps"}, {"namespaces"}, {"pods", "services"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			named := map[string]bool{}
			for _, n := range tc.named {
				named[n] = true
			}
			if got := groups(tc.plan, named); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("groups\n got %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestInterleave(t *testing.T) {
	for _, tc := range []struct {
		name string
		seqs [][]string
		stop int // stop after this many (0: take all)
		want []string
	}{
		{name: "none"},
		{name: "one", seqs: [][]string{{"a1", "a2"}}, want: []string{"a1", "a2"}},
		{name: "in turn, the longest last", seqs: [][]string{{"d1", "d2"}, {"s1", "s2", "s3", "s4"}, {}, {"w1"}},
			want: []string{"d1", "s1", "w1", "d2", "s2", "s3", "s4"}},
		{name: "the consumer stops early", seqs: [][]string{{"d1", "d2"}, {"s1", "s2"}}, stop: 3,
			want: []string{"d1", "s1", "d2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var seqs []iter.Seq[string]
			for _, s := range tc.seqs {
				seqs = append(seqs, slices.Values(s))
			}
			var got []string
			for v := range interleave(seqs) {
				got = append(got, v)
				if len(got) == tc.stop {
					break
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestRestoreGroupWorkers checks that one group's items share one pool of
// Options.Workers: with 3 workers and 40 items of three resources, at most 3
// creates are in flight at once, and more than one resource is in flight at
// some moment.
func TestRestoreGroupWorkers(t *testing.T) {
	var entries []tarEntry
	for i := range 20 {
		entries = append(entries, item(t, "services", obj("v1", "Service", "ns1", fmt.Sprintf("s%02d", i), nil)))
	}
	for i := range 20 {
		entries = append(entries, item(t, "deployments.apps", obj("apps/v1", "Deployment", "ns1", fmt.Sprintf("d%02d", i), nil)))
	}
	env := newTestEnv(t, Options{Workers: 3})
	var mu sync.Mutex
	inFlight := map[string]int{}
	maxTotal, mixed := 0, false
	// The fake client serializes its calls: the count is taken around them.
	counting := &countingClient{Interface: env.client}
	env.restorer = NewRestorer(env.helper, counting, Options{Workers: 3, CRDWaiter: env.waiter, TempDir: env.tempDir})
	counting.hook = func(resource string) func() {
		mu.Lock()
		inFlight[resource]++
		total, kinds := 0, 0
		for _, n := range inFlight {
			total += n
			if n > 0 {
				kinds++
			}
		}
		maxTotal = max(maxTotal, total)
		mixed = mixed || kinds > 1
		mu.Unlock()
		time.Sleep(2 * time.Millisecond) // let the others catch up
		return func() {
			mu.Lock()
			inFlight[resource]--
			mu.Unlock()
		}
	}
	res, log := env.run(t, newRestore("r1", nil), nil, makeTarball(t, entries...))
	if res.Failed != 0 || res.Restored != 40 {
		t.Fatalf("restored %d failed %d: %v\n%s", res.Restored, res.Failed, res.Results.Errors, log)
	}
	if maxTotal > 3 {
		t.Errorf("%d creates in flight at once, want at most 3", maxTotal)
	}
	if !mixed {
		t.Errorf("the two resources of one group were never created side by side")
	}
}

// countingClient calls hook around every create; the function hook returns
// is called when the create is done.
type countingClient struct {
	dynamic.Interface
	hook func(resource string) func()
}

func (c *countingClient) Resource(gvr schema.GroupVersionResource) dynamic.NamespaceableResourceInterface {
	return countingResource{NamespaceableResourceInterface: c.Interface.Resource(gvr), c: c, resource: gvr.Resource}
}

type countingResource struct {
	dynamic.NamespaceableResourceInterface
	c        *countingClient
	resource string
}

func (r countingResource) Namespace(ns string) dynamic.ResourceInterface {
	return countingNamespaced{ResourceInterface: r.NamespaceableResourceInterface.Namespace(ns), r: r}
}

func (r countingResource) Create(ctx context.Context, obj *unstructured.Unstructured, opts metav1.CreateOptions, sub ...string) (*unstructured.Unstructured, error) {
	defer r.c.hook(r.resource)()
	return r.NamespaceableResourceInterface.Create(ctx, obj, opts, sub...)
}

type countingNamespaced struct {
	dynamic.ResourceInterface
	r countingResource
}

func (n countingNamespaced) Create(ctx context.Context, obj *unstructured.Unstructured, opts metav1.CreateOptions, sub ...string) (*unstructured.Unstructured, error) {
	defer n.r.c.hook(n.r.resource)()
	return n.ResourceInterface.Create(ctx, obj, opts, sub...)
}

func TestRestoreOrder(t *testing.T) {
	entries := func(t *testing.T) []tarEntry {
		return []tarEntry{
			item(t, "services", obj("v1", "Service", "ns1", "s", map[string]any{"spec": map[string]any{"clusterIP": "10.0.0.1"}})),
			item(t, "deployments.apps", obj("apps/v1", "Deployment", "ns1", "d", nil)),
			item(t, "widgets.example.com", obj("example.com/v1", "Widget", "ns1", "w", nil)),
			item(t, "limitranges", obj("v1", "LimitRange", "ns1", "l", nil)),
			item(t, "serviceaccounts", obj("v1", "ServiceAccount", "ns1", "sa", nil)),
			item(t, "configmaps", cm("ns1", "c1")),
			item(t, "configmaps", cm("ns1", "c2")),
			item(t, "secrets", obj("v1", "Secret", "ns1", "sec", nil)),
			item(t, "persistentvolumeclaims", obj("v1", "PersistentVolumeClaim", "ns1", "pvc", nil)),
			item(t, "persistentvolumes", obj("v1", "PersistentVolume", "", "pv", map[string]any{"spec": map[string]any{"persistentVolumeReclaimPolicy": "Retain"}})),
			item(t, "clusterroles.rbac.authorization.k8s.io", obj("rbac.authorization.k8s.io/v1", "ClusterRole", "", "cr", nil)),
			item(t, "namespaces", obj("v1", "Namespace", "", "ns1", nil)),
			item(t, "customresourcedefinitions.apiextensions.k8s.io", crdObject("example.com", "widgets", "Widget")),
			item(t, "validatingwebhookconfigurations.admissionregistration.k8s.io", obj("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "", "vwh", nil)),
		}
	}
	tests := []struct {
		name       string
		priorities []string
		workers    int
		// want is the order of the groups; within a group (the resources
		// the priorities leave unordered) any order is right.
		want [][]string
	}{
		{
			name: "default priorities",
			want: [][]string{{"customresourcedefinitions"}, {"namespaces"}, {"limitranges"}, {"persistentvolumes"}, {"persistentvolumeclaims"}, {"secrets"}, {"configmaps"},
				{"serviceaccounts"}, {"clusterroles"}, {"deployments", "services", "widgets"}, {"validatingwebhookconfigurations"}},
		},
		{
			name:    "default priorities, one worker",
			workers: 1,
			want: [][]string{{"customresourcedefinitions"}, {"namespaces"}, {"limitranges"}, {"persistentvolumes"}, {"persistentvolumeclaims"}, {"secrets"}, {"configmaps"},
				{"serviceaccounts"}, {"clusterroles"}, {"deployments", "services", "widgets"}, {"validatingwebhookconfigurations"}},
		},
		{
			// CRDs first although not named; short and qualified names resolve.
			name:       "custom priorities",
			priorities: []string{"cm", "deployments.apps", "ns", "secrets"},
			// The Namespace object is restored with the first object in it;
			// prerequisites stay groups of their own.
			want: [][]string{{"customresourcedefinitions"}, {"namespaces"}, {"configmaps"}, {"deployments"}, {"secrets"},
				{"clusterroles"}, {"limitranges"}, {"persistentvolumeclaims"}, {"persistentvolumes"}, {"serviceaccounts"}, {"services", "widgets"}, {"validatingwebhookconfigurations"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestEnv(t, Options{ResourcePriorities: tc.priorities, Workers: tc.workers})
			res, log := env.run(t, newRestore("r1", nil), nil, makeTarball(t, entries(t)...))
			if res.Failed != 0 || res.Restored != 14 {
				t.Fatalf("restored %d failed %d: %v\n%s", res.Restored, res.Failed, res.Results.Errors, log)
			}
			if got := collapse(env.creates()); !inGroupOrder(got, tc.want) {
				t.Errorf("create order\n got %v\nwant %v", got, tc.want)
			}
			// The webhook, restored last, is reported.
			if w := res.Results.Warnings[""]; len(w) != 1 || !strings.Contains(w[0], "validatingwebhookconfigurations.admissionregistration.k8s.io vwh: restored an admission webhook") {
				t.Errorf("warnings %q, want one about the webhook", w)
			}
			if !slices.Equal(env.waiter.waited, []string{"widgets.example.com"}) {
				t.Errorf("waited for %v", env.waiter.waited)
			}
		})
	}
}

func TestRestoreNamespaceMapping(t *testing.T) {
	nsA := obj("v1", "Namespace", "", "a", map[string]any{"metadata": map[string]any{"labels": map[string]any{"team": "blue", "kubernetes.io/metadata.name": "a"}}})
	nsC := obj("v1", "Namespace", "", "c", nil)
	contents := makeTarball(t,
		item(t, "namespaces", nsA), item(t, "namespaces", nsC),
		item(t, "configmaps", cm("a", "one")), item(t, "configmaps", cm("b", "two")), item(t, "configmaps", cm("c", "three")),
		item(t, "persistentvolumes", obj("v1", "PersistentVolume", "", "pv1", map[string]any{"spec": map[string]any{
			"persistentVolumeReclaimPolicy": "Retain",
			"claimRef":                      map[string]any{"kind": "PersistentVolumeClaim", "namespace": "b", "name": "data", "uid": "old", "resourceVersion": "7"},
		}})),
	)
	env := newTestEnv(t, Options{})
	res, log := env.run(t, newRestore("r1", func(s *arkv1.RestoreSpec) {
		s.NamespaceMapping = map[string]string{"a": "x", "b": "y"}
	}), nil, contents)
	if res.Failed != 0 {
		t.Fatalf("errors: %v\n%s", res.Results.Errors, log)
	}
	x := env.get(t, gvrNamespaces, "", "x")
	if l := x.GetLabels(); l["team"] != "blue" || l["kubernetes.io/metadata.name"] != "x" || l[format.RestoreNameLabel] != "r1" {
		t.Errorf("namespace x labels %v", l)
	}
	y := env.get(t, gvrNamespaces, "", "y") // not in the backup: created bare
	if y.GetLabels()[format.RestoreNameLabel] != "r1" {
		t.Errorf("namespace y labels %v", y.GetLabels())
	}
	env.get(t, gvrNamespaces, "", "c")
	for _, n := range []string{"a", "b"} {
		if env.exists(gvrNamespaces, "", n) {
			t.Errorf("source namespace %s created", n)
		}
	}
	env.get(t, gvrConfigMaps, "x", "one")
	env.get(t, gvrConfigMaps, "y", "two")
	env.get(t, gvrConfigMaps, "c", "three")
	pv := env.get(t, gvrPVs, "", "pv1")
	claim, _, _ := unstructured.NestedMap(pv.Object, "spec", "claimRef")
	if claim["namespace"] != "y" || claim["uid"] != nil || claim["resourceVersion"] != nil || claim["name"] != "data" {
		t.Errorf("claimRef %v", claim)
	}
	want := []ItemRef{
		{Resource: "configmaps", Namespace: "c", Name: "three"},
		{Resource: "configmaps", Namespace: "x", Name: "one"},
		{Resource: "configmaps", Namespace: "y", Name: "two"},
		{Resource: "namespaces", Name: "c"},
		{Resource: "namespaces", Name: "x"},
		{Resource: "namespaces", Name: "y"},
		{Resource: "persistentvolumes", Name: "pv1"},
	}
	if !reflect.DeepEqual(res.Items, want) {
		t.Errorf("items\n got %v\nwant %v", res.Items, want)
	}
	if res.Restored != 6 || res.TotalItems != 6 {
		t.Errorf("restored %d of %d", res.Restored, res.TotalItems)
	}
}

func TestRestoreCleansObjects(t *testing.T) {
	ctrl := false
	deploy := obj("apps/v1", "Deployment", "ns1", "d", map[string]any{
		"metadata": map[string]any{
			"deletionTimestamp":          "2026-11-21T11:00:00Z",
			"deletionGracePeriodSeconds": int64(30),
			"ownerReferences":            []any{map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": "x", "controller": ctrl}},
			"annotations":                map[string]any{"keep": "me"},
		},
		"spec":   map[string]any{"replicas": int64(2)},
		"status": map[string]any{"replicas": int64(2)},
	})
	svc := obj("v1", "Service", "ns1", "np", map[string]any{"spec": map[string]any{
		"type": "NodePort", "clusterIP": "10.0.0.9", "clusterIPs": []any{"10.0.0.9"},
		"ports": []any{map[string]any{"port": int64(80), "nodePort": int64(30080)}},
	}, "status": map[string]any{"loadBalancer": map[string]any{}}})
	headless := obj("v1", "Service", "ns1", "headless", map[string]any{"spec": map[string]any{"clusterIP": "None", "clusterIPs": []any{"None"}}})
	lb := obj("v1", "Service", "ns1", "lb", map[string]any{"spec": map[string]any{"type": "LoadBalancer", "clusterIP": "10.0.0.10", "healthCheckNodePort": int64(31000), "externalTrafficPolicy": "Local"}})
	widget := obj("example.com/v1", "Widget", "ns1", "w", map[string]any{"spec": map[string]any{"size": int64(3)}, "status": map[string]any{"state": "ready"}})
	job := obj("batch/v1", "Job", "ns1", "j", map[string]any{"spec": map[string]any{
		"selector": map[string]any{"matchLabels": map[string]any{"batch.kubernetes.io/controller-uid": "old"}},
		"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"batch.kubernetes.io/controller-uid": "old", "controller-uid": "old", "job-name": "j"}}},
	}})
	pod := obj("v1", "Pod", "ns1", "p", map[string]any{"spec": map[string]any{"nodeName": "node-7", "priority": int64(10), "containers": []any{map[string]any{"name": "c", "image": "nginx"}}}})
	env := newTestEnv(t, Options{})
	env.disc.add(gvrWidgets.GroupVersion(), metav1.APIResource{Name: "widgets", Kind: "Widget", Namespaced: true}) // CRD already there
	res, log := env.run(t, newRestore("r1", nil), nil, makeTarball(t,
		item(t, "deployments.apps", deploy), item(t, "services", svc), item(t, "services", headless), item(t, "services", lb),
		item(t, "widgets.example.com", widget), item(t, "jobs.batch", job), item(t, "pods", pod),
	))
	if res.Failed != 0 || res.Restored != 7 {
		t.Fatalf("restored %d: %v\n%s", res.Restored, res.Results.Errors, log)
	}
	d := env.get(t, gvrDeploy, "ns1", "d")
	md := d.Object["metadata"].(map[string]any)
	for _, f := range serverSetMetadata {
		if _, ok := md[f]; ok {
			t.Errorf("metadata.%s kept: %v", f, md[f])
		}
	}
	if _, ok := d.Object["status"]; ok {
		t.Errorf("deployment status kept")
	}
	if d.GetAnnotations()["keep"] != "me" || d.GetLabels()["app"] != "demo" || d.GetLabels()[format.RestoreNameLabel] != "r1" {
		t.Errorf("labels %v annotations %v", d.GetLabels(), d.GetAnnotations())
	}
	if r, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas"); r != 2 {
		t.Errorf("spec.replicas = %d", r)
	}

	s := env.get(t, gvrServices, "ns1", "np")
	if _, ok, _ := unstructured.NestedFieldNoCopy(s.Object, "spec", "clusterIP"); ok {
		t.Errorf("clusterIP kept")
	}
	if _, ok, _ := unstructured.NestedFieldNoCopy(s.Object, "spec", "clusterIPs"); ok {
		t.Errorf("clusterIPs kept")
	}
	ports, _, _ := unstructured.NestedSlice(s.Object, "spec", "ports")
	if _, ok := ports[0].(map[string]any)["nodePort"]; ok || ports[0].(map[string]any)["port"] != int64(80) {
		t.Errorf("ports %v", ports)
	}
	h := env.get(t, gvrServices, "ns1", "headless")
	if ip, _, _ := unstructured.NestedString(h.Object, "spec", "clusterIP"); ip != "None" {
		t.Errorf("headless clusterIP %q", ip)
	}
	l := env.get(t, gvrServices, "ns1", "lb")
	if _, ok, _ := unstructured.NestedFieldNoCopy(l.Object, "spec", "healthCheckNodePort"); ok {
		t.Errorf("healthCheckNodePort kept")
	}
	w := env.get(t, gvrWidgets, "ns1", "w")
	if st, _, _ := unstructured.NestedString(w.Object, "status", "state"); st != "ready" {
		t.Errorf("custom resource status dropped: %v", w.Object)
	}
	j := env.get(t, schemaGVR("batch", "v1", "jobs"), "ns1", "j")
	if _, ok, _ := unstructured.NestedFieldNoCopy(j.Object, "spec", "selector"); ok {
		t.Errorf("job selector kept")
	}
	if tl, _, _ := unstructured.NestedStringMap(j.Object, "spec", "template", "metadata", "labels"); !reflect.DeepEqual(tl, map[string]string{"job-name": "j"}) {
		t.Errorf("job template labels %v", tl)
	}
	p := env.get(t, gvrPods, "ns1", "p")
	if _, ok, _ := unstructured.NestedFieldNoCopy(p.Object, "spec", "nodeName"); ok {
		t.Errorf("pod nodeName kept")
	}
}

func TestRestoreSkips(t *testing.T) {
	yes := true
	owned := func(o map[string]any, kind string) map[string]any {
		o["metadata"].(map[string]any)["ownerReferences"] = []any{map[string]any{"apiVersion": "apps/v1", "kind": kind, "name": "owner", "uid": "u", "controller": yes}}
		return o
	}
	tests := []struct {
		name     string
		resource string
		obj      map[string]any
		extra    map[string]map[string]any // more items, by resource
		existing []runtime.Object
		reason   string // "" = restored
		warning  string
	}{
		{name: "node", resource: "nodes", obj: obj("v1", "Node", "", "n1", nil), reason: "nodes belong to the cluster"},
		{name: "core event", resource: "events", obj: obj("v1", "Event", "ns1", "e1", nil), reason: "events are not restored"},
		{name: "events.k8s.io event", resource: "events.events.k8s.io", obj: obj("events.k8s.io/v1", "Event", "ns1", "e2", nil), reason: "events are not restored"},
		{name: "ark backup", resource: "backups.ark.heptio.com", obj: obj("ark.heptio.com/v1", "Backup", "heptio-ark", "b", nil), reason: "ark's own resources"},
		{
			name: "pod of a replicaset in the backup", resource: "pods", obj: owned(obj("v1", "Pod", "ns1", "p1", nil), "ReplicaSet"),
			extra:  map[string]map[string]any{"replicasets.apps": obj("apps/v1", "ReplicaSet", "ns1", "owner", nil)},
			reason: "controlled by ReplicaSet owner (in the backup)",
		},
		{
			name: "replicaset of a deployment in the backup", resource: "replicasets.apps", obj: owned(obj("apps/v1", "ReplicaSet", "ns1", "rs", nil), "Deployment"),
			extra:  map[string]map[string]any{"deployments.apps": obj("apps/v1", "Deployment", "ns1", "owner", nil)},
			reason: "controlled by Deployment owner (in the backup)",
		},
		{
			name: "pod of a replicaset in the cluster", resource: "pods", obj: owned(obj("v1", "Pod", "ns1", "p2", nil), "ReplicaSet"),
			existing: []runtime.Object{&unstructured.Unstructured{Object: obj("apps/v1", "ReplicaSet", "ns1", "owner", nil)}},
			reason:   "controlled by ReplicaSet owner (in the cluster)",
		},
		{
			name: "pod of a replicaset nowhere", resource: "pods", obj: owned(obj("v1", "Pod", "ns1", "p3", nil), "ReplicaSet"),
			warning: "pods ns1/p3: restored without its controller ReplicaSet owner, which is neither restored nor in the cluster",
		},
		{name: "mirror pod", resource: "pods", obj: obj("v1", "Pod", "ns1", "static", map[string]any{"metadata": map[string]any{"annotations": map[string]any{"kubernetes.io/config.mirror": "x"}}}), reason: "mirror pod"},
		{name: "bare pod", resource: "pods", obj: obj("v1", "Pod", "ns1", "bare", nil)},
		{
			name: "endpoints of a service with a selector", resource: "endpoints", obj: obj("v1", "Endpoints", "ns1", "web", nil),
			extra:  map[string]map[string]any{"services": obj("v1", "Service", "ns1", "web", map[string]any{"spec": map[string]any{"selector": map[string]any{"app": "web"}}})},
			reason: "managed by the endpoints controller",
		},
		{
			name: "endpoints of a service without a selector", resource: "endpoints", obj: obj("v1", "Endpoints", "ns1", "ext", nil),
			extra: map[string]map[string]any{"services": obj("v1", "Service", "ns1", "ext", nil)},
		},
		{
			name: "managed endpointslice", resource: "endpointslices.discovery.k8s.io",
			obj:    obj("discovery.k8s.io/v1", "EndpointSlice", "ns1", "web-abc", map[string]any{"metadata": map[string]any{"labels": map[string]any{"endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}}}),
			reason: "managed by endpointslice-controller.k8s.io",
		},
		{name: "no create verb", resource: "componentstatuses", obj: obj("v1", "ComponentStatus", "", "etcd-0", nil), reason: "does not support create"},
		{
			name: "owned PVC is kept", resource: "persistentvolumeclaims",
			obj: owned(obj("v1", "PersistentVolumeClaim", "ns1", "data-0", nil), "StatefulSet"),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			entries := []tarEntry{item(t, tc.resource, tc.obj)}
			for r, e := range tc.extra {
				entries = append(entries, item(t, r, e))
			}
			env := newTestEnv(t, Options{}, tc.existing...)
			res, log := env.run(t, newRestore("r1", nil), nil, makeTarball(t, entries...))
			u := unstructured.Unstructured{Object: tc.obj}
			createdIt := false
			for _, it := range res.Items {
				if it.Resource == tc.resource && it.Name == u.GetName() {
					createdIt = true
				}
			}
			if res.Failed != 0 {
				t.Fatalf("errors %v", res.Results.Errors)
			}
			if tc.reason == "" {
				if !createdIt {
					t.Fatalf("not restored:\n%s", log)
				}
				if got := strings.Join(res.Results.Warnings["ns1"], "\n"); got != tc.warning {
					t.Errorf("warnings %q, want %q", got, tc.warning)
				}
				if tc.warning != "" {
					if refs := env.get(t, gvrPods, "ns1", u.GetName()).GetOwnerReferences(); len(refs) != 0 {
						t.Errorf("ownerReferences kept: %v", refs)
					}
				}
				return
			}
			if createdIt || res.Skipped != 1 {
				t.Fatalf("restored=%v skipped=%d\n%s", createdIt, res.Skipped, log)
			}
			found := false
			for _, rec := range parseLog(t, log) {
				if rec["msg"] == "skipped" && rec["name"] == u.GetName() && strings.Contains(fmt.Sprint(rec["reason"]), tc.reason) {
					found = true
				}
			}
			if !found {
				t.Errorf("no skip record with reason %q:\n%s", tc.reason, log)
			}
		})
	}
}

func TestRestoreExistingObjects(t *testing.T) {
	existingCM := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "c1", "namespace": "ns1", "resourceVersion": "999"},
		"data":     map[string]any{"k": "live"},
	}}
	existingNS := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "ns1", "resourceVersion": "5"},
	}}
	env := newTestEnv(t, Options{}, []runtime.Object{existingCM, existingNS}...)
	res, log := env.run(t, newRestore("r1", nil), nil, makeTarball(t,
		item(t, "namespaces", obj("v1", "Namespace", "", "ns1", nil)),
		item(t, "configmaps", cm("ns1", "c1")),
		item(t, "configmaps", cm("ns1", "c2")),
	))
	if res.Existing != 2 || res.Restored != 1 || res.Failed != 0 {
		t.Fatalf("existing %d restored %d failed %d\n%s", res.Existing, res.Restored, res.Failed, log)
	}
	got := env.get(t, gvrConfigMaps, "ns1", "c1")
	if !reflect.DeepEqual(got.Object, existingCM.Object) {
		t.Errorf("existing configmap changed: %v", got.Object)
	}
	if l := env.get(t, gvrNamespaces, "", "ns1").GetLabels(); l != nil {
		t.Errorf("existing namespace relabelled: %v", l)
	}
	wantWarnings := map[string][]string{
		"":    {"namespaces ns1: already exists in the cluster, left untouched"},
		"ns1": {"configmaps ns1/c1: already exists in the cluster, left untouched"},
	}
	if !reflect.DeepEqual(res.Results.Warnings, wantWarnings) {
		t.Errorf("warnings %v", res.Results.Warnings)
	}
	for _, a := range env.client.Actions() {
		if p, ok := a.(k8stesting.PatchActionImpl); ok && len(p.GetPatchOptions().DryRun) > 0 {
			continue // the comparison with the backup
		}
		if v := a.GetVerb(); v == "update" || v == "patch" || v == "delete" {
			t.Errorf("unexpected %s action", v)
		}
	}
	// The Results serialize as the uploaded results file.
	data, err := json.Marshal(res.Results)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"warnings":{"":["namespaces ns1: already exists`) || !strings.Contains(string(data), `"errors":{}`) {
		t.Errorf("results JSON %s", data)
	}
}

func TestRestoreFilters(t *testing.T) {
	labelled := func(o map[string]any, v string) map[string]any {
		o["metadata"].(map[string]any)["labels"] = map[string]any{"tier": v}
		return o
	}
	entries := func(t *testing.T) []tarEntry {
		return []tarEntry{
			item(t, "namespaces", obj("v1", "Namespace", "", "ns1", nil)),
			item(t, "namespaces", obj("v1", "Namespace", "", "ns2", nil)),
			item(t, "configmaps", labelled(cm("ns1", "c1"), "web")),
			item(t, "configmaps", labelled(cm("ns2", "c2"), "db")),
			item(t, "secrets", labelled(obj("v1", "Secret", "ns1", "s1", nil), "web")),
			item(t, "clusterroles.rbac.authorization.k8s.io", obj("rbac.authorization.k8s.io/v1", "ClusterRole", "", "cr", nil)),
			item(t, "persistentvolumes", obj("v1", "PersistentVolume", "", "pv-ns1", map[string]any{"spec": map[string]any{"claimRef": map[string]any{"namespace": "ns1", "name": "x"}}})),
			item(t, "persistentvolumes", obj("v1", "PersistentVolume", "", "pv-ns2", map[string]any{"spec": map[string]any{"claimRef": map[string]any{"namespace": "ns2", "name": "x"}}})),
			item(t, "customresourcedefinitions.apiextensions.k8s.io", crdObject("example.com", "widgets", "Widget")),
			item(t, "customresourcedefinitions.apiextensions.k8s.io", crdObject("other.io", "gadgets", "Gadget")),
			item(t, "widgets.example.com", obj("example.com/v1", "Widget", "ns1", "w", nil)),
		}
	}
	tests := []struct {
		name string
		spec func(*arkv1.RestoreSpec)
		want []string
	}{
		{name: "everything", spec: func(*arkv1.RestoreSpec) {}, want: []string{
			"clusterroles.rbac.authorization.k8s.io cr", "configmaps ns1/c1", "configmaps ns2/c2",
			"customresourcedefinitions.apiextensions.k8s.io gadgets.other.io", "customresourcedefinitions.apiextensions.k8s.io widgets.example.com",
			"namespaces ns1", "namespaces ns2", "persistentvolumes pv-ns1", "persistentvolumes pv-ns2", "secrets ns1/s1", "widgets.example.com ns1/w"}},
		{
			// Cluster-scoped items follow the namespaces: the PV claimed from
			// ns1, the CRD of ns1's widgets; not the cluster role.
			name: "included namespace", spec: func(s *arkv1.RestoreSpec) { s.IncludedNamespaces = []string{"ns1"} },
			want: []string{"configmaps ns1/c1", "customresourcedefinitions.apiextensions.k8s.io widgets.example.com",
				"namespaces ns1", "persistentvolumes pv-ns1", "secrets ns1/s1", "widgets.example.com ns1/w"},
		},
		{
			name: "excluded namespace", spec: func(s *arkv1.RestoreSpec) { s.ExcludedNamespaces = []string{"ns1"} },
			want: []string{"configmaps ns2/c2", "namespaces ns2", "persistentvolumes pv-ns2"},
		},
		{
			name: "included namespace and explicit cluster resource", spec: func(s *arkv1.RestoreSpec) {
				s.IncludedNamespaces = []string{"ns2"}
				s.IncludedResources = []string{"configmaps", "clusterroles", "namespaces"}
			},
			want: []string{"clusterroles.rbac.authorization.k8s.io cr", "configmaps ns2/c2", "namespaces ns2"},
		},
		{
			name: "excluded resources by short and qualified names", spec: func(s *arkv1.RestoreSpec) {
				s.ExcludedResources = []string{"cm", "persistentvolumes", "customresourcedefinitions.apiextensions.k8s.io", "widgets.example.com", "clusterroles"}
			},
			want: []string{"namespaces ns1", "namespaces ns2", "secrets ns1/s1"},
		},
		{
			// The label selector leaves out ns1's Namespace object; ns1 is
			// then created bare for the objects that go into it.
			name: "label selector", spec: func(s *arkv1.RestoreSpec) {
				s.LabelSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "web"}}
			},
			want: []string{"configmaps ns1/c1", "namespaces ns1", "secrets ns1/s1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestEnv(t, Options{})
			res, log := env.run(t, newRestore("r1", tc.spec), nil, makeTarball(t, entries(t)...))
			if res.Failed != 0 {
				t.Fatalf("errors %v\n%s", res.Results.Errors, log)
			}
			var got []string
			for _, it := range res.Items {
				got = append(got, it.String())
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("items\n got %v\nwant %v\n%s", got, tc.want, log)
			}
			if res.Skipped+len(got) < res.TotalItems-1 { // at most one bare namespace
				t.Errorf("skipped %d + restored %d != %d", res.Skipped, len(got), res.TotalItems)
			}
		})
	}
}

// A resource name that neither the cluster nor the backup knows makes the
// restore invalid before anything is created (an exclude with a typo would
// otherwise restore what the operator meant to keep out); a custom resource
// known only from the backup is fine; namespace filters and mapping sources
// that are not in the backup are warnings.
func TestRestoreFilterTyposAndUnknownNamespaces(t *testing.T) {
	entries := func(t *testing.T) []tarEntry {
		return []tarEntry{
			item(t, "namespaces", obj("v1", "Namespace", "", "ns1", nil)),
			item(t, "configmaps", cm("ns1", "c1")),
			item(t, "secrets", obj("v1", "Secret", "ns1", "s1", nil)),
			item(t, "customresourcedefinitions.apiextensions.k8s.io", crdObject("example.com", "widgets", "Widget")),
			item(t, "widgets.example.com", obj("example.com/v1", "Widget", "ns1", "w", nil)),
		}
	}
	t.Run("typo in an exclude", func(t *testing.T) {
		env := newTestEnv(t, Options{})
		r := newRestore("r1", func(s *arkv1.RestoreSpec) { s.ExcludedResources = []string{"secrts"} })
		var log bytes.Buffer
		res, err := env.restorer.Restore(quietContext(), r, nil, bytes.NewReader(makeTarball(t, entries(t)...)), &log, nil)
		var invalid *InvalidError
		if !errors.As(err, &invalid) || !strings.Contains(err.Error(), `excluded resource "secrts"`) || !strings.Contains(err.Error(), "did you mean secrets") {
			t.Fatalf("err = %v, want an InvalidError naming secrts and suggesting secrets", err)
		}
		if res.Restored != 0 || env.exists(schema.GroupVersionResource{Version: "v1", Resource: "secrets"}, "ns1", "s1") {
			t.Errorf("an invalid restore created objects: %+v", res)
		}
	})
	t.Run("custom resource only in the backup, unknown namespaces", func(t *testing.T) {
		env := newTestEnv(t, Options{})
		r := newRestore("r1", func(s *arkv1.RestoreSpec) {
			s.IncludedResources = []string{"widgets", "namespaces", "customresourcedefinitions"}
			s.IncludedNamespaces = []string{"ns1", "ns-typo"}
			s.ExcludedNamespaces = []string{"elsewhere"}
			s.NamespaceMapping = map[string]string{"ns1": "ns1-copy", "nope": "x"}
		})
		res, log := env.run(t, r, nil, makeTarball(t, entries(t)...))
		warnings := strings.Join(res.Results.Warnings[""], "\n")
		for _, want := range []string{`included namespace "ns-typo" is not in the backup`, `excluded namespace "elsewhere" is not in the backup`, `namespace mapping source "nope" is not in the backup`} {
			if !strings.Contains(warnings, want) {
				t.Errorf("warnings lack %q:\n%s\n%s", want, warnings, log)
			}
		}
		if strings.Contains(warnings, `"ns1"`) {
			t.Errorf("a namespace in the backup was warned about:\n%s", warnings)
		}
	})
}

func TestRestoreItemErrors(t *testing.T) {
	bad := file("resources/configmaps/namespaces/ns1/broken.json", []byte(`{"apiVersion":"v1","kind":"ConfigMap",`))
	misplaced := item(t, "configmaps", cm("ns1", "moved"))
	misplaced.hdr.Name = "resources/configmaps/namespaces/ns2/moved.json"
	wrongGroup := item(t, "deployments.apps", obj("v1", "ConfigMap", "ns1", "d", nil))
	unknown := item(t, "gizmos.unknown.io", obj("unknown.io/v1", "Gizmo", "ns1", "g", nil))
	wrongScope := item(t, "configmaps", obj("v1", "ConfigMap", "", "cluster-cm", nil))
	env := newTestEnv(t, Options{})
	res, log := env.run(t, newRestore("r1", nil), nil, makeTarball(t, bad, misplaced, wrongGroup, unknown, wrongScope, item(t, "configmaps", cm("ns1", "good"))))
	if res.Restored != 1 || res.Failed != 5 {
		t.Fatalf("restored %d failed %d\n%v\n%s", res.Restored, res.Failed, res.Results.Errors, log)
	}
	all := strings.Join(append(res.Results.Errors["ns1"], append(res.Results.Errors["ns2"], res.Results.Errors[""]...)...), "\n")
	for _, want := range []string{
		"configmaps ns1/broken: invalid item JSON",
		"configmaps ns2/moved: the object's metadata names",
		"deployments.apps ns1/d: apiVersion \"v1\" does not belong",
		"gizmos.unknown.io ns1/g: resource gizmos.unknown.io is not served by the cluster",
		"configmaps cluster-cm: the backup stores it cluster-scoped",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no error %q in\n%s", want, all)
		}
	}
	env.get(t, gvrConfigMaps, "ns1", "good")
}

func TestRestorePersistentVolumes(t *testing.T) {
	pv := func(name, policy string) map[string]any {
		return obj("v1", "PersistentVolume", "", name, map[string]any{"spec": map[string]any{
			"persistentVolumeReclaimPolicy": policy,
			"awsElasticBlockStore":          map[string]any{"volumeID": "vol-orig-" + name},
			"claimRef":                      map[string]any{"namespace": "ns1", "name": "claim-" + name, "uid": "u"},
		}})
	}
	pvc := func(name, volume string) map[string]any {
		return obj("v1", "PersistentVolumeClaim", "ns1", name, map[string]any{
			"metadata": map[string]any{"annotations": map[string]any{"pv.kubernetes.io/bind-completed": "yes", "pv.kubernetes.io/bound-by-controller": "yes"}},
			"spec":     map[string]any{"volumeName": volume},
		})
	}
	contents := makeTarball(t,
		item(t, "persistentvolumes", pv("snap", "Delete")),
		item(t, "persistentvolumes", pv("badsnap", "Delete")),
		item(t, "persistentvolumes", pv("nosnap-delete", "Delete")),
		item(t, "persistentvolumes", pv("nosnap-retain", "Retain")),
		item(t, "persistentvolumeclaims", pvc("claim-snap", "snap")),
		item(t, "persistentvolumeclaims", pvc("claim-nosnap-delete", "nosnap-delete")),
		item(t, "persistentvolumeclaims", pvc("claim-nosnap-retain", "nosnap-retain")),
	)
	backup := backupWithSnapshots(map[string]string{"snap": "snap-1", "badsnap": "bad"})

	t.Run("with a volume restorer", func(t *testing.T) {
		vr := &renamingRestorer{}
		env := newTestEnv(t, Options{VolumeRestorer: vr, Workers: 1})
		res, log := env.run(t, newRestore("r1", nil), backup, contents)
		if v, _, _ := unstructured.NestedString(env.get(t, gvrPVs, "", "snap").Object, "spec", "awsElasticBlockStore", "volumeID"); v != "vol-from-snap-1" {
			t.Errorf("restored PV volumeID %q", v)
		}
		if env.exists(gvrPVs, "", "badsnap") || env.exists(gvrPVs, "", "nosnap-delete") {
			t.Errorf("PV created without its volume")
		}
		if v, _, _ := unstructured.NestedString(env.get(t, gvrPVs, "", "nosnap-retain").Object, "spec", "awsElasticBlockStore", "volumeID"); v != "vol-orig-nosnap-retain" {
			t.Errorf("retained PV volumeID %q", v)
		}
		if !reflect.DeepEqual(res.Results.Errors[""], []string{"persistentvolumes badsnap: restoring its volume from snapshot bad: snapshot not found"}) {
			t.Errorf("errors %v\n%s", res.Results.Errors, log)
		}
		if w := strings.Join(res.Results.Warnings[""], "\n"); !strings.Contains(w, "persistentvolumes nosnap-delete: not restored: no snapshot of it in the backup and its reclaim policy is Delete") {
			t.Errorf("warnings %v", res.Results.Warnings)
		}
		for claim, want := range map[string]string{"claim-snap": "snap", "claim-nosnap-delete": "", "claim-nosnap-retain": "nosnap-retain"} {
			c := env.get(t, gvrPVCs, "ns1", claim)
			if v, _, _ := unstructured.NestedString(c.Object, "spec", "volumeName"); v != want {
				t.Errorf("%s volumeName %q, want %q", claim, v, want)
			}
			if len(c.GetAnnotations()) != 0 {
				t.Errorf("%s annotations %v", claim, c.GetAnnotations())
			}
		}
	})
	t.Run("PV already there", func(t *testing.T) {
		vr := &renamingRestorer{}
		live := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "PersistentVolume", "metadata": map[string]any{"name": "snap"}}}
		env := newTestEnv(t, Options{VolumeRestorer: vr}, live)
		res, _ := env.run(t, newRestore("r1", nil), backup, contents)
		if slices.Contains(vr.calls, "snap") {
			t.Errorf("a volume was made for an existing PV")
		}
		if w := strings.Join(res.Results.Warnings[""], "\n"); !strings.Contains(w, "persistentvolumes snap: already exists") {
			t.Errorf("warnings %v", res.Results.Warnings)
		}
		c := env.get(t, gvrPVCs, "ns1", "claim-snap")
		if v, _, _ := unstructured.NestedString(c.Object, "spec", "volumeName"); v != "snap" {
			t.Errorf("claim volumeName %q", v)
		}
	})
	t.Run("without a volume restorer", func(t *testing.T) {
		env := newTestEnv(t, Options{})
		res, _ := env.run(t, newRestore("r1", nil), backup, contents)
		errs := strings.Join(res.Results.Errors[""], "\n")
		if !strings.Contains(errs, "persistentvolumes snap: the backup has snapshot snap-1 of it, but no volume restorer is configured") {
			t.Errorf("errors %v", res.Results.Errors)
		}
		if env.exists(gvrPVs, "", "snap") {
			t.Errorf("PV with a snapshot restored without its data")
		}
	})
	t.Run("restorePVs false", func(t *testing.T) {
		vr := &renamingRestorer{}
		env := newTestEnv(t, Options{VolumeRestorer: vr})
		no := false
		res, _ := env.run(t, newRestore("r1", func(s *arkv1.RestoreSpec) { s.RestorePVs = &no }), backup, contents)
		if len(vr.calls) != 0 {
			t.Errorf("volume restorer called for %v", vr.calls)
		}
		if res.Failed != 0 || env.exists(gvrPVs, "", "snap") {
			t.Errorf("failed %d, snap PV exists %v", res.Failed, env.exists(gvrPVs, "", "snap"))
		}
		if w := strings.Join(res.Results.Warnings[""], "\n"); !strings.Contains(w, "persistentvolumes snap: not restored: restorePVs is false") {
			t.Errorf("warnings %v", res.Results.Warnings)
		}
	})
}

func TestRestoreCRDs(t *testing.T) {
	contents := makeTarball(t,
		item(t, "customresourcedefinitions.apiextensions.k8s.io", crdObject("example.com", "widgets", "Widget")),
		item(t, "widgets.example.com", obj("example.com/v1", "Widget", "ns1", "w1", nil)),
	)
	t.Run("established", func(t *testing.T) {
		env := newTestEnv(t, Options{})
		res, log := env.run(t, newRestore("r1", nil), nil, contents)
		if res.Failed != 0 || res.Restored != 2 {
			t.Fatalf("%+v\n%s", res, log)
		}
		env.get(t, gvrWidgets, "ns1", "w1")
		crd := env.get(t, crdGVR, "", "widgets.example.com")
		if _, ok := crd.Object["status"]; ok {
			t.Errorf("CRD status kept")
		}
	})
	t.Run("never established", func(t *testing.T) {
		env := newTestEnv(t, Options{})
		env.waiter.fail["widgets.example.com"] = true
		res, log := env.run(t, newRestore("r1", nil), nil, contents)
		if res.Failed != 1 {
			t.Fatalf("%+v\n%s", res, log)
		}
		errs := strings.Join(append(res.Results.Errors[""], res.Results.Errors["ns1"]...), "\n")
		for _, want := range []string{"widgets.example.com: not Established", "widgets.example.com ns1/w1: resource widgets.example.com is not served"} {
			if !strings.Contains(errs, want) {
				t.Errorf("no %q in %s", want, errs)
			}
		}
	})
}

func TestRestoreLogAndProgress(t *testing.T) {
	var entries []tarEntry
	for i := range 50 {
		entries = append(entries, item(t, "configmaps", cm("ns1", fmt.Sprintf("c%02d", i))))
	}
	entries = append(entries, item(t, "nodes", obj("v1", "Node", "", "n1", nil)))
	env := newTestEnv(t, Options{})
	var reports []arkv1.RestoreProgress
	var log strings.Builder
	res, err := env.restorer.Restore(quietContext(), newRestore("r1", nil), nil, strings.NewReader(string(makeTarball(t, entries...))), &log,
		func(p arkv1.RestoreProgress) { reports = append(reports, p) })
	if err != nil {
		t.Fatal(err)
	}
	if res.Restored != 50 || res.Skipped != 1 {
		t.Fatalf("%+v", res)
	}
	if len(reports) == 0 || reports[len(reports)-1] != (arkv1.RestoreProgress{TotalItems: 51, ItemsRestored: 51}) {
		t.Errorf("progress %v", reports)
	}
	restored, skipped := 0, 0
	for _, rec := range parseLog(t, log.String()) {
		for _, k := range []string{"time", "level", "msg", "restore"} {
			if _, ok := rec[k]; !ok {
				t.Errorf("record without %s: %v", k, rec)
			}
		}
		switch rec["msg"] {
		case "restored":
			restored++
			if rec["resource"] != "configmaps" || rec["namespace"] != "ns1" || rec["name"] == "" || rec["level"] != "INFO" || rec["restore"] != "r1" {
				t.Errorf("bad item record %v", rec)
			}
		case "skipped":
			skipped++
		}
	}
	if restored != 50 || skipped != 1 {
		t.Errorf("log has %d restored and %d skipped records", restored, skipped)
	}
}

func TestRestoreFailsOnBadTarball(t *testing.T) {
	env := newTestEnv(t, Options{})
	var log strings.Builder
	res, err := env.restorer.Restore(quietContext(), newRestore("r1", nil), nil, strings.NewReader("garbage"), &log, nil)
	if !errors.Is(err, ErrInvalidArchive) {
		t.Fatalf("err = %v", err)
	}
	if res == nil || len(res.Results.Errors[""]) != 1 {
		t.Errorf("result %+v", res)
	}
	if !strings.Contains(log.String(), `"level":"ERROR","msg":"restore failed"`) {
		t.Errorf("log %s", log.String())
	}
	assertEmptyDir(t, env.tempDir)
}

func parseLog(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		out = append(out, rec)
	}
	return out
}

func TestRestoreServiceAccountTokenAfterServiceAccount(t *testing.T) {
	token := obj("v1", "Secret", "ns1", "builder-token", map[string]any{
		"type":     "kubernetes.io/service-account-token",
		"metadata": map[string]any{"annotations": map[string]any{"kubernetes.io/service-account.name": "builder", "kubernetes.io/service-account.uid": "old-uid"}},
		"data":     map[string]any{"token": "b2xk", "ca.crt": "Y2E=", "namespace": "bnMx"},
	})
	env := newTestEnv(t, Options{})
	res, log := env.run(t, newRestore("r1", nil), nil, makeTarball(t,
		item(t, "secrets", token),
		item(t, "secrets", obj("v1", "Secret", "ns1", "plain", nil)),
		item(t, "serviceaccounts", obj("v1", "ServiceAccount", "ns1", "builder", nil)),
	))
	if res.Restored != 3 || res.Failed != 0 {
		t.Fatalf("%+v\n%s", res, log)
	}
	var order []string
	for _, a := range env.client.Actions() {
		if a.GetVerb() == "create" {
			order = append(order, a.GetResource().Resource)
		}
	}
	if want := []string{"namespaces", "secrets", "serviceaccounts", "secrets"}; !reflect.DeepEqual(order, want) {
		t.Errorf("create order %v, want %v", order, want)
	}
	s := env.get(t, gvrSecrets, "ns1", "builder-token")
	if _, ok := s.GetAnnotations()["kubernetes.io/service-account.uid"]; ok || s.GetAnnotations()["kubernetes.io/service-account.name"] != "builder" {
		t.Errorf("annotations %v", s.GetAnnotations())
	}
	if data, _, _ := unstructured.NestedStringMap(s.Object, "data"); data["token"] != "" || data["ca.crt"] != "Y2E=" {
		t.Errorf("data %v", data)
	}
}

// claimRestorer restores CSI volumes through their claims, like the csi
// provider: no PV, a claim with a dataSource.
type claimRestorer struct{ claims []string }

func (r *claimRestorer) RestoreVolume(_ context.Context, pv *unstructured.Unstructured, _ *arkv1.VolumeBackupInfo) (*unstructured.Unstructured, error) {
	return nil, nil
}

func (r *claimRestorer) RestoreClaim(_ context.Context, pvc *unstructured.Unstructured, pvName string, info *arkv1.VolumeBackupInfo) (*unstructured.Unstructured, error) {
	r.claims = append(r.claims, pvc.GetNamespace()+"/"+pvc.GetName()+"<-"+pvName)
	out := pvc.DeepCopy()
	unstructured.RemoveNestedField(out.Object, "spec", "volumeName")
	_ = unstructured.SetNestedMap(out.Object, map[string]any{"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "vs-" + info.SnapshotID}, "spec", "dataSource")
	return out, nil
}

func TestRestoreVolumesThroughClaims(t *testing.T) {
	pv := obj("v1", "PersistentVolume", "", "pvc-123", map[string]any{"spec": map[string]any{
		"persistentVolumeReclaimPolicy": "Delete",
		"csi":                           map[string]any{"driver": "hostpath.csi.k8s.io", "volumeHandle": "h"},
		"claimRef":                      map[string]any{"namespace": "app", "name": "data"},
	}})
	pvc := obj("v1", "PersistentVolumeClaim", "app", "data", map[string]any{"spec": map[string]any{"volumeName": "pvc-123"}})
	backup := backupWithSnapshots(map[string]string{"pvc-123": "snap-9"})
	contents := makeTarball(t, item(t, "persistentvolumes", pv), item(t, "persistentvolumeclaims", pvc))

	vr := &claimRestorer{}
	env := newTestEnv(t, Options{VolumeRestorer: vr})
	res, log := env.run(t, newRestore("r1", func(s *arkv1.RestoreSpec) { s.NamespaceMapping = map[string]string{"app": "app2"} }), backup, contents)
	if res.Failed != 0 || res.Restored != 1 || res.Skipped != 1 || res.Results.WarningCount() != 0 {
		t.Fatalf("%+v\n%s", res, log)
	}
	if env.exists(gvrPVs, "", "pvc-123") {
		t.Errorf("PV restored")
	}
	if !reflect.DeepEqual(vr.claims, []string{"app2/data<-pvc-123"}) {
		t.Errorf("RestoreClaim calls %v", vr.claims)
	}
	c := env.get(t, gvrPVCs, "app2", "data")
	if ds, _, _ := unstructured.NestedString(c.Object, "spec", "dataSource", "name"); ds != "vs-snap-9" {
		t.Errorf("claim %v", c.Object["spec"])
	}
	if c.GetLabels()[format.RestoreNameLabel] != "r1" {
		t.Errorf("claim labels %v", c.GetLabels())
	}

	// Restored again: the claim exists, RestoreClaim is not called.
	vr.claims = nil
	res, _ = env.run(t, newRestore("r2", func(s *arkv1.RestoreSpec) { s.NamespaceMapping = map[string]string{"app": "app2"} }), backup, contents)
	if len(vr.claims) != 0 || res.Existing != 1 {
		t.Errorf("second restore: claims %v, %+v", vr.claims, res)
	}
}
