//go:build integration

package e2e

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/heptio/ark/pkg/format"
)

var (
	deploymentsGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	replicaSetsGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}
	servicesGVR    = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	podsGVR        = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
)

// The seed's quickstart: back up the nginx example by label, lose its
// namespace, restore it, and find the objects as they were.
func TestQuickstart(t *testing.T) {
	ctx := context.Background()
	e := startArk(t, testCluster, envOptions{})
	if err := testCluster.ApplyYAML(ctx, filepath.Join(repoRoot, "examples", "nginx-app", "base.yaml")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = testCluster.DeleteNamespaceAndWait(context.Background(), "nginx-example", 2*time.Minute) })
	const ns = "nginx-example"
	dyn := testCluster.Dynamic()

	// The deployment controller makes a ReplicaSet (and it, Pods) labelled app=nginx:
	// wait for them so the backup's expected content is settled.
	var want []string
	waitFor(t, "the ReplicaSet and its Pods", func() bool {
		rs, _ := dyn.Resource(replicaSetsGVR).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=nginx"})
		pods, _ := dyn.Resource(podsGVR).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=nginx"})
		if rs == nil || pods == nil || len(rs.Items) != 1 || len(pods.Items) != 2 {
			return false
		}
		want = []string{
			"resources/namespaces/cluster/nginx-example.json",
			"resources/deployments.apps/namespaces/nginx-example/nginx-deployment.json",
			"resources/services/namespaces/nginx-example/my-nginx.json",
			"resources/replicasets.apps/namespaces/nginx-example/" + rs.Items[0].GetName() + ".json",
		}
		for _, p := range pods.Items {
			want = append(want, "resources/pods/namespaces/nginx-example/"+p.GetName()+".json")
		}
		return true
	})
	before := map[string]*unstructured.Unstructured{}
	for name, gvr := range map[string]schema.GroupVersionResource{"nginx-deployment": deploymentsGVR, "my-nginx": servicesGVR} {
		obj, err := dyn.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		before[gvr.Resource] = obj
	}

	out := e.mustRun("backup", "create", "nginx-backup", "--selector", "app=nginx", "--wait")
	if !strings.Contains(out, `Backup "nginx-backup" finished: Completed`) {
		t.Fatalf("backup output:\n%s", out)
	}
	if out := e.mustRun("backup", "get"); !strings.Contains(out, "nginx-backup   Completed") || !strings.Contains(out, "app=nginx") {
		t.Errorf("backup get:\n%s", out)
	}

	// The tarball holds exactly the objects labelled app=nginx.
	tarball := filepath.Join(t.TempDir(), "nginx.tar.gz")
	e.mustRun("backup", "download", "nginx-backup", "-o", tarball)
	got := tarEntries(t, tarball)
	sort.Strings(want)
	if diff := cmp.Diff(append([]string{"metadata/version"}, want...), got); diff != "" {
		t.Errorf("backup contents (-want +got):\n%s", diff)
	}
	if out := e.mustRun("backup", "logs", "nginx-backup", "-o", "json"); !strings.Contains(out, `"backup":"nginx-backup"`) {
		t.Errorf("backup logs:\n%s", out)
	}
	for _, f := range []string{"nginx-backup.tar.gz", "nginx-backup-logs.gz", "ark-backup.json"} {
		if _, err := os.Stat(filepath.Join(e.bucket, "ark", "nginx-backup", f)); err != nil {
			t.Errorf("bucket: %v", err)
		}
	}

	// The disaster.
	if err := testCluster.DeleteNamespaceAndWait(ctx, ns, 2*time.Minute); err != nil {
		t.Fatal(err)
	}

	out = e.mustRun("restore", "create", "nginx-backup", "--wait")
	if !strings.Contains(out, "finished: Completed") {
		t.Fatalf("restore output:\n%s", out)
	}
	out = e.mustRun("restore", "get")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "NAME BACKUP STATUS WARNINGS ERRORS CREATED SELECTOR" {
		t.Fatalf("restore get:\n%s", out)
	}
	if f := strings.Fields(lines[1]); !strings.HasPrefix(f[0], "nginx-backup-") || f[1] != "nginx-backup" || f[2] != "Completed" || f[3] != "0" || f[4] != "0" {
		t.Errorf("restore get row: %q", lines[1])
	}

	// Field by field, apart from what the API server sets, the objects are back.
	restoreName := strings.Fields(lines[1])[0]
	for resource, orig := range before {
		gvr := map[string]schema.GroupVersionResource{"deployments": deploymentsGVR, "services": servicesGVR}[resource]
		restored, err := dyn.Resource(gvr).Namespace(ns).Get(ctx, orig.GetName(), metav1.GetOptions{})
		if err != nil {
			t.Fatalf("%s %s was not restored: %v", resource, orig.GetName(), err)
		}
		if restored.GetLabels()[format.RestoreNameLabel] != restoreName {
			t.Errorf("%s lacks the label %s=%s: %v", resource, format.RestoreNameLabel, restoreName, restored.GetLabels())
		}
		if diff := cmp.Diff(comparable(orig), comparable(restored)); diff != "" {
			t.Errorf("%s %s differs after restore (-before +after):\n%s", resource, orig.GetName(), diff)
		}
	}
}

// comparable strips what the API server sets, so an object and its restored
// copy compare equal.
func comparable(obj *unstructured.Unstructured) map[string]any {
	o := obj.DeepCopy()
	for _, f := range []string{"uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink"} {
		unstructured.RemoveNestedField(o.Object, "metadata", f)
	}
	labels := o.GetLabels()
	delete(labels, format.RestoreNameLabel)
	o.SetLabels(labels)
	annotations := o.GetAnnotations()
	delete(annotations, "deployment.kubernetes.io/revision")
	o.SetAnnotations(annotations)
	unstructured.RemoveNestedField(o.Object, "status")
	if o.GetKind() == "Service" {
		unstructured.RemoveNestedField(o.Object, "spec", "clusterIP")
		unstructured.RemoveNestedField(o.Object, "spec", "clusterIPs")
		ports, _, _ := unstructured.NestedSlice(o.Object, "spec", "ports")
		for _, p := range ports {
			delete(p.(map[string]any), "nodePort")
		}
		_ = unstructured.SetNestedSlice(o.Object, ports, "spec", "ports")
	}
	return o.Object
}

func tarEntries(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
	sort.Strings(names)
	return names
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
