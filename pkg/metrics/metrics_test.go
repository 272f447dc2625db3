package metrics

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetrics(t *testing.T) {
	m := New()
	now := time.Unix(1700000000, 0)
	m.BackupStarted("daily")
	m.BackupFinished(BackupOutcome{Schedule: "daily", Phase: "Completed", Duration: 3 * time.Second, Items: 40, TarballBytes: 1234, Snapshots: 2, FinishedAt: now})
	m.BackupStarted("")
	m.BackupFinished(BackupOutcome{Phase: "PartiallyFailed", Items: 5, SnapshotErrs: 1})
	m.RestoreStarted()
	m.RestoreFinished("Completed", time.Second, 40)
	m.GCDeletion(nil)
	m.GCDeletion(errors.New("x"))
	m.SyncRun(nil)

	tests := []struct {
		name string
		got  float64
		want float64
	}{
		{"attempts daily", testutil.ToFloat64(m.backupAttempts.WithLabelValues("daily")), 1},
		{"successes daily", testutil.ToFloat64(m.backupSuccesses.WithLabelValues("daily")), 1},
		{"partial manual", testutil.ToFloat64(m.backupPartialFailures.WithLabelValues("")), 1},
		{"items daily", testutil.ToFloat64(m.backupItems.WithLabelValues("daily")), 40},
		{"last success", testutil.ToFloat64(m.backupLastSuccess.WithLabelValues("daily")), 1700000000},
		{"tarball", testutil.ToFloat64(m.backupTarballSize.WithLabelValues("daily")), 1234},
		{"snapshot attempts manual", testutil.ToFloat64(m.snapshotAttempts.WithLabelValues("")), 1},
		{"snapshot failures manual", testutil.ToFloat64(m.snapshotFailures.WithLabelValues("")), 1},
		{"restores", testutil.ToFloat64(m.restoreSuccesses), 1},
		{"gc failures", testutil.ToFloat64(m.gcDeletions.WithLabelValues("failure")), 1},
		{"syncs", testutil.ToFloat64(m.syncRuns.WithLabelValues("success")), 1},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{`ark_backup_duration_seconds_count{schedule="daily"} 1`, `ark_backup_success_total{schedule="daily"} 1`, "go_goroutines"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	var nilMetrics *Metrics
	nilMetrics.BackupStarted("x") // nil-safe
}
