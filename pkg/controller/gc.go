package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/cloudprovider"
	arkv1client "github.com/heptio/ark/pkg/generated/clientset/versioned/typed/ark/v1"
	arklisters "github.com/heptio/ark/pkg/generated/listers/ark/v1"
	"github.com/heptio/ark/pkg/metrics"
)

// GCFinalizer is put on every backup by the gc controller: deleting a Backup
// object (`ark backup delete`, or its expiry) first removes its files, its
// snapshots and its restores, and only then the object.
const GCFinalizer = "ark.heptio.com/gc"

// GoneFromBucketAnnotation marks a backup the backup sync controller removes
// because its files vanished from the bucket: the gc controller then neither
// adds its finalizer nor deletes its snapshots (its bucket files are gone already).
const GoneFromBucketAnnotation = "ark.heptio.com/gone-from-bucket"

// GCResyncKey is the fixed key of the gc controller's periodic pass over all backups.
const GCResyncKey = "!gc-resync"

// gcWaitInterval is how often a deletion waiting for a running backup or
// restore looks again (their updates also wake it).
const gcWaitInterval = 30 * time.Second

// errStillRunning stops a cleanup that found its backup running after all.
var errStillRunning = errors.New("the backup is in progress")

// SnapshotDeleter deletes volume snapshots through the persistentVolumeProvider.
// Deleting a snapshot that no longer exists must return nil.
type SnapshotDeleter interface {
	DeleteSnapshot(ctx context.Context, snapshotID string) error
}

// GCBackupStore is what the gc controller needs of the bucket.
type GCBackupStore interface {
	GetBackupMetadata(ctx context.Context, name string) ([]byte, error)
	DeleteBackup(ctx context.Context, name string) error
}

// GCClient is what the gc controller writes.
type GCClient interface {
	arkv1client.BackupsGetter
	arkv1client.RestoresGetter
}

// GCController deletes expired and deleted backups completely.
//
// Every backup gets the finalizer GCFinalizer. An expired backup
// (status.expiration passed) is deleted; a deleted backup (deletionTimestamp
// set, by expiry or by `ark backup delete`) is cleaned up, in this order:
// phase Deleting; its volume snapshots; its restores; its files in the
// bucket; then the finalizer, which lets the API server remove the object.
// A step that fails stops the cleanup there, is recorded in
// status.failureReason (phase stays Deleting) and retried with backoff and
// on every periodic pass, so nothing is ever left half deleted without a
// record.
//
// Safety:
//   - A backup still New-but-claimed or InProgress, or with a restore of it
//     InProgress, is not cleaned up until that work ends.
//   - With snapshots and no SnapshotDeleter (no persistentVolumeProvider), or
//     a snapshot that cannot be deleted, nothing further is deleted: the
//     Backup object (and its bucket metadata) is the only record of the
//     snapshot IDs, so it is kept with its finalizer and the reason says
//     what to do.
//   - The bucket files are deleted only if they are this backup's: a backup
//     that never started wrote nothing, and one whose name clashed with
//     another backup in the bucket (different start time and UID in the
//     bucket's metadata) leaves those files alone.
//
// It is not run in restore-only mode: nothing is deleted then, and a deleted
// backup waits, with its finalizer, until the server runs normally again.
type GCController struct {
	backups  arklisters.BackupLister
	restores arklisters.RestoreLister
	client   GCClient
	store    GCBackupStore
	snaps    SnapshotDeleter
	clock    clock.PassiveClock
	period   time.Duration
	enqueue  func(key string)
	events   record.EventRecorder
	metrics  *metrics.Metrics
}

// SetMetrics makes the controller count its deletions; nil counts none.
func (c *GCController) SetMetrics(m *metrics.Metrics) { c.metrics = m }

// SetEventRecorder makes the controller record events on the backups it
// deletes (shown by kubectl describe); nil records none.
func (c *GCController) SetEventRecorder(r record.EventRecorder) { c.events = r }

// NewGCController returns the controller; snaps may be nil (no
// persistentVolumeProvider). period is the Config's gcSyncPeriod.
func NewGCController(backups arklisters.BackupLister, restores arklisters.RestoreLister, client GCClient, store GCBackupStore, snaps SnapshotDeleter, clk clock.PassiveClock, period time.Duration) *GCController {
	return &GCController{backups: backups, restores: restores, client: client, store: store, snaps: snaps, clock: clk, period: period}
}

// Register makes r run the controller on every backup event and on the
// periodic key, which it enqueues once.
func (c *GCController) Register(r *Runner, backups, restores cache.SharedIndexInformer) error {
	c.enqueue = r.EnqueueKey
	r.WaitFor(restores.HasSynced)
	if err := r.Watch(backups, nil, false); err != nil {
		return err
	}
	r.EnqueueKey(GCResyncKey)
	return nil
}

// Sync handles one backup, or with GCResyncKey enqueues every backup and
// comes back after the gc period.
func (c *GCController) Sync(ctx context.Context, key string) (time.Duration, error) {
	if key == GCResyncKey {
		c.resync(ctx)
		return c.period, nil
	}
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
	b := cached.DeepCopy()
	logger := klog.FromContext(ctx).WithValues("backup", klog.KObj(b))
	ctx = klog.NewContext(ctx, logger)

	if _, gone := b.Annotations[GoneFromBucketAnnotation]; gone {
		// Being removed by the sync controller; nothing of it is left to clean.
		if b.DeletionTimestamp != nil && slices.Contains(b.Finalizers, GCFinalizer) {
			return 0, c.removeFinalizer(ctx, b)
		}
		return 0, nil
	}
	if b.DeletionTimestamp != nil {
		if !slices.Contains(b.Finalizers, GCFinalizer) {
			return 0, nil
		}
		return c.cleanup(ctx, b)
	}

	if !slices.Contains(b.Finalizers, GCFinalizer) {
		b.Finalizers = append(b.Finalizers, GCFinalizer)
		updated, err := c.client.Backups(ns).Update(ctx, b, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return 0, nil // the newer version comes as an event
		}
		if err != nil {
			return 0, fmt.Errorf("adding finalizer %s: %w", GCFinalizer, err)
		}
		b = updated
	}
	exp := b.Status.Expiration
	if exp == nil {
		return 0, nil
	}
	now := c.clock.Now()
	if now.Before(exp.Time) {
		return exp.Sub(now) + time.Second, nil
	}
	logger.Info("Backup expired; deleting it", "expiration", exp.UTC().Format(time.RFC3339))
	eventf(c.events, b, corev1.EventTypeNormal, "Expired", "The backup expired at %s: deleting it", exp.UTC().Format(time.RFC3339))
	uid := b.UID
	err = c.client.Backups(ns).Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return 0, fmt.Errorf("deleting expired backup: %w", err)
	}
	// The deletion comes back as an update event with deletionTimestamp set.
	return 0, nil
}

// resync enqueues every backup: those that lack the finalizer, expired while
// no event came, or whose cleanup gave up retrying.
func (c *GCController) resync(ctx context.Context) {
	all, err := c.backups.List(labels.Everything())
	if err != nil {
		klog.FromContext(ctx).Error(err, "Listing backups")
		return
	}
	for _, b := range all {
		key, err := cache.MetaNamespaceKeyFunc(b)
		if err == nil && c.enqueue != nil {
			c.enqueue(key)
		}
	}
}

// cleanup deletes what a deleted backup leaves, then its finalizer.
func (c *GCController) cleanup(ctx context.Context, b *arkv1.Backup) (time.Duration, error) {
	logger := klog.FromContext(ctx)
	switch b.Status.Phase {
	case arkv1.BackupPhaseInProgress:
		logger.Info("Backup deleted while in progress; deleting it once it ends")
		return gcWaitInterval, nil
	}
	restores, err := c.restoresOf(b)
	if err != nil {
		return 0, err
	}
	for _, r := range restores {
		if r.Status.Phase == arkv1.RestorePhaseInProgress {
			logger.Info("A restore of the deleted backup is in progress; deleting the backup once it ends", "restore", klog.KObj(r))
			return gcWaitInterval, nil
		}
	}

	if b.Status.Phase != arkv1.BackupPhaseDeleting {
		logger.Info("Deleting backup", "phase", b.Status.Phase)
		err := c.updateStatus(ctx, b, func(s *arkv1.BackupStatus) error {
			if s.Phase == arkv1.BackupPhaseInProgress {
				return errStillRunning
			}
			s.Phase = arkv1.BackupPhaseDeleting
			s.FailureReason = ""
			return nil
		})
		if errors.Is(err, errStillRunning) {
			return gcWaitInterval, nil
		}
		if err != nil {
			return 0, ignoreNotFound(err)
		}
	}
	if err := c.deleteAll(ctx, b, restores); err != nil {
		c.metrics.GCDeletion(err)
		logger.Error(err, "Deleting backup failed; retrying")
		eventf(c.events, b, corev1.EventTypeWarning, "DeletionFailed", "Deleting the backup failed, retrying: %v", err)
		if uerr := c.updateStatus(ctx, b, func(s *arkv1.BackupStatus) error {
			s.Phase = arkv1.BackupPhaseDeleting
			s.FailureReason = "deletion failed, retrying: " + err.Error()
			return nil
		}); uerr != nil && !apierrors.IsNotFound(uerr) {
			logger.Error(uerr, "Recording the failed deletion")
		}
		return 0, err
	}
	if err := c.removeFinalizer(ctx, b); err != nil {
		return 0, err
	}
	logger.Info("Backup deleted", "snapshots", len(b.Status.VolumeBackups), "restores", len(restores))
	c.metrics.GCDeletion(nil)
	return 0, nil
}

func (c *GCController) deleteAll(ctx context.Context, b *arkv1.Backup, restores []*arkv1.Restore) error {
	if err := c.deleteSnapshots(ctx, b); err != nil {
		return err
	}
	for _, r := range restores {
		uid := r.UID
		err := c.client.Restores(r.Namespace).Delete(ctx, r.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting restore %s: %w", r.Name, err)
		}
	}
	owned, err := c.ownsBucketFiles(ctx, b)
	if err != nil {
		return err
	}
	if owned {
		if err := c.store.DeleteBackup(ctx, b.Name); err != nil {
			return fmt.Errorf("deleting the backup's files from the bucket: %w", err)
		}
	}
	return nil
}

func (c *GCController) deleteSnapshots(ctx context.Context, b *arkv1.Backup) error {
	if len(b.Status.VolumeBackups) == 0 {
		return nil
	}
	pvs := make([]string, 0, len(b.Status.VolumeBackups))
	for pv := range b.Status.VolumeBackups {
		pvs = append(pvs, pv)
	}
	sort.Strings(pvs)
	var ids []string
	for _, pv := range pvs {
		if v := b.Status.VolumeBackups[pv]; v != nil && v.SnapshotID != "" {
			ids = append(ids, v.SnapshotID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	if c.snaps == nil {
		return fmt.Errorf("the backup has %d volume snapshot(s) (%s) and no persistentVolumeProvider is configured to delete them: "+
			"the backup is kept so that they are not forgotten; configure the provider, or delete the snapshots by hand and remove the finalizer %s",
			len(ids), strings.Join(ids, ", "), GCFinalizer)
	}
	var errs []error
	for _, id := range ids {
		if err := c.snaps.DeleteSnapshot(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("snapshot %s: %w", id, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("deleting volume snapshots: %w", errors.Join(errs...))
	}
	klog.FromContext(ctx).Info("Deleted volume snapshots", "snapshots", ids)
	return nil
}

// ownsBucketFiles says whether the bucket's files named after b were
// written by b (or are the files b was synced from).
func (c *GCController) ownsBucketFiles(ctx context.Context, b *arkv1.Backup) (bool, error) {
	if b.Status.StartTimestamp == nil {
		return false, nil // never started: wrote nothing
	}
	data, err := c.store.GetBackupMetadata(ctx, b.Name)
	if errors.Is(err, cloudprovider.ErrNotFound) {
		return true, nil // not whole: at most the leftovers of its own failed upload
	}
	if err != nil {
		return false, fmt.Errorf("reading the backup's metadata in the bucket: %w", err)
	}
	var m arkv1.Backup
	if err := json.Unmarshal(data, &m); err != nil {
		klog.FromContext(ctx).Info("The bucket's metadata of this backup is unreadable; its files are left alone", "error", err.Error())
		return false, nil
	}
	if m.UID != "" && m.UID == b.UID {
		return true, nil
	}
	if s := m.Status.StartTimestamp; s != nil && s.Unix() == b.Status.StartTimestamp.Unix() {
		return true, nil
	}
	klog.FromContext(ctx).Info("The bucket holds another backup of this name; its files are left alone",
		"bucketBackupStarted", m.Status.StartTimestamp, "started", b.Status.StartTimestamp)
	return false, nil
}

func (c *GCController) restoresOf(b *arkv1.Backup) ([]*arkv1.Restore, error) {
	all, err := c.restores.Restores(b.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var ret []*arkv1.Restore
	for _, r := range all {
		if r.Spec.BackupName == b.Name {
			ret = append(ret, r)
		}
	}
	sort.Slice(ret, func(i, j int) bool { return ret[i].Name < ret[j].Name })
	return ret, nil
}

func (c *GCController) removeFinalizer(ctx context.Context, b *arkv1.Backup) error {
	return removeBackupFinalizer(ctx, c.client, b, nil)
}

// eventf records an event if r is not nil.
func eventf(r record.EventRecorder, obj runtime.Object, eventType, reason, format string, args ...any) {
	if r != nil {
		r.Eventf(obj, eventType, reason, format, args...)
	}
}

// removeBackupFinalizer removes GCFinalizer from the newest version of b,
// after mutate (may be nil) changed it.
func removeBackupFinalizer(ctx context.Context, client arkv1client.BackupsGetter, b *arkv1.Backup, mutate func(*arkv1.Backup)) error {
	backups := client.Backups(b.Namespace)
	cur := b.DeepCopy()
	first := true
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if !first {
			var err error
			if cur, err = backups.Get(ctx, b.Name, metav1.GetOptions{}); err != nil {
				return err
			}
			if cur.UID != b.UID {
				return apierrors.NewNotFound(arkv1.Resource("backups"), b.Name)
			}
		}
		first = false
		if mutate != nil {
			mutate(cur)
		}
		cur.Finalizers = slices.DeleteFunc(cur.Finalizers, func(f string) bool { return f == GCFinalizer })
		updated, err := backups.Update(ctx, cur, metav1.UpdateOptions{})
		if err == nil {
			*b = *updated
		}
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("removing finalizer %s: %w", GCFinalizer, err)
	}
	return nil
}

// updateStatus applies mutate to the newest version of b's status.
func (c *GCController) updateStatus(ctx context.Context, b *arkv1.Backup, mutate func(*arkv1.BackupStatus) error) error {
	updated, err := updateStatus(ctx, c.client.Backups(b.Namespace), b.Name, func(cur *arkv1.Backup) error { return mutate(&cur.Status) })
	if err == nil {
		*b = *updated
	}
	return err
}
