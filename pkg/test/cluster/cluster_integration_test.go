//go:build integration

package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/version"
	"k8s.io/apimachinery/pkg/util/wait"
)

var testCluster *Cluster

// TestMain shows the intended pattern: the work lives in run so that its
// deferred Stop runs before os.Exit.
func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	c, err := Start(ctx, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "cluster up in %v (kubeconfig %s)\n", time.Since(start).Round(time.Millisecond), c.Kubeconfig())
	defer func() {
		start := time.Now()
		if err := c.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping cluster:", err)
		}
		fmt.Fprintf(os.Stderr, "cluster down in %v\n", time.Since(start).Round(time.Millisecond))
	}()
	testCluster = c
	return m.Run()
}

func TestServerVersion(t *testing.T) {
	info, err := testCluster.Client().Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	v, err := version.ParseSemantic(info.GitVersion)
	if err != nil {
		t.Fatalf("server version %q does not parse: %v", info.GitVersion, err)
	}
	if v.Major() != 1 || info.Major != "1" || info.Minor == "" {
		t.Errorf("server version %+v", info)
	}
	t.Logf("server %s", info.GitVersion)
	if cfg := testCluster.RESTConfig(); cfg.QPS < 1000 {
		t.Errorf("RESTConfig QPS = %v, want it raised", cfg.QPS)
	}
}

var (
	widgets = schema.GroupVersionResource{Group: "test.ark.heptio.com", Version: "v1", Resource: "widgets"}
	gadgets = schema.GroupVersionResource{Group: "test.ark.heptio.com", Version: "v1", Resource: "gadgets"}
)

func TestApplyCRDs(t *testing.T) {
	ctx := t.Context()
	// Twice: the second call takes the update path.
	for i := 0; i < 2; i++ {
		if err := testCluster.ApplyCRDs(ctx, "testdata/crd.yaml"); err != nil {
			t.Fatalf("ApplyCRDs #%d: %v", i, err)
		}
	}
	ns := testCluster.NewNamespace(t)
	w := &unstructured.Unstructured{Object: map[string]interface{}{
		"apiVersion": "test.ark.heptio.com/v1",
		"kind":       "Widget",
		"metadata":   map[string]interface{}{"name": "w1"},
		"spec":       map[string]interface{}{"size": int64(3)},
	}}
	if _, err := testCluster.Dynamic().Resource(widgets).Namespace(ns).Create(ctx, w, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating a Widget: %v", err)
	}
	if err := testCluster.ApplyCRDs(ctx, "testdata/manifest.yaml"); err == nil {
		t.Error("ApplyCRDs of non-CRD manifests: want an error")
	}
}

func TestApplyYAML(t *testing.T) {
	ctx := t.Context()
	const ns = "harness-apply-yaml"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := testCluster.DeleteNamespaceAndWait(ctx, ns, time.Minute); err != nil {
			t.Error(err)
		}
	})
	if err := testCluster.ApplyCRDs(ctx, "testdata/crd.yaml"); err != nil {
		t.Fatal(err)
	}
	// Twice: server-side apply is idempotent.
	for i := 0; i < 2; i++ {
		if err := testCluster.ApplyYAML(ctx, "testdata/manifest.yaml"); err != nil {
			t.Fatalf("ApplyYAML #%d: %v", i, err)
		}
	}
	for _, tc := range []struct {
		gvr       schema.GroupVersionResource
		namespace string
		name      string
	}{
		{corev1.SchemeGroupVersion.WithResource("namespaces"), "", ns},
		{corev1.SchemeGroupVersion.WithResource("configmaps"), ns, "settings"},
		{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, ns, "web"},
		{widgets, ns, "small"},
		{gadgets, "", "cluster-wide"},
	} {
		if _, err := testCluster.Dynamic().Resource(tc.gvr).Namespace(tc.namespace).Get(ctx, tc.name, metav1.GetOptions{}); err != nil {
			t.Errorf("%s %s/%s: %v", tc.gvr.Resource, tc.namespace, tc.name, err)
		}
	}
	if err := testCluster.Dynamic().Resource(gadgets).Delete(ctx, "cluster-wide", metav1.DeleteOptions{}); err != nil {
		t.Error(err)
	}
	// The deployment and replicaset controllers run: the Deployment gets a
	// ReplicaSet (its pods are never scheduled: there are no nodes).
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		rs, err := testCluster.Client().AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: labels.Set{"app": "web"}.String()})
		return err == nil && len(rs.Items) == 1, nil
	})
	if err != nil {
		t.Errorf("no ReplicaSet for the Deployment: %v", err)
	}
}

// TestNamespaceLifecycle proves the controller-manager works: a namespace
// with content is only removed once its namespace controller emptied it.
func TestNamespaceLifecycle(t *testing.T) {
	ctx := t.Context()
	ns := testCluster.NewNamespace(t)
	cms := testCluster.Client().CoreV1().ConfigMaps(ns)
	for _, name := range []string{"deleted", "kept"} {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"k": "v"}}
		if _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := cms.Delete(ctx, "deleted", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Get(ctx, "deleted", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("deleted ConfigMap: got err %v, want NotFound", err)
	}
	// The serviceaccount controller creates "default" in every namespace.
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := testCluster.Client().CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Errorf("no default ServiceAccount in %s: %v", ns, err)
	}
	start := time.Now()
	if err := testCluster.DeleteNamespaceAndWait(ctx, ns, time.Minute); err != nil {
		t.Fatal(err)
	}
	t.Logf("namespace %s with a ConfigMap deleted in %v", ns, time.Since(start).Round(time.Millisecond))
}

// TestApplyArkCRDs applies ark's own CRDs (config/crd) when they exist, which
// also checks that the apiserver accepts them.
func TestApplyArkCRDs(t *testing.T) {
	root, err := FindRepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "config", "crd")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("no %s: %v", dir, err)
	}
	start := time.Now()
	if err := testCluster.ApplyCRDs(t.Context(), dir); err != nil {
		t.Fatal(err)
	}
	t.Logf("applied %s in %v", dir, time.Since(start).Round(time.Millisecond))
}
