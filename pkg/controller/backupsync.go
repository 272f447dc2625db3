package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/format"
	arkv1client "github.com/heptio/ark/pkg/generated/clientset/versioned/typed/ark/v1"
	arkinformers "github.com/heptio/ark/pkg/generated/informers/externalversions/ark/v1"
	arklisters "github.com/heptio/ark/pkg/generated/listers/ark/v1"
	"github.com/heptio/ark/pkg/persistence"
)

// syncRetryInterval is how soon a pass whose bucket listing failed is tried again.
const syncRetryInterval = time.Minute

// SyncBackupStore is what the backup sync controller reads of the bucket; it
// never writes to it.
type SyncBackupStore interface {
	ListBackups(ctx context.Context) ([]string, error)
	GetBackupMetadata(ctx context.Context, name string) ([]byte, error)
}

// BackupSyncController makes the cluster's Backup objects follow the bucket,
// the source of truth, every backupSyncPeriod:
//
//   - A whole backup in the bucket (with ark-backup.json) in a final phase
//     (Completed, PartiallyFailed, Failed) with no Backup object of its name
//     gets one: created with the metadata's spec and labels, then its status.
//     A backup whose metadata is not final (New, InProgress) is skipped, so
//     it never becomes new work. If its status cannot be set, the object is
//     deleted again; one left New by a server that stopped in between gets
//     its status on the next pass.
//   - A Completed or PartiallyFailed Backup object whose files vanished from
//     the bucket is removed (object only: its snapshots are kept).
//
// A backup being deleted (its ark-backup.json replaced by the deletion marker)
// is not listed, so never imported.
//
// Never a mass deletion on a bad listing: a listing that fails, or that is
// empty, removes nothing; an object is removed only if the previous
// successful listing (kept in memory, so never on the first pass after a
// start) held it, the current one does not, and a direct read of its
// metadata says it is not found.
type BackupSyncController struct {
	backups   arklisters.BackupLister
	client    arkv1client.BackupsGetter
	store     SyncBackupStore
	namespace string
	period    time.Duration

	options

	mu   sync.Mutex
	prev map[string]bool // names of the previous successful listing; nil before the first
}

// NewBackupSyncController returns the controller for the backups of
// namespace; period is the Config's backupSyncPeriod.
func NewBackupSyncController(backups arklisters.BackupLister, client arkv1client.BackupsGetter, store SyncBackupStore, namespace string, period time.Duration, opts ...Option) *BackupSyncController {
	return &BackupSyncController{backups: backups, client: client, store: store, namespace: namespace, period: period, options: newOptions(opts)}
}

// Register makes r run a pass once the backups' cache is synced, then every
// period. The controller has no queue: its Sync does nothing.
func (c *BackupSyncController) Register(r *Runner, inf arkinformers.Interface) error {
	r.WaitFor(inf.Backups().Informer().HasSynced)
	r.Every(c.period, c.pass)
	return nil
}

// SyncResult counts what one pass did.
type SyncResult struct {
	Listed, Imported, Skipped, Removed int
	ListingFailed                      bool
}

// pass runs one pass and says when to run the next: after the period, or
// sooner if the listing failed (errors are logged, never given up on).
func (c *BackupSyncController) pass(ctx context.Context) time.Duration {
	res := c.SyncOnce(ctx)
	if res.ListingFailed {
		c.metrics.SyncRun(errors.New("listing the bucket failed"))
		return min(c.period, syncRetryInterval)
	}
	c.metrics.SyncRun(nil)
	return c.period
}

// SyncOnce runs one pass and says what it did.
func (c *BackupSyncController) SyncOnce(ctx context.Context) SyncResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	logger := klog.FromContext(ctx)
	var res SyncResult

	names, err := c.store.ListBackups(ctx)
	if err != nil {
		logger.Error(err, "Listing the bucket failed; no backup imported or removed")
		res.ListingFailed = true
		return res
	}
	res.Listed = len(names)
	inBucket := make(map[string]bool, len(names))
	for _, n := range names {
		inBucket[n] = true
	}
	objects, err := c.backups.Backups(c.namespace).List(labels.Everything())
	if err != nil {
		logger.Error(err, "Listing Backup objects")
		return res
	}
	inCluster := make(map[string]*arkv1.Backup, len(objects))
	for _, b := range objects {
		inCluster[b.Name] = b
	}

	for _, name := range names {
		if ctx.Err() != nil {
			return res
		}
		if b, ok := inCluster[name]; ok {
			if b.Annotations[format.SyncedFromBucketAnnotation] != "" && (b.Status.Phase == "" || b.Status.Phase == arkv1.BackupPhaseNew) && b.DeletionTimestamp == nil {
				// An import interrupted between the create and the status.
				if err := c.finishImport(ctx, b); err != nil {
					logger.Error(err, "Finishing an interrupted import", "backup", name)
				}
			}
			continue
		}
		imported, err := c.importBackup(ctx, name)
		switch {
		case err != nil:
			logger.Error(err, "Importing a backup from the bucket", "backup", name)
			res.Skipped++
		case imported:
			res.Imported++
		default:
			res.Skipped++
		}
	}

	prev := c.prev
	c.prev = inBucket
	switch {
	case prev == nil:
		// The first pass since the start removes nothing: nothing says yet
		// which objects the bucket held.
	case len(names) == 0:
		if len(prev) > 0 {
			logger.Info("The bucket listing is empty although it held backups before; no Backup object is removed", "previouslyListed", len(prev))
		}
	default:
		for _, b := range objects {
			if ctx.Err() != nil {
				return res
			}
			if inBucket[b.Name] || !prev[b.Name] || b.DeletionTimestamp != nil {
				continue
			}
			if b.Status.Phase != arkv1.BackupPhaseCompleted && b.Status.Phase != arkv1.BackupPhasePartiallyFailed {
				continue
			}
			removed, err := c.removeVanished(ctx, b)
			if err != nil {
				logger.Error(err, "Removing a Backup object whose files vanished from the bucket", "backup", klog.KObj(b))
			}
			if removed {
				res.Removed++
			}
		}
	}
	if res.Imported > 0 || res.Removed > 0 {
		logger.Info("Synced backups with the bucket", "listed", res.Listed, "imported", res.Imported, "removed", res.Removed, "skipped", res.Skipped)
	} else {
		logger.V(1).Info("Synced backups with the bucket", "listed", res.Listed, "skipped", res.Skipped)
	}
	return res
}

// importBackup creates the Backup object of a backup found in the bucket.
func (c *BackupSyncController) importBackup(ctx context.Context, name string) (bool, error) {
	logger := klog.FromContext(ctx).WithValues("backup", name)
	data, err := c.store.GetBackupMetadata(ctx, name)
	if errors.Is(err, persistence.ErrBackupNotFound) {
		return false, nil // deleted since the listing
	}
	if err != nil {
		return false, err
	}
	m := &arkv1.Backup{}
	if err := json.Unmarshal(data, m); err != nil {
		logger.Info("Skipping a backup whose metadata in the bucket is unreadable", "error", err.Error())
		return false, nil
	}
	// A folder whose metadata names another backup is a copy or junk: its
	// tarball is not what the metadata describes.
	if m.Name != "" && m.Name != name {
		logger.Info("Skipping a folder whose metadata names another backup", "metadataName", m.Name)
		return false, nil
	}
	switch m.Status.Phase {
	case arkv1.BackupPhaseCompleted, arkv1.BackupPhasePartiallyFailed, arkv1.BackupPhaseFailed:
	default:
		logger.Info("Skipping a backup whose metadata in the bucket is not in a final phase", "phase", m.Status.Phase)
		return false, nil
	}

	obj := &arkv1.Backup{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:   c.namespace,
			Name:        name,
			Labels:      m.Labels,
			Annotations: map[string]string{format.SyncedFromBucketAnnotation: "true", format.BucketUIDAnnotation: string(m.UID)},
		},
		Spec: m.Spec,
	}
	created, err := c.client.Backups(c.namespace).Create(ctx, obj, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("creating the Backup object: %w", err)
	}
	// The status subresource is not written by a create: set it now. Another
	// writer may have touched the object: retry on conflict, but only while the
	// phase is still unset.
	cur := created
	first := true
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if !first {
			var err error
			if cur, err = c.client.Backups(c.namespace).Get(ctx, name, metav1.GetOptions{}); err != nil {
				return err
			}
			if cur.UID != created.UID {
				return fmt.Errorf("the object was replaced")
			}
			if p := cur.Status.Phase; p != "" && p != arkv1.BackupPhaseNew {
				return fmt.Errorf("the object was claimed as new work (phase %s) before its status was set", p)
			}
		}
		first = false
		cur = cur.DeepCopy()
		cur.Status = *m.Status.DeepCopy()
		_, err := c.client.Backups(c.namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		// Never leave it New: the backup controller would take it as work.
		// Deleted, it is imported again on the next pass.
		uid := created.UID
		derr := c.client.Backups(c.namespace).Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if derr != nil && !apierrors.IsNotFound(derr) {
			err = errors.Join(err, fmt.Errorf("deleting the half-imported object: %w", derr))
		}
		return false, fmt.Errorf("setting the status of the imported backup: %w", err)
	}
	logger.Info("Imported a backup from the bucket", "phase", m.Status.Phase)
	c.event(created, false, "SyncedFromBucket", "Created from the backup's metadata in the bucket (phase %s)", m.Status.Phase)
	return true, nil
}

// finishImport sets the status of an imported object left without one (the
// server stopped between the create and the status update), unless the
// object changed since the lister saw it.
func (c *BackupSyncController) finishImport(ctx context.Context, b *arkv1.Backup) error {
	data, err := c.store.GetBackupMetadata(ctx, b.Name)
	if err != nil {
		return err
	}
	m := &arkv1.Backup{}
	if err := json.Unmarshal(data, m); err != nil {
		return err
	}
	if m.Name != "" && m.Name != b.Name {
		return fmt.Errorf("its metadata in the bucket names another backup, %q", m.Name)
	}
	switch m.Status.Phase {
	case arkv1.BackupPhaseCompleted, arkv1.BackupPhasePartiallyFailed, arkv1.BackupPhaseFailed:
	default:
		return fmt.Errorf("its metadata in the bucket is %q, not final", m.Status.Phase)
	}
	cur := b.DeepCopy()
	cur.Status = *m.Status.DeepCopy()
	_, err = c.client.Backups(b.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		return nil // changed since: the next pass looks again
	}
	if err == nil {
		klog.FromContext(ctx).Info("Finished an interrupted import", "backup", klog.KObj(b), "phase", m.Status.Phase)
	}
	return err
}

// removeVanished deletes a Backup object whose files are gone from the
// bucket, after checking once more that its metadata is not found.
func (c *BackupSyncController) removeVanished(ctx context.Context, b *arkv1.Backup) (bool, error) {
	_, err := c.store.GetBackupMetadata(ctx, b.Name)
	if err == nil {
		return false, nil
	}
	if !errors.Is(err, persistence.ErrBackupNotFound) {
		return false, fmt.Errorf("checking the bucket: %w", err)
	}
	// Only the object goes: its snapshots are not touched (this is not an expiry
	// nor a DeleteBackupRequest).
	klog.FromContext(ctx).Info("Removing a Backup object whose files vanished from the bucket", "backup", klog.KObj(b))
	uid := b.UID
	err = c.client.Backups(b.Namespace).Delete(ctx, b.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) {
		return false, fmt.Errorf("deleting: %w", err)
	}
	return true, nil
}
