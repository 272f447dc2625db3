package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
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
	"github.com/heptio/ark/pkg/format"
	arkv1client "github.com/heptio/ark/pkg/generated/clientset/versioned/typed/ark/v1"
	arkinformers "github.com/heptio/ark/pkg/generated/informers/externalversions/ark/v1"
	arklisters "github.com/heptio/ark/pkg/generated/listers/ark/v1"
	"github.com/heptio/ark/pkg/persistence"
	"github.com/heptio/ark/pkg/restore"
	"github.com/heptio/ark/pkg/validation"
)

// Restorer is what the restore controller needs of the restore engine:
// Authorize says, before the restore is claimed, why its requester may not
// have it (validation errors); Restore checks the rest once the backup is
// read (a *restore.InvalidError), before the first write.
type Restorer interface {
	Authorize(ctx context.Context, restore *arkv1.Restore) []string
	Restore(ctx context.Context, restore *arkv1.Restore, backup *arkv1.Backup, contents io.Reader, log io.Writer, progress func(arkv1.RestoreProgress)) (*restore.Result, error)
}

// RestoreStore is what the restore controller needs of the bucket.
type RestoreStore interface {
	BackupExists(ctx context.Context, name string) (bool, error)
	GetBackup(ctx context.Context, name string) (*arkv1.Backup, error)
	GetBackupContents(ctx context.Context, name string) (io.ReadCloser, error)
	PutRestoreLog(ctx context.Context, backup, restore string, log io.Reader) error
	PutRestoreResults(ctx context.Context, backup, restore string, results io.Reader) error
	// CanDecrypt says whether the server holds a key of an encrypted backup
	// (an error matching encryption.ErrNoKey if not).
	CanDecrypt(backup *arkv1.Backup) error
	// Plaintext decrypts a file of the backup read from the bucket (plain files as they are).
	Plaintext(r io.Reader, backup *arkv1.Backup, kind persistence.DownloadKind) (io.Reader, error)
}

// RestoreController runs the restores in phase New.
type RestoreController struct {
	restores arklisters.RestoreLister
	backups  arklisters.BackupLister
	client   arkv1client.RestoresGetter
	restorer Restorer
	store    RestoreStore
	clock    clock.PassiveClock
	options
}

// NewRestoreController returns the controller; Register it with a Runner.
func NewRestoreController(restores arklisters.RestoreLister, backups arklisters.BackupLister, client arkv1client.RestoresGetter, restorer Restorer, store RestoreStore, clk clock.PassiveClock, opts ...Option) *RestoreController {
	return &RestoreController{restores: restores, backups: backups, client: client, restorer: restorer, store: store, clock: clk, options: newOptions(opts)}
}

// Register makes r run the controller on the restore informer's New restores.
func (c *RestoreController) Register(r *Runner, inf arkinformers.Interface) error {
	r.WaitFor(inf.Backups().Informer().HasSynced)
	return r.Watch(inf.Restores().Informer(), func(obj any) bool {
		rs, ok := obj.(*arkv1.Restore)
		return ok && (rs.Status.Phase == "" || rs.Status.Phase == arkv1.RestorePhaseNew)
	}, false)
}

// FailInterrupted marks the restores a previous server left InProgress as Failed.
func (c *RestoreController) FailInterrupted(ctx context.Context) error {
	all, err := c.restores.List(labels.Everything())
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range all {
		if r.Status.Phase != arkv1.RestorePhaseInProgress {
			continue
		}
		klog.FromContext(ctx).Info("Marking a restore interrupted by a server restart as Failed", "restore", klog.KObj(r))
		errs = append(errs, c.updateStatus(ctx, r.Namespace, r.Name, func(s *arkv1.RestoreStatus) {
			if s.Phase != arkv1.RestorePhaseInProgress {
				return
			}
			s.Phase = arkv1.RestorePhaseFailed
			s.FailureReason = "the ark server stopped while this restore was in progress; some objects may have been restored. Create the restore again: existing objects are left untouched."
			now := metav1.NewTime(c.clock.Now())
			s.CompletionTimestamp = &now
		}))
	}
	return errors.Join(errs...)
}

// Sync runs the restore with this key if it is New.
func (c *RestoreController) Sync(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	cached, err := c.restores.Restores(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if cached.Status.Phase != "" && cached.Status.Phase != arkv1.RestorePhaseNew {
		return 0, nil
	}
	r := cached.DeepCopy()
	logger := klog.FromContext(ctx).WithValues("restore", klog.KObj(r), "backup", r.Spec.BackupName)
	ctx = klog.NewContext(ctx, logger)

	// The bucket must answer before the restore is validated (its backup may
	// be only there) and claimed: it waits, New, rather than fail for want of
	// a retry.
	if _, err := c.store.BackupExists(ctx, r.Spec.BackupName); err != nil {
		logger.Error(err, "The bucket does not answer; the restore waits for it", "retryIn", BucketRetryInterval)
		return BucketRetryInterval, nil
	}
	backup, errs := c.validate(ctx, r)
	if len(errs) > 0 {
		logger.Info("Restore failed validation", "errors", errs)
		r.Status.Phase = arkv1.RestorePhaseFailedValidation
		r.Status.ValidationErrors = errs
		_, err := c.client.Restores(ns).UpdateStatus(ctx, r, metav1.UpdateOptions{})
		if err == nil {
			c.metrics.RestoreFailedValidation()
			c.event(r, true, "FailedValidation", "The restore is invalid: %s", strings.Join(errs, "; "))
		}
		return 0, ignoreConflict(err)
	}

	start := metav1.NewTime(c.clock.Now())
	r.Status.Phase = arkv1.RestorePhaseInProgress
	r.Status.StartTimestamp = &start
	claimed, err := c.client.Restores(ns).UpdateStatus(ctx, r, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	logger.Info("Restore started", "dryRun", r.Spec.DryRun)
	c.metrics.RestoreStarted()
	c.event(claimed, false, "Started", "Restore from backup %s started", backup.Name)
	final := c.run(ctx, claimed, backup)
	logger.Info("Restore finished", "phase", final.Phase, "warnings", final.Warnings, "errors", final.Errors, "reason", final.FailureReason)
	if err := c.updateStatus(ctx, ns, name, func(s *arkv1.RestoreStatus) { *s = *final }); err != nil {
		return 0, err
	}
	items := 0
	if final.Progress != nil {
		items = final.Progress.ItemsRestored
	}
	c.metrics.RestoreFinished(string(final.Phase), final.CompletionTimestamp.Sub(final.StartTimestamp.Time), items)
	switch final.Phase {
	case arkv1.RestorePhaseCompleted:
		c.event(claimed, false, "Completed", "Restore completed with %d warnings", final.Warnings)
	case arkv1.RestorePhaseDryRunCompleted:
		c.event(claimed, final.Errors > 0, "DryRunCompleted", "Dry run completed: nothing was created; a restore would fail on %d items and warn about %d: see `ark restore describe %s`", final.Errors, final.Warnings, name)
	case arkv1.RestorePhaseFailedValidation:
		c.metrics.RestoreFailedValidation()
		c.event(claimed, true, "FailedValidation", "The restore is invalid: %s", strings.Join(final.ValidationErrors, "; "))
	case arkv1.RestorePhasePartiallyFailed:
		c.event(claimed, true, "PartiallyFailed", "Restore finished with %d errors and %d warnings: see `ark restore describe %s`", final.Errors, final.Warnings, name)
	default:
		c.event(claimed, true, "Failed", "Restore failed: %s", final.FailureReason)
	}
	return 0, nil
}

// validate checks the spec and finds the backup: in the cluster, or else in
// the bucket (a cluster that has not synced it yet, as in a migration).
func (c *RestoreController) validate(ctx context.Context, r *arkv1.Restore) (*arkv1.Backup, []string) {
	errs := validation.RestoreSpec(&r.Spec, nil)
	errs = append(errs, validation.ProtectedNamespaceTargets(&r.Spec, r.Namespace)...)
	errs = append(errs, c.restorer.Authorize(ctx, r)...)
	if r.Spec.BackupName == "" {
		return nil, errs
	}
	backup, err := c.backups.Backups(r.Namespace).Get(r.Spec.BackupName)
	switch {
	case apierrors.IsNotFound(err):
		backup, err = c.backupFromBucket(ctx, r.Spec.BackupName)
	case err == nil && backup.Annotations[format.SyncedFromBucketAnnotation] != "" && !backup.Status.Phase.IsFinal():
		// The sync controller is importing it right now (created, status not yet
		// set): the bucket's copy is the backup.
		backup, err = c.backupFromBucket(ctx, r.Spec.BackupName)
	}
	if err != nil {
		return nil, append(errs, err.Error())
	}
	if p := backup.Status.Phase; p != arkv1.BackupPhaseCompleted && p != arkv1.BackupPhasePartiallyFailed {
		errs = append(errs, fmt.Sprintf("backup %q is %s: only Completed or PartiallyFailed backups can be restored", backup.Name, p))
	}
	// Known before anything is read or restored: a backup for keys the server no
	// longer holds is refused whole.
	if err := c.store.CanDecrypt(backup); err != nil {
		errs = append(errs, err.Error())
	}
	return backup, errs
}

func (c *RestoreController) backupFromBucket(ctx context.Context, name string) (*arkv1.Backup, error) {
	backup, err := c.store.GetBackup(ctx, name)
	if errors.Is(err, persistence.ErrBackupNotFound) {
		return nil, fmt.Errorf("backup %q was found neither in the cluster nor in the bucket", name)
	}
	if err != nil {
		return nil, fmt.Errorf("reading backup %q from the bucket: %w", name, err)
	}
	if backup.Name != "" && backup.Name != name {
		return nil, fmt.Errorf("the bucket's folder %q holds the metadata of another backup (%q): it is not a backup to restore", name, backup.Name)
	}
	return backup, nil
}

// run restores and uploads the log and results; it returns the final status.
func (c *RestoreController) run(ctx context.Context, r *arkv1.Restore, backup *arkv1.Backup) *arkv1.RestoreStatus {
	status := r.Status.DeepCopy()
	finish := func(phase arkv1.RestorePhase, reason string) *arkv1.RestoreStatus {
		status.Phase = phase
		status.FailureReason = reason
		now := metav1.NewTime(c.clock.Now())
		status.CompletionTimestamp = &now
		return status
	}

	contents, err := c.verifiedContents(ctx, backup.Name)
	if err != nil {
		return finish(arkv1.RestorePhaseFailed, err.Error())
	}
	defer contents.Close()

	logFile, err := os.CreateTemp("", "ark-restore-log-*.gz")
	if err != nil {
		return finish(arkv1.RestorePhaseFailed, fmt.Sprintf("creating the restore log: %v", err))
	}
	defer os.Remove(logFile.Name())
	defer logFile.Close()
	logGzip := gzip.NewWriter(logFile)

	progress := newProgressReporter(ctx, c.clock, func(ctx context.Context, data []byte) error {
		_, err := c.client.Restores(r.Namespace).Patch(ctx, r.Name, types.MergePatchType, data, metav1.PatchOptions{}, "status")
		return err
	})
	result, runErr := c.restorer.Restore(ctx, r, backup, contents, logGzip, func(p arkv1.RestoreProgress) { progress.report(p) })
	progress.stop()
	logErr := logGzip.Close()

	if result != nil {
		status.Warnings = result.Results.WarningCount()
		status.Errors = result.Results.ErrorCount()
		status.Updated = result.Updated
		status.Unchanged = result.Unchanged
		status.Progress = &arkv1.RestoreProgress{TotalItems: result.TotalItems, ItemsRestored: result.Restored + result.Existing + result.Updated + result.Unchanged + result.Skipped + result.Failed}
		if r.Spec.DryRun {
			status.DryRun = &arkv1.RestoreDryRunCounts{
				WouldCreate: result.Restored, Unvalidated: result.Unvalidated, WouldUpdate: result.Updated,
				Unchanged: result.Unchanged, Existing: result.Existing, Skipped: result.Skipped, WouldFail: result.Failed,
			}
		}
		switch err := c.upload(ctx, r, backup.Name, result.Results, logFile, logErr); {
		case errors.Is(err, persistence.ErrReadOnly):
			// A Velero bucket is never written to: the results go to the server's log.
			klog.FromContext(ctx).Info("The bucket is read-only; the restore's results are only in this log",
				"warnings", result.Results.Warnings, "errors", result.Results.Errors)
		case err != nil:
			klog.FromContext(ctx).Error(err, "Uploading the restore's log and results")
			status.Warnings++
		}
	}
	var invalid *restore.InvalidError
	switch {
	case errors.As(runErr, &invalid):
		// Known only once the backup was read: nothing was restored.
		status.ValidationErrors = invalid.Errors
		return finish(arkv1.RestorePhaseFailedValidation, "")
	case runErr != nil:
		return finish(arkv1.RestorePhaseFailed, runErr.Error())
	case r.Spec.DryRun:
		// What would fail is in status.errors; the dry run itself ran.
		return finish(arkv1.RestorePhaseDryRunCompleted, "")
	case status.Errors > 0:
		return finish(arkv1.RestorePhasePartiallyFailed, "")
	}
	return finish(arkv1.RestorePhaseCompleted, "")
}

// verifiedContents returns the backup's tarball, checked against the size and SHA-256
// its ark-backup.json records before anything is restored: it is downloaded into a
// temporary file (removed on Close) through the check. A backup that is not whole in the
// bucket (being deleted) is refused; one without a recorded checksum (taken by an older
// ark, or by Velero) is read unchecked, which the log says.
func (c *RestoreController) verifiedContents(ctx context.Context, name string) (io.ReadCloser, error) {
	m, err := c.store.GetBackup(ctx, name)
	if errors.Is(err, persistence.ErrBackupNotFound) {
		return nil, fmt.Errorf("backup %q is not whole in the bucket (deleted, or being deleted): nothing was restored", name)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the backup's metadata in the bucket: %w", err)
	}
	r, err := c.store.GetBackupContents(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("reading the backup's tarball: %w", err)
	}
	if m.Status.Contents == nil {
		klog.FromContext(ctx).Info("The backup's metadata records no checksum of its tarball (written by an older ark or by Velero); restoring it unchecked")
		plain, err := c.store.Plaintext(r, m, persistence.DownloadBackupContents)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("%w; nothing was restored", err)
		}
		return readCloser{plain, r}, nil
	}
	defer r.Close()
	f, err := os.CreateTemp("", "ark-restore-tarball-*")
	if err != nil {
		return nil, fmt.Errorf("creating a temporary file for the tarball: %w", err)
	}
	tmp := &removeOnClose{File: f}
	if _, err := io.Copy(f, persistence.VerifyContents(r, *m.Status.Contents, name)); err != nil {
		tmp.Close()
		if errors.Is(err, persistence.ErrChecksumMismatch) {
			return nil, fmt.Errorf("%w; nothing was restored", err)
		}
		return nil, fmt.Errorf("reading the backup's tarball: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		tmp.Close()
		return nil, err
	}
	// The checksum is of the stored bytes; an encrypted tarball is decrypted as it is read.
	plain, err := c.store.Plaintext(tmp, m, persistence.DownloadBackupContents)
	if err != nil {
		tmp.Close()
		return nil, fmt.Errorf("%w; nothing was restored", err)
	}
	return readCloser{plain, tmp}, nil
}

// readCloser reads one reader and closes another.
type readCloser struct {
	io.Reader
	io.Closer
}

// removeOnClose is a temporary file removed when closed.
type removeOnClose struct{ *os.File }

func (f *removeOnClose) Close() error {
	err := f.File.Close()
	_ = os.Remove(f.Name())
	return err
}

// upload stores the restore's results and log beside its backup.
func (c *RestoreController) upload(ctx context.Context, r *arkv1.Restore, backupName string, results format.RestoreResults, logFile *os.File, logErr error) error {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	if err := json.NewEncoder(gz).Encode(results); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	var errs []error
	if err := c.store.PutRestoreResults(ctx, backupName, r.Name, &buf); err != nil {
		errs = append(errs, err)
	}
	if logErr == nil {
		if _, logErr = logFile.Seek(0, io.SeekStart); logErr == nil {
			logErr = c.store.PutRestoreLog(ctx, backupName, r.Name, logFile)
		}
	}
	if logErr != nil {
		errs = append(errs, fmt.Errorf("restore log: %w", logErr))
	}
	return errors.Join(errs...)
}

func (c *RestoreController) updateStatus(ctx context.Context, ns, name string, mutate func(*arkv1.RestoreStatus)) error {
	_, err := updateStatus(ctx, c.client.Restores(ns), name, func(r *arkv1.Restore) error { mutate(&r.Status); return nil })
	return err
}
