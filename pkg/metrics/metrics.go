// Package metrics holds the Prometheus metrics of ark server. Controllers get
// a *Metrics (nil-safe: a nil *Metrics records nothing) and say what happened;
// the server serves the registry on /metrics.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const (
	namespace = "ark"
	// scheduleLabel is the schedule a backup was made by, "" for a backup made by hand.
	scheduleLabel = "schedule"
)

// Metrics are ark server's Prometheus metrics.
type Metrics struct {
	registry *prometheus.Registry

	backupAttempts        *prometheus.CounterVec
	backupSuccesses       *prometheus.CounterVec
	backupPartialFailures *prometheus.CounterVec
	backupFailures        *prometheus.CounterVec
	backupDuration        *prometheus.HistogramVec
	backupItems           *prometheus.CounterVec
	backupLastSuccess     *prometheus.GaugeVec
	backupTarballSize     *prometheus.GaugeVec

	restoreAttempts        prometheus.Counter
	restoreSuccesses       prometheus.Counter
	restorePartialFailures prometheus.Counter
	restoreFailures        prometheus.Counter
	restoreValidations     prometheus.Counter
	restoreDuration        prometheus.Histogram
	restoreItems           prometheus.Counter

	snapshotAttempts *prometheus.CounterVec
	snapshotFailures *prometheus.CounterVec
	gcDeletions      *prometheus.CounterVec
	syncRuns         *prometheus.CounterVec

	verifications        prometheus.Counter
	verificationFailures prometheus.Counter
}

// durationBuckets go from one second to about four hours.
var durationBuckets = prometheus.ExponentialBuckets(1, 2, 15)

// New returns the metrics, registered in their own registry with the Go and
// process collectors.
func New() *Metrics {
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, []string{scheduleLabel})
	}
	m := &Metrics{
		registry:              prometheus.NewRegistry(),
		backupAttempts:        counter("backup_attempt_total", "Backups started."),
		backupSuccesses:       counter("backup_success_total", "Backups Completed."),
		backupPartialFailures: counter("backup_partial_failure_total", "Backups PartiallyFailed: written, with item errors."),
		backupFailures:        counter("backup_failure_total", "Backups Failed, or FailedValidation."),
		backupDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "backup_duration_seconds",
			Help: "Time from a backup's start to its final phase.", Buckets: durationBuckets}, []string{scheduleLabel}),
		backupItems: counter("backup_items_total", "Items written into backups."),
		backupLastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "backup_last_successful_timestamp_seconds",
			Help: "Unix time of the last Completed backup."}, []string{scheduleLabel}),
		backupTarballSize: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "backup_tarball_size_bytes",
			Help: "Size of the last backup's tarball."}, []string{scheduleLabel}),
		restoreAttempts:        prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "restore_attempt_total", Help: "Restores started."}),
		restoreSuccesses:       prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "restore_success_total", Help: "Restores Completed."}),
		restorePartialFailures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "restore_partial_failure_total", Help: "Restores PartiallyFailed: some items failed."}),
		restoreFailures:        prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "restore_failure_total", Help: "Restores Failed."}),
		restoreValidations:     prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "restore_validation_failure_total", Help: "Restores that FailedValidation."}),
		restoreDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: "restore_duration_seconds",
			Help: "Time from a restore's start to its final phase.", Buckets: durationBuckets}),
		restoreItems: prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "restore_items_total", Help: "Items handled by restores: created, found existing, skipped or failed."}),
		snapshotAttempts: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "volume_snapshot_attempt_total",
			Help: "Volume snapshots attempted."}, []string{scheduleLabel}),
		snapshotFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "volume_snapshot_failure_total",
			Help: "Volume snapshots that failed."}, []string{scheduleLabel}),
		gcDeletions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "gc_deletion_total",
			Help: "Backups the garbage collector deleted (result=success) or failed to delete (result=failure)."}, []string{"result"}),
		syncRuns: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "backup_sync_total",
			Help: "Runs of the object-storage sync, by result."}, []string{"result"}),
		verifications: prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "backup_verification_total",
			Help: "Backup verifications carried out (BackupVerificationRequests)."}),
		verificationFailures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "backup_verification_failure_total",
			Help: "Backup verifications that found a problem: a tarball that does not match its checksum or does not decode, a snapshot gone."}),
	}
	m.registry.MustRegister(
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.backupAttempts, m.backupSuccesses, m.backupPartialFailures, m.backupFailures, m.backupDuration,
		m.backupItems, m.backupLastSuccess, m.backupTarballSize,
		m.restoreAttempts, m.restoreSuccesses, m.restorePartialFailures, m.restoreFailures, m.restoreValidations,
		m.restoreDuration, m.restoreItems,
		m.snapshotAttempts, m.snapshotFailures, m.gcDeletions, m.syncRuns,
		m.verifications, m.verificationFailures,
	)
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// Registry is the registry the metrics are in (tests gather from it).
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// BackupStarted counts a backup attempt.
func (m *Metrics) BackupStarted(schedule string) {
	if m == nil {
		return
	}
	m.backupAttempts.WithLabelValues(schedule).Inc()
}

// BackupOutcome is how a backup ended, for BackupFinished.
type BackupOutcome struct {
	Schedule     string
	Phase        string // Completed, PartiallyFailed, Failed
	Duration     time.Duration
	Items        int
	TarballBytes int64
	Snapshots    int
	SnapshotErrs int
	FinishedAt   time.Time
}

// BackupFinished records how a backup ended.
func (m *Metrics) BackupFinished(o BackupOutcome) {
	if m == nil {
		return
	}
	s := o.Schedule
	switch o.Phase {
	case "Completed":
		m.backupSuccesses.WithLabelValues(s).Inc()
		m.backupLastSuccess.WithLabelValues(s).Set(float64(o.FinishedAt.Unix()))
	case "PartiallyFailed":
		m.backupPartialFailures.WithLabelValues(s).Inc()
	default:
		m.backupFailures.WithLabelValues(s).Inc()
	}
	m.backupDuration.WithLabelValues(s).Observe(o.Duration.Seconds())
	m.backupItems.WithLabelValues(s).Add(float64(o.Items))
	if o.TarballBytes > 0 {
		m.backupTarballSize.WithLabelValues(s).Set(float64(o.TarballBytes))
	}
	m.snapshotAttempts.WithLabelValues(s).Add(float64(o.Snapshots + o.SnapshotErrs))
	m.snapshotFailures.WithLabelValues(s).Add(float64(o.SnapshotErrs))
}

// BackupFailedValidation counts a backup that failed validation.
func (m *Metrics) BackupFailedValidation(schedule string) {
	if m == nil {
		return
	}
	m.backupFailures.WithLabelValues(schedule).Inc()
}

// RestoreStarted counts a restore attempt.
func (m *Metrics) RestoreStarted() {
	if m == nil {
		return
	}
	m.restoreAttempts.Inc()
}

// RestoreFailedValidation counts a restore that failed validation.
func (m *Metrics) RestoreFailedValidation() {
	if m == nil {
		return
	}
	m.restoreValidations.Inc()
}

// RestoreFinished records how a restore ended.
func (m *Metrics) RestoreFinished(phase string, d time.Duration, items int) {
	if m == nil {
		return
	}
	switch phase {
	case "Completed":
		m.restoreSuccesses.Inc()
	case "PartiallyFailed":
		m.restorePartialFailures.Inc()
	default:
		m.restoreFailures.Inc()
	}
	m.restoreDuration.Observe(d.Seconds())
	m.restoreItems.Add(float64(items))
}

// GCDeletion counts a backup deletion by the garbage collector.
func (m *Metrics) GCDeletion(err error) {
	if m == nil {
		return
	}
	m.gcDeletions.WithLabelValues(result(err)).Inc()
}

// SyncRun counts a run of the object-storage sync.
func (m *Metrics) SyncRun(err error) {
	if m == nil {
		return
	}
	m.syncRuns.WithLabelValues(result(err)).Inc()
}

func result(err error) string {
	if err != nil {
		return "failure"
	}
	return "success"
}

// BackupVerified counts a verification, and a failed one.
func (m *Metrics) BackupVerified(passed bool) {
	if m == nil {
		return
	}
	m.verifications.Inc()
	if !passed {
		m.verificationFailures.Inc()
	}
}
