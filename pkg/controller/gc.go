package controller

import (
	"context"
	"fmt"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/format"
	arkv1client "github.com/heptio/ark/pkg/generated/clientset/versioned/typed/ark/v1"
	arkinformers "github.com/heptio/ark/pkg/generated/informers/externalversions/ark/v1"
	arklisters "github.com/heptio/ark/pkg/generated/listers/ark/v1"
)

// GCClient is what the gc controller writes.
type GCClient interface {
	arkv1client.BackupsGetter
	arkv1client.DeleteBackupRequestsGetter
}

// GCController expires backups: when a backup's status.expiration has passed
// it creates a DeleteBackupRequest for it, so that expiry deletes through the
// same path, in the same safe order, as `ark backup delete`. With
// WithDeletionAuthorizer (multi-tenant mode) the request records the server
// itself as its requester: expiry is the server's own decision, made when the
// backup was asked for with its TTL, and is carried out whoever asked.
//
// It also removes format.LegacyGCFinalizer from any Backup that still carries it,
// without touching the bucket: deleting a Backup object by any other means
// than a request never deletes data, and the sync brings it back.
//
// In restore-only mode it only removes the legacy finalizer: nothing expires.
type GCController struct {
	backups     arklisters.BackupLister
	requests    arklisters.DeleteBackupRequestLister
	client      GCClient
	clock       clock.PassiveClock
	period      time.Duration
	restoreOnly bool
	options
}

// NewGCController returns the controller; period is the Config's gcSyncPeriod.
func NewGCController(backups arklisters.BackupLister, requests arklisters.DeleteBackupRequestLister, client GCClient, clk clock.PassiveClock, period time.Duration, restoreOnly bool, opts ...Option) *GCController {
	return &GCController{backups: backups, requests: requests, client: client, clock: clk, period: period, restoreOnly: restoreOnly, options: newOptions(opts)}
}

// Register makes r run the controller on every backup event, and on every
// backup each gc period.
func (c *GCController) Register(r *Runner, inf arkinformers.Interface) error {
	r.WaitFor(inf.DeleteBackupRequests().Informer().HasSynced)
	if err := r.Watch(inf.Backups().Informer(), nil, false); err != nil {
		return err
	}
	r.Every(c.period, func(ctx context.Context) time.Duration {
		c.resync(ctx, r.EnqueueKey)
		return 0
	})
	return nil
}

// Sync handles one backup.
func (c *GCController) Sync(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	b, err := c.backups.Backups(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	logger := klog.FromContext(ctx).WithValues("backup", klog.KObj(b))
	ctx = klog.NewContext(ctx, logger)

	if slices.Contains(b.Finalizers, format.LegacyGCFinalizer) {
		logger.Info("Removing the finalizer of an earlier ark version; no data is deleted", "finalizer", format.LegacyGCFinalizer)
		return 0, removeLegacyFinalizer(ctx, c.client, b)
	}
	if c.restoreOnly || b.DeletionTimestamp != nil {
		return 0, nil
	}
	exp := b.Status.Expiration
	if exp == nil || b.Status.Phase == arkv1.BackupPhaseDeleting {
		return 0, nil
	}
	now := c.clock.Now()
	if now.Before(exp.Time) {
		return exp.Sub(now) + time.Second, nil
	}
	pending, err := c.pendingRequest(ns, name)
	if err != nil || pending {
		return 0, err
	}
	logger.Info("Backup expired; requesting its deletion", "expiration", exp.UTC().Format(time.RFC3339))
	req := &arkv1.DeleteBackupRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: "expired-"},
		Spec:       arkv1.DeleteBackupRequestSpec{BackupName: name},
	}
	if len(validation.IsValidLabelValue(name)) == 0 {
		req.Labels = map[string]string{format.DeleteBackupRequestBackupLabel: name}
	}
	// The server's own request: the deletion controller knows it by its requester.
	if c.deletions != nil {
		if err := c.deletions.RecordExpiry(ctx, req); err != nil {
			return 0, err
		}
	}
	if _, err := c.client.DeleteBackupRequests(ns).Create(ctx, req, metav1.CreateOptions{}); err != nil {
		return 0, fmt.Errorf("requesting the deletion of an expired backup: %w", err)
	}
	c.event(b, false, "Expired", "The backup expired at %s: deleting it", exp.UTC().Format(time.RFC3339))
	return 0, nil
}

// pendingRequest says whether a DeleteBackupRequest for the backup is not yet Processed.
func (c *GCController) pendingRequest(ns, backup string) (bool, error) {
	all, err := c.requests.DeleteBackupRequests(ns).List(labels.Everything())
	if err != nil {
		return false, err
	}
	for _, r := range all {
		if r.Spec.BackupName == backup && r.Status.Phase != arkv1.DeleteBackupRequestPhaseProcessed {
			return true, nil
		}
	}
	return false, nil
}

// resync enqueues every backup: those that expired while no event came, or
// that still carry the legacy finalizer.
func (c *GCController) resync(ctx context.Context, enqueue func(key string)) {
	all, err := c.backups.List(labels.Everything())
	if err != nil {
		klog.FromContext(ctx).Error(err, "Listing backups")
		return
	}
	for _, b := range all {
		key, err := cache.MetaNamespaceKeyFunc(b)
		if err == nil {
			enqueue(key)
		}
	}
}

// removeLegacyFinalizer removes format.LegacyGCFinalizer from the newest version of b.
func removeLegacyFinalizer(ctx context.Context, client arkv1client.BackupsGetter, b *arkv1.Backup) error {
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
		cur.Finalizers = slices.DeleteFunc(cur.Finalizers, func(f string) bool { return f == format.LegacyGCFinalizer })
		_, err := backups.Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("removing finalizer %s: %w", format.LegacyGCFinalizer, err)
	}
	return nil
}
