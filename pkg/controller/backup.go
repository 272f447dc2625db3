package controller

import (
	"bytes"
	"compress/gzip"
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

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/backup"
	"github.com/heptio/ark/pkg/cloudprovider"
	arkv1client "github.com/heptio/ark/pkg/generated/clientset/versioned/typed/ark/v1"
	arklisters "github.com/heptio/ark/pkg/generated/listers/ark/v1"
	"github.com/heptio/ark/pkg/metrics"
	"github.com/heptio/ark/pkg/validation"
)

// Backupper is what the backup controller needs of the backup engine.
type Backupper interface {
	Backup(ctx context.Context, backup *arkv1.Backup, contents io.Writer, log io.Writer, progress func(arkv1.BackupProgress)) (*backup.Result, error)
}

// ResourceResolver says whether a resource name (plural, resource.group or
// short name) is served by the cluster, and lists the names for suggestions.
type ResourceResolver interface {
	Refresh(ctx context.Context) error
	validation.Resources
}

// BackupUploader is what the backup controller needs of the bucket.
type BackupUploader interface {
	ListBackups(ctx context.Context) ([]string, error)
	GetBackupMetadata(ctx context.Context, name string) ([]byte, error)
	PutBackup(ctx context.Context, name string, metadata, contents, log io.Reader) error
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
	reporting
}

// NewBackupController returns the controller; Register it with a Runner.
func NewBackupController(backups arklisters.BackupLister, client arkv1client.BackupsGetter, backupper Backupper, resolver ResourceResolver, store BackupUploader, clk clock.PassiveClock, restoreOnlyMode bool, opts ...Option) *BackupController {
	return &BackupController{backups: backups, client: client, backupper: backupper, resolver: resolver, store: store, clock: clk, restoreOnlyMode: restoreOnlyMode, reporting: newReporting(opts)}
}

// Register makes r run the controller on the backup informer's New backups.
func (c *BackupController) Register(r *Runner, informer cache.SharedIndexInformer) error {
	return r.Watch(informer, func(obj any) bool {
		b, ok := obj.(*arkv1.Backup)
		return ok && (b.Status.Phase == "" || b.Status.Phase == arkv1.BackupPhaseNew) && b.DeletionTimestamp == nil &&
			b.Annotations[SyncedFromBucketAnnotation] == ""
	}, false)
}

// FailInterrupted marks the backups a previous server left InProgress as
// Failed: their process is gone, and nothing may stay stuck.
func (c *BackupController) FailInterrupted(ctx context.Context) error {
	all, err := c.backups.List(labels.Everything())
	if err != nil {
		return err
	}
	var errs []error
	for _, b := range all {
		if b.Status.Phase != arkv1.BackupPhaseInProgress {
			continue
		}
		klog.FromContext(ctx).Info("Marking a backup interrupted by a server restart as Failed", "backup", klog.KObj(b))
		errs = append(errs, c.updateStatus(ctx, b.Namespace, b.Name, func(s *arkv1.BackupStatus) {
			if s.Phase != arkv1.BackupPhaseInProgress {
				return
			}
			s.Phase = arkv1.BackupPhaseFailed
			s.FailureReason = "the ark server stopped while this backup was in progress; its files were never marked whole. Create a new backup."
			now := metav1.NewTime(c.clock.Now())
			s.CompletionTimestamp = &now
		}))
	}
	return errors.Join(errs...)
}

// Sync runs the backup with this key if it is New.
func (c *BackupController) Sync(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
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
	if cached.Annotations[SyncedFromBucketAnnotation] != "" {
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
			c.metrics.BackupFailedValidation(b.Labels[arkv1.ScheduleNameLabel])
			c.event(b, true, "FailedValidation", "The backup is invalid: %s", strings.Join(errs, "; "))
		}
		return 0, ignoreConflict(err)
	}

	// The bucket must answer before the backup is claimed: one taken while the
	// bucket is unreachable would fail for want of a retry. It waits, New.
	if _, err := c.store.ListBackups(ctx); err != nil {
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
	schedule := b.Labels[arkv1.ScheduleNameLabel]
	c.metrics.BackupStarted(schedule)
	c.event(claimed, false, "Started", "Backup started")

	final, size, runErr := c.run(ctx, claimed)
	if runErr != nil {
		logger.Error(runErr, "Backup failed")
	} else {
		logger.Info("Backup finished", "phase", final.Status.Phase, "items", final.Status.Progress.ItemsBackedUp,
			"warnings", final.Status.Warnings, "errors", final.Status.Errors)
	}
	if err := c.updateStatus(ctx, ns, name, func(s *arkv1.BackupStatus) { *s = final.Status }); err != nil {
		return 0, err
	}
	c.reportFinished(final, schedule, size)
	return 0, nil
}

// reportFinished records the metrics and the Event of a finished backup.
func (c *BackupController) reportFinished(b *arkv1.Backup, schedule string, size int64) {
	st := b.Status
	outcome := metrics.BackupOutcome{Schedule: schedule, Phase: string(st.Phase), TarballBytes: size, Snapshots: len(st.VolumeBackups)}
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
	return validation.BackupSpec(&b.Spec, c.resolver)
}

// run takes the backup and uploads it; it returns the backup with its final
// status. An error means the backup Failed (the status says why).
func (c *BackupController) run(ctx context.Context, b *arkv1.Backup) (*arkv1.Backup, int64, error) {
	var written countingWriter
	fail := func(err error) (*arkv1.Backup, int64, error) {
		b.Status.Phase = arkv1.BackupPhaseFailed
		b.Status.FailureReason = err.Error()
		now := metav1.NewTime(c.clock.Now())
		b.Status.CompletionTimestamp = &now
		return b, written.n, err
	}

	// Never write over a backup of the same name already in the bucket (another
	// cluster's, or one not yet synced): its files stay untouched.
	if _, err := c.store.GetBackupMetadata(ctx, b.Name); err == nil {
		return fail(fmt.Errorf("a backup named %q already exists in the bucket; its files were left untouched: choose another name", b.Name))
	} else if !errors.Is(err, cloudprovider.ErrNotFound) {
		return fail(fmt.Errorf("checking the bucket for an existing backup %q: %w", b.Name, err))
	}

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
	// the backup is held in memory or on disk. The upload reads the log and the
	// metadata only after the tarball's last byte, when both are known.
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
	var final *arkv1.Backup
	metadata := newLazyReader(func() (io.Reader, error) {
		<-engineDone
		if engineErr != nil {
			return nil, engineErr
		}
		final = b.DeepCopy()
		result.ApplyTo(&final.Status)
		final.Status.Phase = arkv1.BackupPhaseCompleted
		if len(result.Errors) > 0 {
			final.Status.Phase = arkv1.BackupPhasePartiallyFailed
		}
		now := metav1.NewTime(c.clock.Now())
		final.Status.CompletionTimestamp = &now
		final.TypeMeta = metav1.TypeMeta{APIVersion: arkv1.SchemeGroupVersion.String(), Kind: "Backup"}
		data, err := json.Marshal(final)
		if err != nil {
			return nil, err
		}
		return bytes.NewReader(data), nil
	})
	logReader := newLazyReader(func() (io.Reader, error) {
		<-engineDone
		if err := logGzip.Close(); err != nil {
			return nil, fmt.Errorf("writing the backup log: %w", err)
		}
		if _, err := logFile.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		return logFile, nil
	})
	uploadErr := c.store.PutBackup(ctx, b.Name, metadata, pr, logReader)
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
	case final == nil:
		return fail(errors.New("uploading the backup: the metadata was never written"))
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

// lazyReader is a reader whose content is made at its first Read: the upload
// reads the log and the metadata only once the tarball is done.
type lazyReader struct {
	open func() (io.Reader, error)
	r    io.Reader
	err  error
}

func newLazyReader(open func() (io.Reader, error)) *lazyReader { return &lazyReader{open: open} }

func (l *lazyReader) Read(p []byte) (int, error) {
	if l.r == nil && l.err == nil {
		l.r, l.err = l.open()
	}
	if l.err != nil {
		return 0, l.err
	}
	return l.r.Read(p)
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
