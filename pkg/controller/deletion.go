package controller

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/authz"
	"github.com/heptio/ark/pkg/cloudprovider"
	"github.com/heptio/ark/pkg/format"
	arkv1client "github.com/heptio/ark/pkg/generated/clientset/versioned/typed/ark/v1"
	arkinformers "github.com/heptio/ark/pkg/generated/informers/externalversions/ark/v1"
	arklisters "github.com/heptio/ark/pkg/generated/listers/ark/v1"
	"github.com/heptio/ark/pkg/persistence"
)

// deletionWaitInterval is how often a deletion waiting for a running backup or
// restore looks again.
const deletionWaitInterval = 30 * time.Second

// SnapshotDeleter deletes volume snapshots through the persistentVolumeProvider.
type SnapshotDeleter interface {
	// SnapshotBackupTag returns the value of the snapshot's backup tag
	// (format.BackupTag) as the cloud has it, "" if it has none. A
	// snapshot that does not exist gives an error matching
	// cloudprovider.ErrSnapshotNotFound.
	SnapshotBackupTag(ctx context.Context, snapshotID string) (string, error)
	// DeleteSnapshot deletes the snapshot; one that no longer exists is not an error.
	DeleteSnapshot(ctx context.Context, snapshotID string) error
}

// DeletionStore is what the deletion controller needs of the bucket
// (persistence.BackupStore).
type DeletionStore interface {
	GetBackup(ctx context.Context, name string) (*arkv1.Backup, error)
	GetDeletionMarker(ctx context.Context, name string) (*arkv1.Backup, error)
	MarkDeleting(ctx context.Context, backup *arkv1.Backup) error
	DeleteBackupFiles(ctx context.Context, name string) error
}

// DeletionClient is what the deletion controller writes.
type DeletionClient interface {
	arkv1client.BackupsGetter
	arkv1client.RestoresGetter
	arkv1client.DeleteBackupRequestsGetter
}

// DeletionAuthorizer decides whose DeleteBackupRequests are carried out
// (authz.Deletions).
type DeletionAuthorizer interface {
	// Authorize returns nil if the requester of req may delete backup, the
	// Backup object it names (nil: none in the cluster); an error matching
	// authz.ErrRefused if not (final); any other error if it could not tell
	// (retried, nothing deleted meanwhile).
	Authorize(ctx context.Context, req *arkv1.DeleteBackupRequest, backup *arkv1.Backup) error
	// RecordExpiry records on req, made by the server for an expired backup,
	// the server as its requester.
	RecordExpiry(ctx context.Context, req *arkv1.DeleteBackupRequest) error
}

// DeletionController carries out DeleteBackupRequests (created by `ark backup
// delete` and by the gc controller when a backup expires): the only way the
// server deletes anything from the bucket or a volume snapshot.
//
// A request is first authorized, once, while it is New (WithDeletionAuthorizer;
// only the server moves it on, through the status subresource): a refused one
// ends Processed with the reason in status.errors and nothing touched.
//
// Steps, each idempotent and retried with backoff (the request stays
// InProgress with the error in status.errors meanwhile):
//  1. wait while the backup, or a restore of it, is InProgress;
//  2. find the bucket's backup of that name (ark-backup.json, or the deletion
//     marker of a deletion interrupted earlier) and decide whether it is this
//     Backup object's: same UID (or, for an object imported by the sync, the UID
//     the import recorded) and same cluster. Files of another backup of the
//     same name are left alone, and only the object is deleted;
//  3. replace ark-backup.json by the deletion marker: from here on the backup
//     is not whole, so an interruption never leaves one the sync imports;
//  4. delete its volume snapshots, but only those the cloud says carry this
//     backup's tag: a snapshot ID read from the bucket is not trusted;
//     others are left alone and reported;
//  5. delete its restores' files, its other files, then the marker;
//  6. delete its Restore objects, then the Backup object.
//
// The request ends Processed; status.errors lists what was left alone.
type DeletionController struct {
	requests arklisters.DeleteBackupRequestLister
	backups  arklisters.BackupLister
	restores arklisters.RestoreLister
	client   DeletionClient
	store    DeletionStore
	snaps    SnapshotDeleter
	period   time.Duration
	options
}

// NewDeletionController returns the controller; snaps may be nil (no
// persistentVolumeProvider). period is how often unfinished requests are
// looked at again (the Config's gcSyncPeriod).
func NewDeletionController(requests arklisters.DeleteBackupRequestLister, backups arklisters.BackupLister, restores arklisters.RestoreLister,
	client DeletionClient, store DeletionStore, snaps SnapshotDeleter, period time.Duration, opts ...Option) *DeletionController {
	return &DeletionController{requests: requests, backups: backups, restores: restores, client: client, store: store, snaps: snaps, period: period, options: newOptions(opts)}
}

// Register makes r run the controller on every request not yet Processed, and
// on every such request each period.
func (c *DeletionController) Register(r *Runner, inf arkinformers.Interface) error {
	r.WaitFor(inf.Backups().Informer().HasSynced, inf.Restores().Informer().HasSynced)
	if err := r.Watch(inf.DeleteBackupRequests().Informer(), func(obj any) bool {
		req, ok := obj.(*arkv1.DeleteBackupRequest)
		return ok && req.Status.Phase != arkv1.DeleteBackupRequestPhaseProcessed
	}, false); err != nil {
		return err
	}
	r.Every(c.period, func(context.Context) time.Duration {
		if all, err := c.requests.List(labels.Everything()); err == nil {
			for _, req := range all {
				if req.Status.Phase != arkv1.DeleteBackupRequestPhaseProcessed {
					r.Enqueue(req)
				}
			}
		}
		return 0
	})
	return nil
}

// Sync carries out one request.
func (c *DeletionController) Sync(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	if _, err := c.requests.DeleteBackupRequests(ns).Get(name); apierrors.IsNotFound(err) {
		return 0, nil
	}
	// The newest version, never a cached one that may predate its last pass.
	req, err := c.client.DeleteBackupRequests(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if req.Status.Phase == arkv1.DeleteBackupRequestPhaseProcessed {
		return 0, nil
	}
	logger := klog.FromContext(ctx).WithValues("deleteBackupRequest", klog.KObj(req), "backup", req.Spec.BackupName)
	ctx = klog.NewContext(ctx, logger)

	if err := persistence.ValidateName("backup", req.Spec.BackupName); err != nil {
		return 0, c.finish(ctx, req, []string{err.Error()})
	}
	if req.Status.Phase == "" || req.Status.Phase == arkv1.DeleteBackupRequestPhaseNew {
		if err := c.authorize(ctx, req); errors.Is(err, authz.ErrRefused) {
			logger.Info("Deletion refused", "reason", err.Error())
			c.event(req, true, "Refused", "Not deleting backup %s: %v", req.Spec.BackupName, err)
			return 0, c.finish(ctx, req, []string{err.Error()})
		} else if err != nil {
			logger.Error(err, "Cannot tell whether the requester may delete the backup; retrying")
			if uerr := c.setStatus(ctx, req, arkv1.DeleteBackupRequestPhaseNew, []string{"waiting: " + err.Error()}); uerr != nil {
				logger.Error(uerr, "Recording the failed check")
			}
			return 0, err
		}
	}
	wait, notes, err := c.delete(ctx, req)
	switch {
	case err != nil:
		logger.Error(err, "Deleting the backup failed; retrying")
		c.metrics.GCDeletion(err)
		c.event(req, true, "DeletionFailed", "Deleting backup %s failed, retrying: %v", req.Spec.BackupName, err)
		if uerr := c.setStatus(ctx, req, arkv1.DeleteBackupRequestPhaseInProgress, append(notes, "retrying: "+err.Error())); uerr != nil {
			logger.Error(uerr, "Recording the failed step")
		}
		return 0, err
	case wait != "":
		logger.Info("Deletion waits", "for", wait)
		if err := c.setStatus(ctx, req, arkv1.DeleteBackupRequestPhaseInProgress, []string{"waiting: " + wait}); err != nil {
			return 0, err
		}
		return deletionWaitInterval, nil
	}
	c.metrics.GCDeletion(nil)
	logger.Info("Backup deleted", "notes", notes)
	c.event(req, len(notes) > 0, "Processed", "Backup %s deleted; %d thing(s) left alone", req.Spec.BackupName, len(notes))
	return 0, c.finish(ctx, req, notes)
}

// authorize asks the DeletionAuthorizer, if any, about req and the Backup
// object it names.
func (c *DeletionController) authorize(ctx context.Context, req *arkv1.DeleteBackupRequest) error {
	if c.deletions == nil {
		return nil
	}
	b, err := c.backups.Backups(req.Namespace).Get(req.Spec.BackupName)
	if apierrors.IsNotFound(err) {
		b, err = nil, nil
	}
	if err != nil {
		return err
	}
	return c.deletions.Authorize(ctx, req, b)
}

// delete runs the steps. It returns what it waits for, if anything; the
// notes of what it left alone; and the error of a step that failed.
func (c *DeletionController) delete(ctx context.Context, req *arkv1.DeleteBackupRequest) (wait string, notes []string, err error) {
	name, ns := req.Spec.BackupName, req.Namespace
	b, err := c.backups.Backups(ns).Get(name)
	if apierrors.IsNotFound(err) {
		b, err = nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	pinnedObject, pinned := req.Annotations[format.TargetObjectAnnotation]
	pinnedBucket := req.Annotations[format.TargetBucketAnnotation]
	if pinned && b != nil && string(b.UID) != pinnedObject {
		b = nil // another object of that name, made since: not this request's
	}
	if b != nil && b.Annotations[format.SyncedFromBucketAnnotation] == "" && b.DeletionTimestamp == nil &&
		(b.Status.Phase == "" || b.Status.Phase == arkv1.BackupPhaseNew || b.Status.Phase == arkv1.BackupPhaseInProgress) {
		return "the backup is in progress; it is deleted once it ends", nil, nil
	}
	restores, err := c.restoresOf(ns, name)
	if err != nil {
		return "", nil, err
	}
	for _, r := range restores {
		if r.Status.Phase == arkv1.RestorePhaseInProgress {
			return fmt.Sprintf("restore %s of the backup is in progress", r.Name), nil, nil
		}
	}

	// The bucket's backup of this name, whole or half deleted.
	m, err := c.store.GetBackup(ctx, name)
	marked := false
	if errors.Is(err, persistence.ErrBackupNotFound) {
		m, err = c.store.GetDeletionMarker(ctx, name)
		marked = err == nil
	}
	if errors.Is(err, persistence.ErrBackupNotFound) {
		m, err = nil, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("reading the backup's metadata in the bucket: %w", err)
	}

	if !pinned {
		// First pass: decide what this request deletes, and record it.
		switch {
		case m == nil && b == nil:
			return "", []string{fmt.Sprintf("backup %q was found neither in the cluster nor in the bucket", name)}, nil
		case m == nil:
			// Never uploaded (FailedValidation, a lost claim) or its files are gone.
			pinnedBucket = "none"
		case b != nil && !owns(b, m):
			pinnedBucket = "other:" + string(m.UID)
		case !marked && m.Status.Phase == arkv1.BackupPhaseInProgress && b == nil:
			return "", []string{fmt.Sprintf("backup %q is in progress in the bucket (cluster %q) and is not this cluster's: nothing was deleted; ask again once it has finished", name, m.Status.ClusterID)}, nil
		default:
			pinnedBucket = "uid:" + string(m.UID)
		}
		pinnedObject = "none"
		if b != nil {
			pinnedObject = string(b.UID)
		}
		if err := c.pin(ctx, req, pinnedObject, pinnedBucket); err != nil {
			return "", nil, err
		}
	}

	switch {
	case strings.HasPrefix(pinnedBucket, "other:"):
		notes = append(notes, fmt.Sprintf("the bucket's backup %q belongs to another Backup (UID %s): its files, snapshots and restores were left alone", name, strings.TrimPrefix(pinnedBucket, "other:")))
		m, restores = nil, nil
	case m != nil && "uid:"+string(m.UID) != pinnedBucket:
		notes = append(notes, fmt.Sprintf("the bucket's backup %q is another one (UID %s) than the one this request was for: it was left alone", name, m.UID))
		m = nil
	}

	if m != nil {
		if b != nil && b.Status.Phase != arkv1.BackupPhaseDeleting {
			if _, err := updateStatus(ctx, c.client.Backups(ns), name, func(cur *arkv1.Backup) error {
				if cur.UID != b.UID {
					return apierrors.NewNotFound(arkv1.Resource("backups"), name)
				}
				cur.Status.Phase = arkv1.BackupPhaseDeleting
				return nil
			}); err != nil && !apierrors.IsNotFound(err) {
				return "", nil, fmt.Errorf("setting the backup's phase to Deleting: %w", err)
			}
		}
		if !marked {
			err := c.store.MarkDeleting(ctx, m)
			if errors.Is(err, persistence.ErrReadOnly) {
				notes = append(notes, "the bucket is a Velero bucket, never written to: the backup's files and snapshots were left alone (delete them with Velero)")
				m, restores = nil, nil
			} else if err != nil {
				return "", nil, err
			}
		}
	}
	if m != nil {
		snapNotes, err := c.deleteSnapshots(ctx, name, m, b)
		notes = append(notes, snapNotes...)
		if err != nil {
			return "", notes, err
		}
		if err := c.store.DeleteBackupFiles(ctx, name); err != nil {
			return "", notes, fmt.Errorf("deleting the backup's files from the bucket: %w", err)
		}
	}
	for _, r := range restores {
		uid := r.UID
		err := c.client.Restores(r.Namespace).Delete(ctx, r.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return "", notes, fmt.Errorf("deleting restore %s: %w", r.Name, err)
		}
	}
	if b != nil {
		uid := b.UID
		err := c.client.Backups(ns).Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return "", notes, fmt.Errorf("deleting the Backup object: %w", err)
		}
	}
	return "", notes, nil
}

// owns says whether the bucket's metadata m is that of Backup object b: the
// same UID (an object imported by the sync carries the UID it was imported
// from), and the same cluster when both say which. An object imported by an
// earlier version, which recorded no UID, is taken for the bucket's backup of
// its name.
func owns(b, m *arkv1.Backup) bool {
	uid, imported := b.Annotations[format.BucketUIDAnnotation]
	if !imported {
		if b.Annotations[format.SyncedFromBucketAnnotation] != "" {
			return true
		}
		uid = string(b.UID)
		if uid == "" {
			return false
		}
	}
	if uid != string(m.UID) {
		return false
	}
	if b.Annotations[format.SyncedFromBucketAnnotation] == "" && b.Status.ClusterID != "" && m.Status.ClusterID != "" {
		return b.Status.ClusterID == m.Status.ClusterID
	}
	return true
}

// deleteSnapshots deletes the snapshots recorded in the bucket's metadata (and
// in the object, when it is the one that took them) that the cloud says carry
// this backup's tag. It returns notes on those it left alone.
func (c *DeletionController) deleteSnapshots(ctx context.Context, name string, m, b *arkv1.Backup) ([]string, error) {
	ids := map[string]string{} // snapshot ID -> PV
	for _, src := range []*arkv1.Backup{m, b} {
		if src == nil || (src == b && b.Annotations[format.SyncedFromBucketAnnotation] != "") {
			continue
		}
		for pv, v := range src.Status.VolumeBackups {
			if v != nil && v.SnapshotID != "" {
				ids[v.SnapshotID] = pv
			}
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	sorted := make([]string, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Strings(sorted)
	var notes []string
	if c.snaps == nil {
		for _, id := range sorted {
			notes = append(notes, fmt.Sprintf("snapshot %s of PV %s left alone: no persistentVolumeProvider is configured; delete it by hand", id, ids[id]))
		}
		return notes, nil
	}
	logger := klog.FromContext(ctx)
	var errs []error
	for _, id := range sorted {
		tag, err := c.snaps.SnapshotBackupTag(ctx, id)
		switch {
		case errors.Is(err, cloudprovider.ErrSnapshotNotFound):
			continue // deleted already
		case errors.Is(err, cloudprovider.ErrTagsUnsupported):
			notes = append(notes, fmt.Sprintf("snapshot %s of PV %s left alone: %v; delete it by hand if it is this backup's", id, ids[id], err))
			continue
		case err != nil:
			errs = append(errs, fmt.Errorf("snapshot %s: reading its tags: %w", id, err))
			continue
		case tag != name:
			notes = append(notes, fmt.Sprintf("snapshot %s of PV %s left alone: the cloud says its backup tag is %q, not %q", id, ids[id], tag, name))
			continue
		}
		if err := c.snaps.DeleteSnapshot(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("snapshot %s: %w", id, err))
			continue
		}
		logger.Info("Deleted volume snapshot", "snapshotID", id, "pv", ids[id])
	}
	if len(errs) > 0 {
		return notes, fmt.Errorf("deleting volume snapshots: %w", errors.Join(errs...))
	}
	return notes, nil
}

func (c *DeletionController) restoresOf(ns, backup string) ([]*arkv1.Restore, error) {
	all, err := c.restores.Restores(ns).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var ret []*arkv1.Restore
	for _, r := range all {
		if r.Spec.BackupName == backup {
			ret = append(ret, r)
		}
	}
	sort.Slice(ret, func(i, j int) bool { return ret[i].Name < ret[j].Name })
	return ret, nil
}

// pin records on the request what it deletes (see format.TargetObjectAnnotation), and
// sets it InProgress.
func (c *DeletionController) pin(ctx context.Context, req *arkv1.DeleteBackupRequest, object, bucket string) error {
	cur := req.DeepCopy()
	if cur.Annotations == nil {
		cur.Annotations = map[string]string{}
	}
	cur.Annotations[format.TargetObjectAnnotation] = object
	cur.Annotations[format.TargetBucketAnnotation] = bucket
	updated, err := c.client.DeleteBackupRequests(req.Namespace).Update(ctx, cur, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("recording the request's target: %w", err)
	}
	*req = *updated
	return c.setStatus(ctx, req, arkv1.DeleteBackupRequestPhaseInProgress, nil)
}

func (c *DeletionController) finish(ctx context.Context, req *arkv1.DeleteBackupRequest, notes []string) error {
	return c.setStatus(ctx, req, arkv1.DeleteBackupRequestPhaseProcessed, notes)
}

func (c *DeletionController) setStatus(ctx context.Context, req *arkv1.DeleteBackupRequest, phase arkv1.DeleteBackupRequestPhase, errs []string) error {
	updated, err := updateStatus(ctx, c.client.DeleteBackupRequests(req.Namespace), req.Name, func(cur *arkv1.DeleteBackupRequest) error {
		cur.Status.Phase = phase
		cur.Status.Errors = errs
		return nil
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err == nil {
		*req = *updated
	}
	return err
}
