//go:build integration

// Integration tests of the restore engine against a real kube-apiserver and
// kube-controller-manager (see pkg/test/cluster):
//
//	go test -tags integration ./pkg/restore/ -run Integration -v
//	go test -tags integration ./pkg/restore/ -run '^$' -bench BenchmarkRestore10kConfigMaps -benchtime 1x
//
// Set ARK_TEST_KUBECONFIG to reuse a running cluster
// (eval "$(hack/local-cluster.sh up)"; ARK_TEST_KUBECONFIG=$KUBECONFIG ...).
package restore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/wait"
	clientdiscovery "k8s.io/client-go/discovery"
	"k8s.io/utils/ptr"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/backup"
	"github.com/heptio/ark/pkg/discovery"
	"github.com/heptio/ark/pkg/format"
	"github.com/heptio/ark/pkg/test/cluster"
)

var testCluster *cluster.Cluster

func TestMain(m *testing.M) {
	os.Exit(cluster.Main(m, func(_ context.Context, c *cluster.Cluster) (func(), error) {
		testCluster = c
		return nil, nil
	}))
}

func newRealRestorer(t testing.TB, opts Options) *Restorer {
	t.Helper()
	dc, err := clientdiscovery.NewDiscoveryClientForConfig(testCluster.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	if opts.TempDir == "" {
		opts.TempDir = t.TempDir()
	}
	opts.ListItems = true
	return NewRestorer(discovery.NewHelper(dc), testCluster.Dynamic(), opts)
}

func runRealRestore(t testing.TB, r *Restorer, restore *arkv1.Restore, contents []byte) (*Result, string) {
	t.Helper()
	return runRealRestoreTimeout(t, r, restore, contents, 3*time.Minute)
}

func runRealRestoreTimeout(t testing.TB, r *Restorer, restore *arkv1.Restore, contents []byte, timeout time.Duration) (*Result, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var log bytes.Buffer
	res, err := r.Restore(ctx, restore, nil, bytes.NewReader(contents), &log, nil)
	if err != nil {
		t.Fatalf("restore failed: %v\nlog:\n%s", err, log.String())
	}
	assertEmptyDir(t, r.opts.TempDir)
	return res, log.String()
}

// targetNamespace returns a fresh namespace name, deleted when the test ends.
func targetNamespace(t testing.TB, prefix string) string {
	name := prefix + "-" + rand.String(6)
	t.Cleanup(func() {
		err := testCluster.Client().CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting namespace %s: %v", name, err)
		}
	})
	return name
}

// liveTarball writes the given live objects into a tarball in ark's layout,
// as the API server returned them.
func liveTarball(t testing.TB, objs map[schema.GroupResource][]unstructured.Unstructured) []byte {
	t.Helper()
	entries := []tarEntry{file("metadata/version", []byte("1\n"))}
	for gr, list := range objs {
		for _, o := range list {
			data, err := json.Marshal(o.Object)
			if err != nil {
				t.Fatal(err)
			}
			p := path.Join("resources", gr.String(), "cluster", o.GetName()+".json")
			if ns := o.GetNamespace(); ns != "" {
				p = path.Join("resources", gr.String(), "namespaces", ns, o.GetName()+".json")
			}
			entries = append(entries, file(p, data))
		}
	}
	return makeTarball(t, entries...)
}

func list(t testing.TB, gvr schema.GroupVersionResource, ns string) []unstructured.Unstructured {
	t.Helper()
	l, err := testCluster.Dynamic().Resource(gvr).Namespace(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range l.Items {
		// A list's items lack apiVersion/kind; the backup sets them.
		l.Items[i].SetAPIVersion(gvr.GroupVersion().String())
		l.Items[i].SetKind(strings.TrimSuffix(l.GetKind(), "List"))
	}
	return l.Items
}

// createNginx creates the nginx example app in ns.
func createNginx(t *testing.T, ns string) {
	t.Helper()
	ctx := context.Background()
	kube := testCluster.Client()
	app := map[string]string{"app": "nginx"}
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "nginx-sa", Labels: app}}, metav1.CreateOptions{}))
	must(kube.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "nginx-conf", Labels: app}, Data: map[string]string{"nginx.conf": "events {}"}}, metav1.CreateOptions{}))
	must(kube.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "nginx-secret", Labels: app}, StringData: map[string]string{"password": "not-a-real-secret"}}, metav1.CreateOptions{}))
	must(kube.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "my-nginx", Labels: app},
		Spec:       corev1.ServiceSpec{Selector: app, Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80}}},
	}, metav1.CreateOptions{}))
	must(kube.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "nginx-deployment", Labels: app},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: app},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: app},
				Spec:       corev1.PodSpec{ServiceAccountName: "nginx-sa", Containers: []corev1.Container{{Name: "nginx", Image: "nginx:1.27"}}},
			},
		},
	}, metav1.CreateOptions{}))
	// The controllers' objects: a replica set and its pods (the test control
	// plane runs no endpoints controllers).
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=nginx"})
		return err == nil && len(pods.Items) == 2, nil
	})
	if err != nil {
		t.Fatalf("waiting for the deployment's pods: %v", err)
	}
}

var (
	gvrReplicaSets    = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}
	gvrEndpoints      = schema.GroupVersionResource{Version: "v1", Resource: "endpoints"}
	gvrEndpointSlices = schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}
)

// nginxTarball backs up the namespaces (by hand, in ark's layout): the
// nginx objects, the controllers' replica sets, pods, endpoints and endpoint
// slices, and the namespaces themselves.
func nginxTarball(t *testing.T, namespaces ...string) []byte {
	objs := map[schema.GroupResource][]unstructured.Unstructured{}
	for _, ns := range namespaces {
		for _, gvr := range []schema.GroupVersionResource{gvrDeploy, gvrReplicaSets, gvrPods, gvrServices, gvrEndpoints, gvrEndpointSlices, gvrConfigMaps, gvrSecrets, gvrSAs} {
			for _, o := range list(t, gvr, ns) {
				// The default service account is left out: the target
				// namespace gets its own (restoring it would be an
				// "already exists" warning or not, by a race with the
				// service account controller). kube-root-ca.crt is kept:
				// the restore skips it.
				if o.GetName() == "default" {
					continue
				}
				objs[gvr.GroupResource()] = append(objs[gvr.GroupResource()], o)
			}
		}
		nsObj, err := testCluster.Dynamic().Resource(gvrNamespaces).Get(context.Background(), ns, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		objs[gvrNamespaces.GroupResource()] = append(objs[gvrNamespaces.GroupResource()], *nsObj)
	}
	return liveTarball(t, objs)
}

func TestIntegrationRestoreNginx(t *testing.T) {
	ctx := context.Background()
	kube := testCluster.Client()
	srcA, srcB := testCluster.NewNamespace(t), testCluster.NewNamespace(t)
	createNginx(t, srcA)
	createNginx(t, srcB)
	contents := nginxTarball(t, srcA, srcB)
	dstA, dstB := targetNamespace(t, "dst-a"), targetNamespace(t, "dst-b")
	mapping := map[string]string{srcA: dstA, srcB: dstB}
	restore := newRestore("nginx-1", func(s *arkv1.RestoreSpec) { s.NamespaceMapping = mapping })

	res, log := runRealRestore(t, newRealRestorer(t, Options{}), restore, contents)
	if res.Results.ErrorCount() != 0 || res.Results.WarningCount() != 0 {
		t.Fatalf("errors %v warnings %v\n%s", res.Results.Errors, res.Results.Warnings, log)
	}
	// Per namespace: the Namespace, 5 nginx objects restored; 1 replica set,
	// 2 pods skipped. kube-root-ca.crt is restored (without its data) or
	// merged, whichever of the restore and the cluster's publisher is first.
	restored := 0
	for _, r := range res.Items {
		if r.Name != "kube-root-ca.crt" {
			restored++
		}
	}
	if restored != 12 || res.Skipped != 6 || res.Restored+res.Updated+res.Unchanged != 14 {
		t.Errorf("restored %d (%d with kube-root-ca.crt) updated %d unchanged %d skipped %d, want 12 (14) and 6\n%s", restored, res.Restored, res.Updated, res.Unchanged, res.Skipped, log)
	}
	for _, rec := range parseLog(t, log) {
		if rec["msg"] != "skipped" {
			continue
		}
		switch {
		case rec["resource"] == "replicasets.apps", rec["resource"] == "pods":
		default:
			t.Errorf("unexpected skip %v", rec)
		}
	}

	for src, dst := range mapping {
		nsObj, err := kube.CoreV1().Namespaces().Get(ctx, dst, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if nsObj.Labels[format.RestoreNameLabel] != "nginx-1" || nsObj.Labels[cluster.TestNamespaceLabel] != "true" {
			t.Errorf("namespace %s labels %v", dst, nsObj.Labels)
		}
		for _, gvr := range []schema.GroupVersionResource{gvrDeploy, gvrServices, gvrConfigMaps, gvrSecrets, gvrSAs} {
			for _, o := range list(t, gvr, src) {
				if o.GetName() == "default" || o.GetName() == "kube-root-ca.crt" {
					continue
				}
				got, err := testCluster.Dynamic().Resource(gvr).Namespace(dst).Get(ctx, o.GetName(), metav1.GetOptions{})
				if err != nil {
					t.Errorf("%s %s/%s: %v", gvr.Resource, dst, o.GetName(), err)
					continue
				}
				if got.GetLabels()[format.RestoreNameLabel] != "nginx-1" || got.GetLabels()["app"] != "nginx" {
					t.Errorf("%s %s/%s labels %v", gvr.Resource, dst, got.GetName(), got.GetLabels())
				}
				if got.GetUID() == o.GetUID() {
					t.Errorf("%s %s/%s has the source's uid", gvr.Resource, dst, got.GetName())
				}
			}
		}
		// The service got its own cluster IP and node port: keeping the
		// source's would have failed (they are taken).
		s1, err := kube.CoreV1().Services(src).Get(ctx, "my-nginx", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s2, err := kube.CoreV1().Services(dst).Get(ctx, "my-nginx", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if s2.Spec.ClusterIP == "" || s2.Spec.ClusterIP == s1.Spec.ClusterIP || s2.Spec.Ports[0].NodePort == 0 || s2.Spec.Ports[0].NodePort == s1.Spec.Ports[0].NodePort {
			t.Errorf("service %s: clusterIP %s nodePort %d (source %s %d)", dst, s2.Spec.ClusterIP, s2.Spec.Ports[0].NodePort, s1.Spec.ClusterIP, s1.Spec.Ports[0].NodePort)
		}
		sec, err := kube.CoreV1().Secrets(dst).Get(ctx, "nginx-secret", metav1.GetOptions{})
		if err != nil || string(sec.Data["password"]) != "not-a-real-secret" {
			t.Errorf("secret: %v %v", sec, err)
		}
		// The restored deployment's controller makes its own replica set.
		d, err := kube.AppsV1().Deployments(dst).Get(ctx, "nginx-deployment", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			rss, err := kube.AppsV1().ReplicaSets(dst).List(ctx, metav1.ListOptions{})
			return err == nil && len(rss.Items) == 1 && metav1.IsControlledBy(&rss.Items[0], d), nil
		})
		if err != nil {
			t.Errorf("no replica set for the restored deployment in %s: %v", dst, err)
		}
	}

	t.Run("onto existing objects", func(t *testing.T) {
		type key struct{ gvr, ns, name string }
		versions := func() map[key]string {
			out := map[key]string{}
			for _, dst := range []string{dstA, dstB} {
				for _, gvr := range []schema.GroupVersionResource{gvrServices, gvrConfigMaps, gvrSecrets, gvrSAs, gvrDeploy} {
					for _, o := range list(t, gvr, dst) {
						v := o.GetResourceVersion()
						if gvr == gvrDeploy {
							v = fmt.Sprint(o.GetGeneration()) // status updates change the resourceVersion
						}
						out[key{gvr.Resource, dst, o.GetName()}] = v
					}
				}
				ns, err := kube.CoreV1().Namespaces().Get(ctx, dst, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				out[key{"namespaces", "", dst}] = ns.ResourceVersion
			}
			return out
		}
		before := versions()
		res, log := runRealRestore(t, newRealRestorer(t, Options{}), newRestore("nginx-2", func(s *arkv1.RestoreSpec) { s.NamespaceMapping = mapping }), contents)
		// Every object equals its backup: all unchanged (the namespaces,
		// 5 nginx objects and kube-root-ca.crt in each), no warnings.
		if res.Restored != 0 || res.Existing != 0 || res.Unchanged != 14 || res.Updated != 0 || res.Results.ErrorCount() != 0 || res.Results.WarningCount() != 0 {
			t.Fatalf("restored %d existing %d unchanged %d updated %d errors %v warnings %v\n%s", res.Restored, res.Existing, res.Unchanged, res.Updated, res.Results.Errors, res.Results.Warnings, log)
		}
		after := versions()
		for k, v := range before {
			if after[k] != v {
				t.Errorf("%v changed: %s -> %s", k, v, after[k])
			}
		}
		cm, err := kube.CoreV1().ConfigMaps(dstA).Get(ctx, "nginx-conf", metav1.GetOptions{})
		if err != nil || cm.Labels[format.RestoreNameLabel] != "nginx-1" {
			t.Errorf("configmap relabelled: %v %v", cm.Labels, err)
		}
	})
}

// A Service whose backed-up cluster IP and node port are taken (by the
// kubernetes service, by another service) is restored with new ones.
func TestIntegrationRestoreServiceNewClusterIP(t *testing.T) {
	ctx := context.Background()
	kube := testCluster.Client()
	k8sSvc, err := kube.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	src := testCluster.NewNamespace(t)
	taken, err := kube.CoreV1().Services(src).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "taken"},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc := obj("v1", "Service", "old", "web", map[string]any{"spec": map[string]any{
		"type":       "NodePort",
		"clusterIP":  k8sSvc.Spec.ClusterIP,
		"clusterIPs": []any{k8sSvc.Spec.ClusterIP},
		"ports":      []any{map[string]any{"port": int64(80), "protocol": "TCP", "nodePort": int64(taken.Spec.Ports[0].NodePort)}},
		"selector":   map[string]any{"app": "web"},
	}, "status": map[string]any{"loadBalancer": map[string]any{}}})
	headless := obj("v1", "Service", "old", "db", map[string]any{"spec": map[string]any{
		"clusterIP": "None", "clusterIPs": []any{"None"}, "ports": []any{map[string]any{"port": int64(5432)}},
	}})
	dst := targetNamespace(t, "svc")
	res, log := runRealRestore(t, newRealRestorer(t, Options{}), newRestore("svc-1", func(s *arkv1.RestoreSpec) {
		s.NamespaceMapping = map[string]string{"old": dst}
	}), makeTarball(t, item(t, "services", svc), item(t, "services", headless)))
	if res.Restored != 2 || res.Results.ErrorCount() != 0 {
		t.Fatalf("%+v\n%s", res, log)
	}
	got, err := kube.CoreV1().Services(dst).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.ClusterIP == "" || got.Spec.ClusterIP == k8sSvc.Spec.ClusterIP || got.Spec.Ports[0].NodePort == 0 || got.Spec.Ports[0].NodePort == taken.Spec.Ports[0].NodePort {
		t.Errorf("clusterIP %s nodePort %d", got.Spec.ClusterIP, got.Spec.Ports[0].NodePort)
	}
	db, err := kube.CoreV1().Services(dst).Get(ctx, "db", metav1.GetOptions{})
	if err != nil || db.Spec.ClusterIP != "None" {
		t.Errorf("headless service: %v %v", db, err)
	}
}

func TestIntegrationRestoreCRD(t *testing.T) {
	ctx := context.Background()
	group := "restoretest-" + rand.String(5) + ".example.com"
	crd := obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "gadgets."+group, map[string]any{
		"spec": map[string]any{
			"group": group,
			"scope": "Namespaced",
			"names": map[string]any{"plural": "gadgets", "singular": "gadget", "kind": "Gadget", "listKind": "GadgetList"},
			"versions": []any{map[string]any{"name": "v1", "served": true, "storage": true, "schema": map[string]any{"openAPIV3Schema": map[string]any{
				"type": "object",
				"properties": map[string]any{
					"spec":   map[string]any{"type": "object", "properties": map[string]any{"size": map[string]any{"type": "integer"}}},
					"status": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true},
				},
			}}}},
		},
		"status": map[string]any{"storedVersions": []any{"v1"}},
	})
	t.Cleanup(func() {
		_ = testCluster.APIExtensions().ApiextensionsV1().CustomResourceDefinitions().Delete(context.Background(), "gadgets."+group, metav1.DeleteOptions{})
	})
	var entries []tarEntry
	entries = append(entries, item(t, "customresourcedefinitions.apiextensions.k8s.io", crd))
	for i := range 3 {
		g := obj(group+"/v1", "Gadget", "src", fmt.Sprintf("g%d", i), map[string]any{"spec": map[string]any{"size": int64(i)}, "status": map[string]any{"phase": "Ready"}})
		entries = append(entries, item(t, "gadgets."+group, g))
	}
	dst := targetNamespace(t, "crd")
	res, log := runRealRestore(t, newRealRestorer(t, Options{}), newRestore("crd-1", func(s *arkv1.RestoreSpec) {
		s.NamespaceMapping = map[string]string{"src": dst}
	}), makeTarball(t, entries...))
	if res.Restored != 4 || res.Results.ErrorCount() != 0 {
		t.Fatalf("%+v\n%s", res, log)
	}
	gvr := schema.GroupVersionResource{Group: group, Version: "v1", Resource: "gadgets"}
	for i := range 3 {
		g, err := testCluster.Dynamic().Resource(gvr).Namespace(dst).Get(ctx, fmt.Sprintf("g%d", i), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if size, _, _ := unstructured.NestedInt64(g.Object, "spec", "size"); size != int64(i) {
			t.Errorf("g%d size %d", i, size)
		}
		// No status subresource: status is ordinary data and kept.
		if phase, _, _ := unstructured.NestedString(g.Object, "status", "phase"); phase != "Ready" {
			t.Errorf("g%d status %v", i, g.Object["status"])
		}
	}
	if !strings.Contains(log, `"msg":"CRDs established and served"`) {
		t.Errorf("no CRD wait in the log:\n%s", log)
	}
}

func TestIntegrationRestoreVeleroFixtures(t *testing.T) {
	ctx := context.Background()
	kube := testCluster.Client()
	t.Run("vnginx", func(t *testing.T) {
		dst := targetNamespace(t, "vnginx")
		res, log := runRealRestore(t, newRealRestorer(t, Options{}), newRestore("vnginx-1", func(s *arkv1.RestoreSpec) {
			s.NamespaceMapping = map[string]string{"nginx-example": dst}
		}), readFixture(t, "vnginx.tar.gz"))
		if res.TotalItems != 6 || res.Restored != 6 || res.Results.ErrorCount() != 0 || res.Results.WarningCount() != 0 {
			t.Fatalf("%+v\n%s", res, log)
		}
		d, err := kube.AppsV1().Deployments(dst).Get(ctx, "nginx-deployment", metav1.GetOptions{})
		if err != nil || *d.Spec.Replicas != 2 || d.Spec.Template.Spec.Containers[0].Image != "nginx:1.25" {
			t.Errorf("deployment %v %v", d, err)
		}
		svc, err := kube.CoreV1().Services(dst).Get(ctx, "my-nginx", metav1.GetOptions{})
		if err != nil || svc.Spec.ClusterIP == "" {
			t.Errorf("service %v %v", svc, err)
		}
		cm, err := kube.CoreV1().ConfigMaps(dst).Get(ctx, "nginx-conf", metav1.GetOptions{})
		if err != nil || len(cm.Data) != 4 {
			t.Errorf("configmap %v %v", cm, err)
		}
		sec, err := kube.CoreV1().Secrets(dst).Get(ctx, "nginx-secret", metav1.GetOptions{})
		if err != nil || string(sec.Data["password"]) != "not-a-real-secret" {
			t.Errorf("secret %v %v", sec, err)
		}
		if _, err := kube.CoreV1().ServiceAccounts(dst).Get(ctx, "nginx-sa", metav1.GetOptions{}); err != nil {
			t.Error(err)
		}
	})
	t.Run("vwidgets", func(t *testing.T) {
		dst := targetNamespace(t, "vwidgets")
		crdExisted := false
		if _, err := testCluster.APIExtensions().ApiextensionsV1().CustomResourceDefinitions().Get(ctx, "widgets.example.com", metav1.GetOptions{}); err == nil {
			crdExisted = true // a reused cluster
		} else {
			t.Cleanup(func() {
				_ = testCluster.APIExtensions().ApiextensionsV1().CustomResourceDefinitions().Delete(context.Background(), "widgets.example.com", metav1.DeleteOptions{})
			})
		}
		res, log := runRealRestore(t, newRealRestorer(t, Options{}), newRestore("vwidgets-1", func(s *arkv1.RestoreSpec) {
			s.NamespaceMapping = map[string]string{"widgets": dst}
		}), readFixture(t, "vwidgets.tar.gz"))
		want := 4
		if crdExisted {
			want = 3
		}
		if res.TotalItems != 4 || res.Restored != want || res.Results.ErrorCount() != 0 {
			t.Fatalf("%+v\n%s", res, log)
		}
		var names []string
		for _, w := range list(t, gvrWidgets, dst) {
			names = append(names, w.GetName())
			if w.GetLabels()[format.RestoreNameLabel] != "vwidgets-1" {
				t.Errorf("%s labels %v", w.GetName(), w.GetLabels())
			}
		}
		sort.Strings(names)
		if strings.Join(names, ",") != "w1,w2" {
			t.Errorf("widgets %v", names)
		}
	})
}

// configMapsTarball holds n ConfigMaps of about 1 KB in namespace "src".
func configMapsTarball(b testing.TB, n int) ([]byte, []*corev1.ConfigMap) {
	var entries []tarEntry
	var cms []*corev1.ConfigMap
	value := strings.Repeat("x", 900)
	for i := range n {
		cm := &corev1.ConfigMap{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: metav1.ObjectMeta{Namespace: "src", Name: fmt.Sprintf("cm-%05d", i), Labels: map[string]string{"app": "bench"}},
			Data:       map[string]string{"value": value},
		}
		data, err := json.Marshal(cm)
		if err != nil {
			b.Fatal(err)
		}
		entries = append(entries, file("resources/configmaps/namespaces/src/"+cm.Name+".json", data))
		cms = append(cms, cm)
	}
	return makeTarball(b, entries...), cms
}

// BenchmarkRestore10kConfigMaps restores 10,000 ~1 KB ConfigMaps into an
// empty namespace with the default pool and with a pool of 1, and creates
// the same ConfigMaps with a plain parallel client-go loop (16 goroutines)
// for reference; restore-vs-raw is the ratio of their times.
func BenchmarkRestore10kConfigMaps(b *testing.B) {
	const n = 10000
	contents, cms := configMapsTarball(b, n)
	kube := testCluster.Client()

	// Each namespace is deleted, and its deletion waited for, before the
	// next measure: the namespace controller emptying 10,000 ConfigMaps
	// would load the apiserver.
	drop := func(b *testing.B, ns string) {
		b.StopTimer()
		defer b.StartTimer()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		if err := testCluster.DeleteNamespaceAndWait(ctx, ns, 10*time.Minute); err != nil {
			b.Fatalf("deleting namespace %s: %v", ns, err)
		}
	}
	raw := func(b *testing.B) time.Duration {
		ns := targetNamespace(b, "bench-raw")
		defer drop(b, ns)
		if _, err := kube.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		jobs := make(chan *corev1.ConfigMap)
		var wg sync.WaitGroup
		for range DefaultWorkers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for cm := range jobs {
					c := cm.DeepCopy()
					c.Namespace = ns
					if _, err := kube.CoreV1().ConfigMaps(ns).Create(context.Background(), c, metav1.CreateOptions{}); err != nil {
						b.Error(err)
					}
				}
			}()
		}
		for _, cm := range cms {
			jobs <- cm
		}
		close(jobs)
		wg.Wait()
		return time.Since(start)
	}
	restore := func(b *testing.B, workers int) time.Duration {
		ns := targetNamespace(b, "bench-restore")
		defer drop(b, ns)
		r := newRealRestorer(b, Options{Workers: workers})
		start := time.Now()
		res, log := runRealRestoreTimeout(b, r, newRestore("bench", func(s *arkv1.RestoreSpec) {
			s.NamespaceMapping = map[string]string{"src": ns}
		}), contents, 30*time.Minute)
		d := time.Since(start)
		if res.Restored != n || res.Results.ErrorCount() != 0 {
			b.Fatalf("restored %d errors %v\n%.2000s", res.Restored, res.Results.Errors, log)
		}
		return d
	}

	for _, tc := range []struct {
		name    string
		workers int
	}{{"pool16", DefaultWorkers}, {"pool1", 1}} {
		b.Run(tc.name, func(b *testing.B) {
			var rawTotal, restoreTotal time.Duration
			for i := range b.N {
				// Alternate which goes first: the second one runs on a
				// warmer apiserver and a bigger etcd.
				if i%2 == 1 {
					restoreTotal += restore(b, tc.workers)
				}
				b.StopTimer()
				rawTotal += raw(b)
				b.StartTimer()
				if i%2 == 0 {
					restoreTotal += restore(b, tc.workers)
				}
			}
			b.ReportMetric(restoreTotal.Seconds()/float64(b.N), "restore-s/op")
			b.ReportMetric(rawTotal.Seconds()/float64(b.N), "raw-s/op")
			b.ReportMetric(restoreTotal.Seconds()/rawTotal.Seconds(), "restore/raw")
			b.ReportMetric(float64(n)*float64(b.N)/restoreTotal.Seconds(), "objects/s")
		})
	}
}

// The backup engine's tarball, restored after the namespace is gone: the
// two engines agree on the format and the app comes back.
func TestIntegrationRoundTripWithBackupEngine(t *testing.T) {
	ctx := context.Background()
	kube := testCluster.Client()
	ns := testCluster.NewNamespace(t)
	createNginx(t, ns)
	before, err := kube.AppsV1().Deployments(ns).Get(ctx, "nginx-deployment", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	dc, err := clientdiscovery.NewDiscoveryClientForConfig(testCluster.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	b := backup.NewBackupper(discovery.NewHelper(dc), testCluster.Dynamic(), nil, nil, nil)
	var contents, blog bytes.Buffer
	bk := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: "heptio-ark", Name: "roundtrip"}, Spec: arkv1.BackupSpec{
		IncludedNamespaces: []string{ns}, SnapshotVolumes: ptr.To(false), IncludeClusterResources: ptr.To(false),
	}}
	if _, err := b.Backup(ctx, bk, &contents, &blog, nil); err != nil {
		t.Fatalf("backup: %v\n%s", err, blog.String())
	}
	if err := testCluster.DeleteNamespaceAndWait(ctx, ns, 2*time.Minute); err != nil {
		t.Fatal(err)
	}

	res, log := runRealRestore(t, newRealRestorer(t, Options{}), newRestore("roundtrip-1", nil), contents.Bytes())
	if res.Results.ErrorCount() != 0 {
		t.Fatalf("errors %v\n%s", res.Results.Errors, log)
	}
	for _, w := range res.Results.Warnings[ns] {
		// The service account controller may make it first.
		if !strings.HasPrefix(w, "serviceaccounts "+ns+"/default:") {
			t.Errorf("warning %q", w)
		}
	}
	nsObj, err := kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil || nsObj.Labels[cluster.TestNamespaceLabel] != "true" || nsObj.Labels[format.RestoreNameLabel] != "roundtrip-1" {
		t.Fatalf("namespace %v %v", nsObj, err)
	}
	after, err := kube.AppsV1().Deployments(ns).Get(ctx, "nginx-deployment", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.UID == before.UID || after.Spec.Template.Spec.Containers[0].Image != "nginx:1.27" || *after.Spec.Replicas != 2 {
		t.Errorf("deployment after the round trip: %+v", after.Spec)
	}
	for _, get := range []func() error{
		func() error {
			_, err := kube.CoreV1().Services(ns).Get(ctx, "my-nginx", metav1.GetOptions{})
			return err
		},
		func() error {
			_, err := kube.CoreV1().ConfigMaps(ns).Get(ctx, "nginx-conf", metav1.GetOptions{})
			return err
		},
		func() error {
			_, err := kube.CoreV1().Secrets(ns).Get(ctx, "nginx-secret", metav1.GetOptions{})
			return err
		},
		func() error {
			_, err := kube.CoreV1().ServiceAccounts(ns).Get(ctx, "nginx-sa", metav1.GetOptions{})
			return err
		},
	} {
		if err := get(); err != nil {
			t.Error(err)
		}
	}
	skipped := map[string]int{}
	for _, rec := range parseLog(t, log) {
		if rec["msg"] == "skipped" {
			skipped[fmt.Sprint(rec["resource"])]++
		}
	}
	if skipped["pods"] != 2 || skipped["replicasets.apps"] != 1 {
		t.Errorf("skipped %v\n%s", skipped, log)
	}
}
