//go:build integration

package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/format"
)

// What Velero users type: a paused schedule makes no backup (not even its first) and
// says so; `backup create --from-schedule` takes a backup as the schedule would; after
// a disaster, `restore create --from-schedule` restores the schedule's newest Completed
// backup. And kubectl-grade get: one name is the object, a missing name fails.
func TestPausedScheduleAndRestoreFromSchedule(t *testing.T) {
	ctx := context.Background()
	e := startArk(t, testCluster, envOptions{})
	app := testCluster.NewNamespace(t)
	createConfigMaps(t, testCluster, app, "settings")

	// A paused schedule: the server skips its creation tick, records it, makes no backup.
	e.mustRun("schedule", "create", "sleepy", "--schedule", "0 7 * * *", "--include-namespaces", app, "--paused")
	waitFor(t, "the paused schedule to be Paused with its creation tick skipped", func() bool {
		s, err := e.ark.ArkV1().Schedules(e.namespace).Get(ctx, "sleepy", metav1.GetOptions{})
		return err == nil && s.Status.Phase == arkv1.SchedulePhasePaused && s.Status.LastSkipped != nil
	})
	if list, err := e.ark.ArkV1().Backups(e.namespace).List(ctx, metav1.ListOptions{LabelSelector: format.ScheduleNameLabel + "=sleepy"}); err != nil || len(list.Items) != 0 {
		t.Fatalf("a paused schedule made backups: %v %v", list, err)
	}
	if out := e.mustRun("schedule", "get", "sleepy"); !strings.Contains(out, "Paused") || !strings.Contains(out, "<paused>") || !strings.Contains(out, "true") {
		t.Errorf("schedule get of a paused schedule:\n%s", out)
	}
	if out, err := e.run("restore", "create", "--from-schedule", "sleepy"); err == nil || !strings.Contains(err.Error(), `schedule "sleepy" has no backups`) {
		t.Errorf("restore from a schedule without backups: %v\n%s", err, out)
	}
	e.mustRun("schedule", "unpause", "sleepy")
	waitFor(t, "the unpaused schedule to be Enabled", func() bool {
		s, err := e.ark.ArkV1().Schedules(e.namespace).Get(ctx, "sleepy", metav1.GetOptions{})
		return err == nil && s.Status.Phase == arkv1.SchedulePhaseEnabled
	})
	// Unpaused, it waits for its next tick (07:00): the skipped creation tick is not made up for.
	if list, _ := e.ark.ArkV1().Backups(e.namespace).List(ctx, metav1.ListOptions{LabelSelector: format.ScheduleNameLabel + "=sleepy"}); len(list.Items) != 0 {
		t.Errorf("unpausing made a backup at once: %s", list.Items[0].Name)
	}
	if out := e.mustRun("schedule", "get", "sleepy"); !strings.Contains(out, "Enabled") || !strings.Contains(out, " in ") {
		t.Errorf("schedule get after unpause:\n%s", out)
	}

	// A running schedule: its first backup, then one on demand with its template.
	e.mustRun("schedule", "create", "daily", "--schedule", "0 7 * * *", "--include-namespaces", app, "--labels", "team=a")
	waitFor(t, "the schedule's first backup to complete", func() bool {
		list, err := e.ark.ArkV1().Backups(e.namespace).List(ctx, metav1.ListOptions{LabelSelector: format.ScheduleNameLabel + "=daily"})
		return err == nil && len(list.Items) == 1 && list.Items[0].Status.Phase == arkv1.BackupPhaseCompleted
	})
	if out, err := e.run("backup", "create", "x", "--from-schedule", "daily", "--ttl", "1h"); err == nil {
		t.Errorf("--from-schedule with --ttl: no error\n%s", out)
	}
	e.mustRun("backup", "create", "daily-now", "--from-schedule", "daily", "--wait")
	out := e.mustRun("backup", "get", "daily-now", "-o", "json")
	var b arkv1.Backup
	if err := json.Unmarshal([]byte(out), &b); err != nil {
		t.Fatalf("backup get NAME -o json is not one Backup: %v\n%s", err, out)
	}
	if b.Kind != "Backup" || b.Labels[format.ScheduleNameLabel] != "daily" || b.Labels["team"] != "a" ||
		len(b.Spec.IncludedNamespaces) != 1 || b.Spec.IncludedNamespaces[0] != app {
		t.Errorf("backup from the schedule: kind %s labels %v spec %+v", b.Kind, b.Labels, b.Spec)
	}
	if out := e.mustRun("backup", "get", "-l", "team=a", "-o", "name"); strings.Count(out, "backup.ark.heptio.com/daily") != 2 {
		t.Errorf("backup get -l team=a -o name:\n%s", out)
	}

	// The disaster; the newest Completed backup of the schedule is daily-now.
	if err := testCluster.DeleteNamespaceAndWait(ctx, app, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	out = e.mustRun("restore", "create", "--from-schedule", "daily", "--wait")
	if !strings.Contains(out, `Restoring backup "daily-now", the newest Completed backup of schedule "daily"`) || !strings.Contains(out, "finished: Completed") {
		t.Fatalf("restore --from-schedule:\n%s", out)
	}
	if _, err := testCluster.Client().CoreV1().ConfigMaps(app).Get(ctx, "settings", metav1.GetOptions{}); err != nil {
		t.Errorf("configmap not restored: %v", err)
	}
	if out := e.mustRun("restore", "get", "-o", "jsonpath={.items[*].spec.backupName}"); out != "daily-now" {
		t.Errorf("restore get -o jsonpath: %q", out)
	}

	// Errors a script can see.
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{args: []string{"backup", "get", "nonexist"}, wantErr: "backup nonexist not found"},
		{args: []string{"backup", "delete", "nonexist", "--confirm"}, wantErr: "backup nonexist not found"},
		{args: []string{"backup", "delete", "daily-now"}, wantErr: "stdin is not a terminal; add --confirm"},
		{args: []string{"backup", "get", "daily-now", "-l", "team=a"}, wantErr: "cannot be used together"},
		{args: []string{"schedule", "pause", "nonexist"}, wantErr: "schedule nonexist not found"},
		{args: []string{"restore", "create", "--from-schedule", "daily", "--from-backup", "daily-now"}, wantErr: "not both"},
	} {
		if out, err := e.run(tc.args...); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("ark %v: %v, want %q\n%s", tc.args, err, tc.wantErr, out)
		}
	}
	if out := e.mustRun("backup", "get", "-l", "none=here"); !strings.Contains(out, "No backups found.") {
		t.Errorf("empty backup get: %q", out)
	}
}

// `backup describe --details` lists the objects of a real backup from the resource list
// beside its tarball, and `backup logs` reads like a log (one line per record, JSON only
// with -o json) and filters by --level and --grep.
func TestBackupDescribeDetailsAndLogs(t *testing.T) {
	e := startArk(t, testCluster, envOptions{})
	app := testCluster.NewNamespace(t)
	createConfigMaps(t, testCluster, app, "settings-a", "settings-b")
	e.mustRun("backup", "create", "detailed", "--include-namespaces", app, "--wait")

	out := e.mustRun("backup", "describe", "detailed", "--details")
	for _, want := range []string{"Resource list:", "ConfigMap", app + "/settings-a", app + "/settings-b"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe --details lacks %q:\n%s", want, out)
		}
	}

	text := e.mustRun("backup", "logs", "detailed")
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if len(lines) < 2 {
		t.Fatalf("backup logs printed %d lines:\n%s", len(lines), text)
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "{") {
			t.Errorf("a log line is JSON by default: %s", l)
		}
	}
	raw := e.mustRun("backup", "logs", "detailed", "-o", "json")
	for _, l := range strings.Split(strings.TrimSpace(raw), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Errorf("-o json: a line is not a JSON object: %q", l)
		}
	}
	grep := e.mustRun("backup", "logs", "detailed", "--grep", "settings-a")
	if strings.TrimSpace(grep) == "" {
		t.Errorf("--grep settings-a matched nothing in:\n%s", text)
	}
	for _, l := range strings.Split(strings.TrimSpace(grep), "\n") {
		if !strings.Contains(l, "settings-a") {
			t.Errorf("--grep settings-a printed %q", l)
		}
	}
	if errs := e.mustRun("backup", "logs", "detailed", "--level", "error"); strings.TrimSpace(errs) != "" {
		t.Errorf("--level error of a clean backup printed:\n%s", errs)
	}
}
