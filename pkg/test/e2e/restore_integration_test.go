//go:build integration

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/format"
	"github.com/heptio/ark/pkg/test/cluster"
)

func createConfigMaps(t *testing.T, c *cluster.Cluster, ns string, names ...string) {
	t.Helper()
	for _, n := range names {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: n, Labels: map[string]string{"app": "e2e"}}, Data: map[string]string{"from": ns}}
		if _, err := c.Client().CoreV1().ConfigMaps(ns).Create(context.Background(), cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// Two namespaces restored under new names in one restore; then the same
// restore onto the now existing objects leaves them untouched: the one
// changed since is a warning, the others are counted unchanged.
func TestRestoreMapsNamespacesAndNeverOverwrites(t *testing.T) {
	ctx := context.Background()
	e := startArk(t, testCluster, envOptions{})
	src1, src2 := testCluster.NewNamespace(t), testCluster.NewNamespace(t)
	createConfigMaps(t, testCluster, src1, "a", "b")
	createConfigMaps(t, testCluster, src2, "c")
	e.mustRun("backup", "create", "two", "--include-namespaces", src1+","+src2, "--selector", "app=e2e", "--wait")

	dst1, dst2 := src1+"-copy", src2+"-copy"
	t.Cleanup(func() {
		for _, ns := range []string{dst1, dst2} {
			_ = testCluster.DeleteNamespaceAndWait(context.Background(), ns, time.Minute)
		}
	})
	mapping := fmt.Sprintf("%s:%s,%s:%s", src1, dst1, src2, dst2)
	out := e.mustRun("restore", "create", "two", "--name", "mapped", "--namespace-mappings", mapping, "--wait")
	if !strings.Contains(out, "finished: Completed") {
		t.Fatalf("restore:\n%s", out)
	}
	for ns, names := range map[string][]string{dst1: {"a", "b"}, dst2: {"c"}} {
		for _, n := range names {
			cm, err := testCluster.Client().CoreV1().ConfigMaps(ns).Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				t.Fatalf("configmap %s/%s not restored: %v", ns, n, err)
			}
			if cm.Labels[format.RestoreNameLabel] != "mapped" {
				t.Errorf("%s/%s labels %v", ns, n, cm.Labels)
			}
		}
	}

	// Change one restored object; a second restore must not overwrite it.
	cm, _ := testCluster.Client().CoreV1().ConfigMaps(dst1).Get(ctx, "a", metav1.GetOptions{})
	cm.Data["from"] = "changed by the user"
	changed, err := testCluster.Client().CoreV1().ConfigMaps(dst1).Update(ctx, cm, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out, err = e.run("restore", "create", "two", "--name", "again", "--namespace-mappings", mapping, "--wait")
	if err != nil || !strings.Contains(out, "finished: Completed") {
		t.Fatalf("second restore: %v\n%s", err, out)
	}
	after, _ := testCluster.Client().CoreV1().ConfigMaps(dst1).Get(ctx, "a", metav1.GetOptions{})
	if after.ResourceVersion != changed.ResourceVersion || after.Data["from"] != "changed by the user" {
		t.Errorf("an existing object was overwritten: %v", after.Data)
	}
	r, err := e.ark.ArkV1().Restores(e.namespace).Get(ctx, "again", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The changed object is a warning; those equal to the backup are unchanged.
	if r.Status.Warnings != 1 || r.Status.Errors != 0 || r.Status.Unchanged < 2 {
		t.Errorf("second restore: %d warnings, %d errors, %d unchanged; want 1 warning (the changed object), 0 errors, >= 2 unchanged", r.Status.Warnings, r.Status.Errors, r.Status.Unchanged)
	}
	out = e.mustRun("restore", "describe", "again")
	if !strings.Contains(out, "configmaps "+dst1+"/a: already exists") {
		t.Errorf("describe lacks the warning for %s/a:\n%s", dst1, out)
	}
}

// A restore of a missing backup, or with a bad mapping, fails validation with reasons.
func TestRestoreValidation(t *testing.T) {
	ctx := context.Background()
	e := startArk(t, testCluster, envOptions{})
	for name, spec := range map[string]arkv1.RestoreSpec{
		"missing-backup": {BackupName: "nowhere"},
	} {
		r := &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Namespace: e.namespace, Name: name}, Spec: spec}
		if _, err := e.ark.ArkV1().Restores(e.namespace).Create(ctx, r, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "validation of "+name, func() bool {
			got, err := e.ark.ArkV1().Restores(e.namespace).Get(ctx, name, metav1.GetOptions{})
			return err == nil && got.Status.Phase == arkv1.RestorePhaseFailedValidation
		})
		got, _ := e.ark.ArkV1().Restores(e.namespace).Get(ctx, name, metav1.GetOptions{})
		if len(got.Status.ValidationErrors) == 0 || !strings.Contains(got.Status.ValidationErrors[0], "nowhere") {
			t.Errorf("%s: validation errors %v", name, got.Status.ValidationErrors)
		}
	}
}

// Cluster migration: a second, fresh control plane whose Config points at the
// same bucket restores the first one's backup.
func TestClusterMigration(t *testing.T) {
	ctx := context.Background()
	first := startArk(t, testCluster, envOptions{})
	app := testCluster.NewNamespace(t)
	createConfigMaps(t, testCluster, app, "settings")
	first.mustRun("backup", "create", "move-me", "--include-namespaces", app, "--wait")

	second, err := cluster.Start(ctx, cluster.Options{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = second.Stop() }) // after the second server stops: cleanups run last-in first-out
	if err := second.ApplyCRDs(ctx, repoRoot+"/config/crd"); err != nil {
		t.Fatal(err)
	}
	bucket := first.bucket
	e2 := startArk(t, second, envOptions{config: func(c *arkv1.Config) { c.BackupStorageProvider.Config["root"] = bucket }})
	out := e2.mustRun("restore", "create", "move-me", "--wait")
	if !strings.Contains(out, "finished: Completed") {
		t.Fatalf("restore in the second cluster:\n%s", out)
	}
	cm, err := second.Client().CoreV1().ConfigMaps(app).Get(ctx, "settings", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the configmap did not arrive in the second cluster: %v", err)
	}
	if cm.Data["from"] != app {
		t.Errorf("data = %v", cm.Data)
	}
}
