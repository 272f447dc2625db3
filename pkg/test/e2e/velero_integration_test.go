//go:build integration

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
)

// A bucket written by Velero 1.18 (the fixtures in shared/testdata) is restored
// by ark with its layout: velero, read-only: nothing is written into it.
func TestRestoreFromVeleroBucket(t *testing.T) {
	ctx := context.Background()
	fixtures := filepath.Join(repoRoot, "..", "shared", "testdata", "velero-1.18")
	if _, err := os.Stat(fixtures); err != nil {
		t.Skipf("no Velero fixtures: %v", err)
	}
	root := t.TempDir()
	var before []string
	for _, name := range []string{"vnginx", "vwidgets"} {
		dir := filepath.Join(root, "velero", "backups", name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		files, _ := filepath.Glob(filepath.Join(fixtures, name, "*"))
		for _, f := range files {
			data, _ := os.ReadFile(f)
			if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), data, 0o600); err != nil {
				t.Fatal(err)
			}
			before = append(before, filepath.Join(name, filepath.Base(f)))
		}
	}
	e := startArk(t, testCluster, envOptions{config: func(c *arkv1.Config) {
		c.BackupStorageProvider.Bucket = "velero"
		c.BackupStorageProvider.Config = map[string]string{"root": root, "layout": "velero"}
	}})
	nginxNS, widgetsNS := e.namespace+"-nginx", e.namespace+"-widgets"
	t.Cleanup(func() {
		for _, ns := range []string{nginxNS, widgetsNS} {
			_ = testCluster.DeleteNamespaceAndWait(context.Background(), ns, time.Minute)
		}
		_ = testCluster.APIExtensions().ApiextensionsV1().CustomResourceDefinitions().Delete(context.Background(), "widgets.example.com", metav1.DeleteOptions{})
	})

	out := e.mustRun("restore", "create", "vnginx", "--namespace-mappings", "nginx-example:"+nginxNS, "--wait")
	if !strings.Contains(out, "finished: Completed") {
		t.Fatalf("restore of vnginx:\n%s", out)
	}
	kube := testCluster.Client()
	if _, err := kube.AppsV1().Deployments(nginxNS).Get(ctx, "nginx-deployment", metav1.GetOptions{}); err != nil {
		t.Errorf("deployment: %v", err)
	}
	svc, err := kube.CoreV1().Services(nginxNS).Get(ctx, "my-nginx", metav1.GetOptions{})
	if err != nil {
		t.Errorf("service: %v", err)
	} else if svc.Spec.ClusterIP == "10.0.0.174" {
		t.Errorf("the service kept the backed-up clusterIP %s", svc.Spec.ClusterIP)
	}
	for _, get := range []func() error{
		func() error {
			_, err := kube.CoreV1().ConfigMaps(nginxNS).Get(ctx, "nginx-conf", metav1.GetOptions{})
			return err
		},
		func() error {
			_, err := kube.CoreV1().Secrets(nginxNS).Get(ctx, "nginx-secret", metav1.GetOptions{})
			return err
		},
		func() error {
			_, err := kube.CoreV1().ServiceAccounts(nginxNS).Get(ctx, "nginx-sa", metav1.GetOptions{})
			return err
		},
	} {
		if err := get(); err != nil {
			t.Error(err)
		}
	}

	out = e.mustRun("restore", "create", "vwidgets", "--namespace-mappings", "widgets:"+widgetsNS, "--wait")
	if !strings.Contains(out, "finished: Completed") {
		t.Fatalf("restore of vwidgets:\n%s", out)
	}
	widgets := schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}
	list, err := testCluster.Dynamic().Resource(widgets).Namespace(widgetsNS).List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 2 {
		t.Fatalf("widgets restored: %v, %v", list, err)
	}

	// The sync controller lists the Velero backups as Backup objects.
	waitFor(t, "the Velero backups to be synced into the cluster", func() bool {
		for _, name := range []string{"vnginx", "vwidgets"} {
			b, err := e.ark.ArkV1().Backups(e.namespace).Get(ctx, name, metav1.GetOptions{})
			if err != nil || b.Status.Phase != arkv1.BackupPhaseCompleted {
				return false
			}
		}
		return true
	})
	if out := e.mustRun("backup", "get"); !strings.Contains(out, "vnginx") || !strings.Contains(out, "vwidgets") {
		t.Errorf("backup get:\n%s", out)
	}

	// Backups are refused, and the bucket holds exactly what Velero wrote.
	out, err = e.run("backup", "create", "into-velero", "--wait")
	if err == nil || !strings.Contains(out, "FailedValidation") {
		t.Errorf("a backup into a Velero bucket: %v\n%s", err, out)
	}
	var after []string
	_ = filepath.Walk(filepath.Join(root, "velero", "backups"), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			rel, _ := filepath.Rel(filepath.Join(root, "velero", "backups"), p)
			after = append(after, rel)
		}
		return nil
	})
	if strings.Join(after, ",") != strings.Join(before, ",") {
		t.Errorf("the Velero bucket changed:\nbefore %v\nafter  %v", before, after)
	}
}
