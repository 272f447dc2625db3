package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/klauspost/compress/gzip"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/backup"
	"github.com/heptio/ark/pkg/format"
	arkv1client "github.com/heptio/ark/pkg/generated/clientset/versioned/typed/ark/v1"
	arkinformers "github.com/heptio/ark/pkg/generated/informers/externalversions/ark/v1"
	arklisters "github.com/heptio/ark/pkg/generated/listers/ark/v1"
	"github.com/heptio/ark/pkg/metrics"
	"github.com/heptio/ark/pkg/persistence"
	"github.com/heptio/ark/pkg/validation"
)

// Backupper is what the backup controller needs of the backup engine:
// Authorize says, before anything is written, why the backup's requester may
// not have it (validation errors; none in single-tenant mode).
type Backupper interface {
	Authorize(ctx context.Context, backup *arkv1.Backup) []string
	Backup(ctx context.Context, backup *arkv1.Backup, contents io.Writer, log io.Writer, progress func(arkv1.BackupProgress)) (*backup.Result, error)
}

// ResourceResolver says whether a resource name (plural, resource.group or
// short name) is served by the cluster, and lists the names for suggestions.
type ResourceResolver interface {
	Refresh(ctx context.Context) error
	validation.Resources
}

// BackupUploader is what the backup controller needs of the bucket
// (persistence.BackupStore): the claim of the name, the files, the final metadata.
type BackupUploader interface {
	CreateBackupMetadata(ctx context.Context, backup *arkv1.Backup) error
	PutBackupContents(ctx context.Context, name string, contents io.Reader) (arkv1.ContentsChecksum, error)
	PutBackupLog(ctx context.Context, name string, log io.Reader) error
	PutBackupResourceList(ctx context.Context, name string, list format.ResourceList) error
	PutBackupMetadata(ctx context.Context, backup *arkv1.Backup) error
	GetBackup(ctx context.Context, name string) (*arkv1.Backup, error)
	BackupExists(ctx context.Context, name string) (bool, error)
	// Encryption is what status.encryption records: nil when files are not encrypted.
	Encryption() *arkv1.BackupEncryption
}

// errUploadStopped tells the engine that the upload gave up reading the tarball.
var errUploadStopped = errors.New("the upload stopped reading the tarball")

// BucketRetryInterval is how often a backup or restore that waits for an
// unreachable bucket tries again (it stays New meanwhile).
const BucketRetryInterval = 15 * time.Second

// progressInterval is how often a running backup's progress is written to its status.
const progressInterval = 2 * time.Second

// BackupController takes the backups in phase New.
type BackupController struct {
	backups         arklisters.BackupLister
	client          arkv1client.BackupsGetter
	backupper       Backupper
	resolver        ResourceResolver
	store           BackupUploader
	clock           clock.PassiveClock
	restoreOnlyMode bool
	options

	// pending holds the final status of backups whose status update failed, by key:
	// the next Sync of the key writes it again (a backup in the bucket is never lost
	// to a failed status update).
	mu      sync.Mutex
	pending map[string]*arkv1.Backup
}

// NewBackupController returns the controller; Register it with a Runner.
func NewBackupController(backups arklisters.BackupLister, client arkv1client.BackupsGetter, backupper Backupper, resolver ResourceResolver, store BackupUploader, clk clock.PassiveClock, restoreOnlyMode bool, opts ...Option) *BackupController {
	return &BackupController{backups: backups, client: client, backupper: backupper, resolver: resolver, store: store, clock: clk, restoreOnlyMode: restoreOnlyMode, options: newOptions(opts),
		pending: map[string]*arkv1.Backup{}}
}

// Register makes r run the controller on the backup informer's New backups.
func (c *BackupController) Register(r *Runner, inf arkinformers.Interface) error {
	return r.Watch(inf.Backups().Informer(), func(obj any) bool {
		b, ok := obj.(*arkv1.Backup)
		return ok && (b.Status.Phase == "" || b.Status.Phase == arkv1.BackupPhaseNew) && b.DeletionTimestamp == nil &&
			b.Annotations[format.SyncedFromBucketAnnotation] == ""
	}, false)
}

// RecoverInterrupted settles the backups a previous server left InProgress, as the
// bucket says: one whose ark-backup.json is ours (same UID) and final takes that status
// (Completed or PartiallyFailed: it reached the bucket whole); any other becomes Failed,
// and its metadata in the bucket, if ours, says Failed too. A backup whose bucket cannot
// be read is left InProgress and its error returned: call again later with the same
// list (interrupted, from InterruptedBackups), never with backups started since.
func (c *BackupController) RecoverInterrupted(ctx context.Context, interrupted []*arkv1.Backup) (left []*arkv1.Backup, err error) {
	var errs []error
	for _, b := range interrupted {
		logger := klog.FromContext(ctx).WithValues("backup", klog.KObj(b))
		m, err := c.store.GetBackup(ctx, b.Name)
		ours := err == nil && m.UID == b.UID
		switch {
		case err != nil && !errors.Is(err, persistence.ErrBackupNotFound):
			left = append(left, b)
			errs = append(errs, fmt.Errorf("backup %s: reading its metadata in the bucket: %w", b.Name, err))
			continue
		case ours && (m.Status.Phase == arkv1.BackupPhaseCompleted || m.Status.Phase == arkv1.BackupPhasePartiallyFailed):
			logger.Info("A backup interrupted by a server restart had reached the bucket whole; taking its status from there", "phase", m.Status.Phase)
			err = c.updateStatus(ctx, b.Namespace, b.Name, func(s *arkv1.BackupStatus) {
				if s.Phase == arkv1.BackupPhaseInProgress {
					*s = m.Status
				}
			})
		default:
			reason := "the ark server stopped while this backup was in progress; its files were never marked whole. Create a new backup."
			if ours {
				failed := m.DeepCopy()
				failed.Status.Phase = arkv1.BackupPhaseFailed
				failed.Status.FailureReason = reason
				if perr := c.store.PutBackupMetadata(ctx, failed); perr != nil {
					logger.Error(perr, "Recording the failure in the bucket")
				}
			}
			logger.Info("Marking a backup interrupted by a server restart as Failed")
			err = c.updateStatus(ctx, b.Namespace, b.Name, func(s *arkv1.BackupStatus) {
				if s.Phase != arkv1.BackupPhaseInProgress {
					return
				}
				s.Phase = arkv1.BackupPhaseFailed
				s.FailureReason = reason
				now := metav1.NewTime(c.clock.Now())
				s.CompletionTimestamp = &now
			})
		}
		if err != nil && !apierrors.IsNotFound(err) {
			left = append(left, b)
			errs = append(errs, err)
		}
	}
	return left, errors.Join(errs...)
}

// InterruptedBackups lists the backups left InProgress (call it before the controller runs).
func (c *BackupController) InterruptedBackups() ([]*arkv1.Backup, error) {
	all, err := c.backups.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var ret []*arkv1.Backup
	for _, b := range all {
		if b.Status.Phase == arkv1.BackupPhaseInProgress {
			ret = append(ret, b)
		}
	}
	return ret, nil
}

// Sync runs the backup with this key if it is New.
func (c *BackupController) Sync(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	if final := c.takePending(key); final != nil {
		return 0, c.writeFinal(ctx, key, final)
	}
	cached, err := c.backups.Backups(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if (cached.Status.Phase != "" && cached.Status.Phase != arkv1.BackupPhaseNew) || cached.DeletionTimestamp != nil {
		return 0, nil
	}
	// A backup the sync controller is importing from the bucket is not new work:
	// its status is about to be set from the bucket's copy.
	if cached.Annotations[format.SyncedFromBucketAnnotation] != "" {
		return 0, nil
	}
	b := cached.DeepCopy()
	logger := klog.FromContext(ctx).WithValues("backup", klog.KObj(b))
	ctx = klog.NewContext(ctx, logger)

	if errs := c.validate(ctx, b); len(errs) > 0 {
		logger.Info("Backup failed validation", "errors", errs)
		b.Status.Phase = arkv1.BackupPhaseFailedValidation
		b.Status.ValidationErrors = errs
		_, err := c.client.Backups(ns).UpdateStatus(ctx, b, metav1.UpdateOptions{})
		if err == nil {
			c.metrics.BackupFailedValidation(b.Labels[format.ScheduleNameLabel])
			c.event(b, true, "FailedValidation", "The backup is invalid: %s", strings.Join(errs, "; "))
		}
		return 0, ignoreConflict(err)
	}

	// The bucket must answer before the backup is claimed: one taken while the
	// bucket is unreachable would fail for want of a retry. It waits, New.
	if _, err := c.store.BackupExists(ctx, b.Name); err != nil {
		logger.Error(err, "The bucket does not answer; the backup waits for it", "retryIn", BucketRetryInterval)
		return BucketRetryInterval, nil
	}

	// Claim the backup: the update carries the resourceVersion we read, so if
	// another server claimed it first this one gets a conflict and backs off.
	start := metav1.NewTime(c.clock.Now())
	expiration := metav1.NewTime(start.Add(b.Spec.EffectiveTTL()))
	b.Status.Phase = arkv1.BackupPhaseInProgress
	b.Status.StartTimestamp = &start
	b.Status.Expiration = &expiration
	b.Status.Progress = &arkv1.BackupProgress{}
	claimed, err := c.client.Backups(ns).UpdateStatus(ctx, b, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		logger.V(1).Info("Backup was changed or claimed by someone else; leaving it")
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	logger.Info("Backup started")
	schedule := b.Labels[format.ScheduleNameLabel]
	c.metrics.BackupStarted(schedule)
	c.event(claimed, false, "Started", "Backup started")

	final, size, runErr := c.run(ctx, claimed)
	if runErr != nil {
		logger.Error(runErr, "Backup failed")
	} else {
		logger.Info("Backup finished", "phase", final.Status.Phase, "items", final.Status.Progress.ItemsBackedUp,
			"warnings", final.Status.Warnings, "errors", final.Status.Errors)
	}
	c.reportFinished(final, schedule, size)
	return 0, c.writeFinal(ctx, key, final)
}

// writeFinal writes the final status of a backup; on failure it keeps it for the next
// Sync of key (the runner retries with backoff) and returns the error.
func (c *BackupController) writeFinal(ctx context.Context, key string, final *arkv1.Backup) error {
	err := c.updateStatus(ctx, final.Namespace, final.Name, func(s *arkv1.BackupStatus) { *s = final.Status })
	if err != nil && !apierrors.IsNotFound(err) {
		klog.FromContext(ctx).Error(err, "Writing the final status of a backup; retrying", "backup", klog.KObj(final), "phase", final.Status.Phase)
		c.mu.Lock()
		c.pending[key] = final
		c.mu.Unlock()
		return err
	}
	return nil
}

func (c *BackupController) takePending(key string) *arkv1.Backup {
	c.mu.Lock()
	defer c.mu.Unlock()
	final := c.pending[key]
	delete(c.pending, key)
	return final
}

// reportFinished records the metrics and the Event of a finished backup.
func (c *BackupController) reportFinished(b *arkv1.Backup, schedule string, size int64) {
	st := b.Status
	outcome := metrics.BackupOutcome{Schedule: schedule, Phase: string(st.Phase), TarballBytes: size, Snapshots: len(st.VolumeBackups),
		SnapshotErrs: st.VolumeSnapshotsFailed}
	if st.StartTimestamp != nil && st.CompletionTimestamp != nil {
		outcome.Duration = st.CompletionTimestamp.Sub(st.StartTimestamp.Time)
		outcome.FinishedAt = st.CompletionTimestamp.Time
	}
	if st.Progress != nil {
		outcome.Items = st.Progress.ItemsBackedUp
	}
	c.metrics.BackupFinished(outcome)
	switch st.Phase {
	case arkv1.BackupPhaseCompleted:
		c.event(b, false, "Completed", "Backup completed: %d items, %d warnings", outcome.Items, st.Warnings)
	case arkv1.BackupPhasePartiallyFailed:
		c.event(b, true, "PartiallyFailed", "Backup written with %d item errors and %d warnings: see `ark backup logs %s`", st.Errors, st.Warnings, b.Name)
	default:
		c.event(b, true, "Failed", "Backup failed: %s", st.FailureReason)
	}
}

// validate returns what is wrong with the backup, as validationErrors.
func (c *BackupController) validate(ctx context.Context, b *arkv1.Backup) []string {
	if c.restoreOnlyMode {
		return []string{"the server is in restore-only mode (Config restoreOnlyMode: true): it takes no backups"}
	}
	for _, n := range append(append([]string{}, b.Spec.IncludedResources...), b.Spec.ExcludedResources...) {
		if n != "*" {
			// A CRD created a moment ago must be known.
			if err := c.resolver.Refresh(ctx); err != nil {
				klog.FromContext(ctx).Error(err, "Refreshing discovery; checking resources with what is known")
			}
			break
		}
	}
	if errs := validation.BackupSpec(&b.Spec, c.resolver); len(errs) > 0 {
		return errs
	}
	return c.backupper.Authorize(ctx, b)
}

// run takes the backup and uploads it; it returns the backup with its final
// status. An error means the backup Failed (the status says why).
//
// The bucket is written in this order: ark-backup.json created InProgress (the claim of
// the name: a backup of the same name written by another cluster or Backup object makes
// this one fail with nothing written), the tarball, the log, then ark-backup.json
// rewritten with the final phase and the tarball's checksum.
func (c *BackupController) run(ctx context.Context, b *arkv1.Backup) (*arkv1.Backup, int64, error) {
	var written countingWriter
	claimed := false
	fail := func(err error) (*arkv1.Backup, int64, error) {
		b.Status.Phase = arkv1.BackupPhaseFailed
		b.Status.FailureReason = err.Error()
		now := metav1.NewTime(c.clock.Now())
		b.Status.CompletionTimestamp = &now
		if claimed {
			// The name is ours: the bucket's record says Failed too.
			if perr := c.store.PutBackupMetadata(ctx, b); perr != nil {
				klog.FromContext(ctx).Error(perr, "Recording the failure in the bucket")
			}
		}
		return b, written.n, err
	}

	b.Status.ClusterID = c.clusterID
	b.Status.Encryption = c.store.Encryption()
	switch err := c.store.CreateBackupMetadata(ctx, b); {
	case errors.Is(err, persistence.ErrBackupExists):
		reason := fmt.Sprintf("a backup named %q already exists in the bucket", b.Name)
		if m, gerr := c.store.GetBackup(ctx, b.Name); gerr == nil {
			reason += fmt.Sprintf(" (Backup UID %s, cluster %s)", m.UID, m.Status.ClusterID)
		}
		return fail(errors.New(reason + ": its files were left untouched; choose another name"))
	case err != nil:
		return fail(fmt.Errorf("claiming the backup's name in the bucket: %w", err))
	}
	claimed = true

	logFile, err := os.CreateTemp("", "ark-backup-log-*.gz")
	if err != nil {
		return fail(fmt.Errorf("creating the backup log: %w", err))
	}
	defer os.Remove(logFile.Name())
	defer logFile.Close()
	logGzip := gzip.NewWriter(logFile)

	progress := newProgressReporter(ctx, c.clock, func(ctx context.Context, data []byte) error {
		_, err := c.client.Backups(b.Namespace).Patch(ctx, b.Name, types.MergePatchType, data, metav1.PatchOptions{}, "status")
		return err
	})

	// The engine streams the tarball through a pipe into the upload: no copy of
	// the backup is held in memory or on disk.
	pr, pw := io.Pipe()
	var result *backup.Result
	var engineErr error
	engineDone := make(chan struct{})
	go func() {
		defer close(engineDone)
		written.w = pw
		result, engineErr = c.backupper.Backup(ctx, b, &written, logGzip, func(p arkv1.BackupProgress) { progress.report(p) })
		if engineErr != nil {
			pw.CloseWithError(engineErr)
		} else {
			pw.Close()
		}
	}()
	sum, uploadErr := c.store.PutBackupContents(ctx, b.Name, pr)
	pr.CloseWithError(errUploadStopped) // unblock the engine if the upload gave up early
	<-engineDone
	progress.stop()

	if result != nil {
		result.ApplyTo(&b.Status)
	}
	switch {
	case engineErr != nil && !errors.Is(engineErr, errUploadStopped):
		return fail(fmt.Errorf("backup failed: %w", engineErr))
	case uploadErr != nil:
		return fail(fmt.Errorf("uploading the backup: %w", uploadErr))
	case result == nil:
		return fail(errors.New("backup failed: the engine returned no result"))
	}
	if err := logGzip.Close(); err != nil {
		return fail(fmt.Errorf("writing the backup log: %w", err))
	}
	if _, err := logFile.Seek(0, io.SeekStart); err != nil {
		return fail(fmt.Errorf("reading the backup log: %w", err))
	}
	if err := c.store.PutBackupLog(ctx, b.Name, logFile); err != nil {
		return fail(fmt.Errorf("uploading the backup log: %w", err))
	}
	if err := c.store.PutBackupResourceList(ctx, b.Name, result.ResourceList); err != nil {
		return fail(fmt.Errorf("uploading the backup's resource list: %w", err))
	}

	final := b.DeepCopy()
	final.Status.Phase = arkv1.BackupPhaseCompleted
	if len(result.Errors) > 0 {
		final.Status.Phase = arkv1.BackupPhasePartiallyFailed
	}
	final.Status.Contents = &sum
	now := metav1.NewTime(c.clock.Now())
	final.Status.CompletionTimestamp = &now
	if err := c.store.PutBackupMetadata(ctx, final); err != nil {
		return fail(fmt.Errorf("uploading the backup's metadata: %w", err))
	}
	return final, written.n, nil
}

// countingWriter counts the bytes of the tarball (for the tarball-size metric).
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// updateStatus applies mutate to the newest version of the backup's status.
func (c *BackupController) updateStatus(ctx context.Context, ns, name string, mutate func(*arkv1.BackupStatus)) error {
	_, err := updateStatus(ctx, c.client.Backups(ns), name, func(b *arkv1.Backup) error { mutate(&b.Status); return nil })
	return err
}

func ignoreConflict(err error) error {
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// progressReporter writes a running backup's or restore's progress into its
// status at most every progressInterval, with a merge patch so it never conflicts.
type progressReporter struct {
	ctx   context.Context
	patch func(ctx context.Context, data []byte) error
	clock clock.PassiveClock

	mu      sync.Mutex
	last    time.Time
	stopped bool
}

func newProgressReporter(ctx context.Context, clk clock.PassiveClock, patch func(ctx context.Context, data []byte) error) *progressReporter {
	return &progressReporter{ctx: ctx, patch: patch, clock: clk}
}

func (p *progressReporter) report(progress any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clock.Now()
	if p.stopped || now.Sub(p.last) < progressInterval {
		return
	}
	p.last = now
	data, _ := json.Marshal(map[string]any{"status": map[string]any{"progress": progress}})
	// Progress is informative: a failed patch is made good by the next report.
	_ = p.patch(p.ctx, data)
}

func (p *progressReporter) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
}
