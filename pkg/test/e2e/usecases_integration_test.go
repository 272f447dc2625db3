//go:build integration

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/format"
)

// Disaster recovery, as the seeds' use case: a daily schedule, a disaster,
// restore-only mode, and a restore of the newest scheduled backup.
func TestDisasterRecovery(t *testing.T) {
	ctx := context.Background()
	e := startArk(t, testCluster, envOptions{})
	app := testCluster.NewNamespace(t)
	createConfigMaps(t, testCluster, app, "settings", "flags")

	e.mustRun("schedule", "create", "daily", "--schedule", "0 7 * * *", "--include-namespaces", app)
	// The first backup is made when the schedule is created.
	var newest string
	waitFor(t, "the schedule's first backup to complete", func() bool {
		list, err := e.ark.ArkV1().Backups(e.namespace).List(ctx, metav1.ListOptions{LabelSelector: format.ScheduleNameLabel + "=daily"})
		if err != nil || len(list.Items) == 0 {
			return false
		}
		sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name > list.Items[j].Name })
		newest = list.Items[0].Name
		return list.Items[0].Status.Phase == arkv1.BackupPhaseCompleted
	})
	if !strings.HasPrefix(newest, "daily-") || len(newest) != len("daily-20261121070000") {
		t.Errorf("scheduled backup name %q, want daily-YYYYMMDDhhmmss", newest)
	}
	out := e.mustRun("schedule", "get")
	if !strings.Contains(out, "daily") || !strings.Contains(out, "Enabled") || !strings.Contains(out, "0 7 * * *") {
		t.Errorf("schedule get:\n%s", out)
	}

	// The disaster.
	if err := testCluster.DeleteNamespaceAndWait(ctx, app, 2*time.Minute); err != nil {
		t.Fatal(err)
	}

	// Restore-only mode: the server stops on the Config change and starts again in that mode.
	cfg, err := e.ark.ArkV1().Configs(e.namespace).Get(ctx, arkv1.DefaultConfigName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.RestoreOnlyMode = true
	if _, err := e.ark.ArkV1().Configs(e.namespace).Update(ctx, cfg, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := e.waitExit(time.Minute); err == nil || !strings.Contains(err.Error(), "Config changed") {
		t.Fatalf("the server did not stop for the Config change: %v", err)
	}
	e.startServer()

	out = e.mustRun("restore", "create", newest, "--wait")
	if !strings.Contains(out, "finished: Completed") {
		t.Fatalf("restore:\n%s", out)
	}
	for _, n := range []string{"settings", "flags"} {
		if _, err := testCluster.Client().CoreV1().ConfigMaps(app).Get(ctx, n, metav1.GetOptions{}); err != nil {
			t.Errorf("configmap %s not restored: %v", n, err)
		}
	}
	// No backup is taken in restore-only mode, and the schedule says why.
	if out, err := e.run("backup", "create", "during-recovery", "--wait"); err == nil || !strings.Contains(out, "FailedValidation") {
		t.Errorf("a backup in restore-only mode: %v\n%s", err, out)
	}
	waitFor(t, "the schedule to report restore-only mode", func() bool {
		s, err := e.ark.ArkV1().Schedules(e.namespace).Get(ctx, "daily", metav1.GetOptions{})
		return err == nil && s.Status.Phase == arkv1.SchedulePhaseFailedValidation &&
			strings.Contains(strings.Join(s.Status.ValidationErrors, " "), "restore-only")
	})
}

// A snapshot before an upgrade: a namespace-scoped backup with a short TTL is
// deleted, files and all, once it expires.
func TestSnapshotBeforeUpgradeExpires(t *testing.T) {
	ctx := context.Background()
	e := startArk(t, testCluster, envOptions{})
	app := testCluster.NewNamespace(t)
	createConfigMaps(t, testCluster, app, "release")
	e.mustRun("backup", "create", "pre-upgrade", "--include-namespaces", app, "--ttl", "8s", "--wait")
	dir := filepath.Join(e.bucket, "ark", "pre-upgrade")
	if _, err := os.Stat(filepath.Join(dir, "ark-backup.json")); err != nil {
		t.Fatalf("backup not in the bucket: %v", err)
	}
	out := e.mustRun("backup", "get", "pre-upgrade")
	if !strings.Contains(out, "Completed") {
		t.Errorf("backup get:\n%s", out)
	}
	e.mustRun("restore", "create", "pre-upgrade", "--name", "check", "--wait")

	waitFor(t, "the expired backup to be deleted", func() bool {
		_, err := e.ark.ArkV1().Backups(e.namespace).Get(ctx, "pre-upgrade", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		t.Errorf("the expired backup's files are still in the bucket: %v", entries)
	}
	if _, err := e.ark.ArkV1().Restores(e.namespace).Get(ctx, "check", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the restore made from the expired backup is still there: %v", err)
	}
}
