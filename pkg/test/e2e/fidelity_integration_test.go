//go:build integration

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Issue 16, input 2, through the server and the CLI: a PriorityClass and a
// Pod using it, backed up with --include-cluster-resources, both deleted,
// restored: Completed, the Pod with priority 1000. Then a drifted object is
// brought back with --existing-resource-policy update, and describe lists it.
func TestRestorePriorityClassThenUpdateExisting(t *testing.T) {
	ctx := context.Background()
	kube := testCluster.Client()
	e := startArk(t, testCluster, envOptions{})
	deletePC := func() {
		if err := kube.SchedulingV1().PriorityClasses().Delete(ctx, "high", metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
	}
	deleteNS := func() {
		if err := testCluster.DeleteNamespaceAndWait(ctx, "pc-src", 2*time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	deletePC()
	deleteNS()
	t.Cleanup(func() { deletePC(); deleteNS() })
	if _, err := kube.SchedulingV1().PriorityClasses().Create(ctx, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "high"}, Value: 1000}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "pc-src"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.CoreV1().Pods("pc-src").Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "app"},
		Spec:       corev1.PodSpec{PriorityClassName: "high", Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	createConfigMaps(t, testCluster, "pc-src", "settings")
	e.mustRun("backup", "create", "pc", "--include-namespaces", "pc-src", "--include-cluster-resources", "--wait")

	deleteNS()
	deletePC()
	out, err := e.run("restore", "create", "pc", "--name", "pc", "--wait")
	if err != nil || !strings.Contains(out, "finished: Completed") {
		t.Fatalf("restore: %v\n%s\n%s", err, out, e.mustRun("restore", "describe", "pc"))
	}
	pod, err := kube.CoreV1().Pods("pc-src").Get(ctx, "app", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pod.Spec.Priority == nil || *pod.Spec.Priority != 1000 {
		t.Errorf("restored pod priority %v, want 1000", pod.Spec.Priority)
	}

	// Drift, then bring it back.
	cm, err := kube.CoreV1().ConfigMaps("pc-src").Get(ctx, "settings", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["from"] = "changed"
	if _, err := kube.CoreV1().ConfigMaps("pc-src").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	out, err = e.run("restore", "create", "pc", "--name", "upd", "--include-namespaces", "pc-src", "--existing-resource-policy", "update", "--wait")
	if err != nil || !strings.Contains(out, "finished: Completed") {
		t.Fatalf("update restore: %v\n%s", err, out)
	}
	cm, err = kube.CoreV1().ConfigMaps("pc-src").Get(ctx, "settings", metav1.GetOptions{})
	if err != nil || cm.Data["from"] != "pc-src" {
		t.Errorf("configmap after update: %v %v", cm.Data, err)
	}
	r, err := e.ark.ArkV1().Restores(e.namespace).Get(ctx, "upd", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status.Updated != 1 || r.Status.Warnings != 0 || r.Status.Unchanged == 0 {
		t.Errorf("status: updated %d warnings %d unchanged %d, want 1, 0, > 0", r.Status.Updated, r.Status.Warnings, r.Status.Unchanged)
	}
	desc := e.mustRun("restore", "describe", "upd")
	for _, want := range []string{"Existing objects:", "update", "Updated by namespace", "configmaps pc-src/settings: updated to its backed-up state (data"} {
		if !strings.Contains(desc, want) {
			t.Errorf("describe lacks %q:\n%s", want, desc)
		}
	}
}
