package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	arkv1client "github.com/heptio/ark/pkg/generated/clientset/versioned/typed/ark/v1"
	arkinformers "github.com/heptio/ark/pkg/generated/informers/externalversions/ark/v1"
	arklisters "github.com/heptio/ark/pkg/generated/listers/ark/v1"
	"github.com/heptio/ark/pkg/persistence"
)

// DownloadURLSigner makes short-lived URLs of a backup's files (persistence.BackupStore).
type DownloadURLSigner interface {
	// GetDownloadURLFor signs the stored file, or, when recipient is set and the file is
	// encrypted, a temporary copy encrypted for recipient, named id.
	GetDownloadURLFor(ctx context.Context, target persistence.DownloadTarget, ttl time.Duration, recipient, id string) (string, error)
	// DeleteDownload deletes the temporary copy id, if any.
	DeleteDownload(ctx context.Context, id string) error
	// ListDownloads lists the temporary copies.
	ListDownloads(ctx context.Context) ([]string, error)
}

// DownloadAuthorizer decides whether the requester of a download request may
// have a file of backup (authz.Downloads): nil, or an error saying why not.
type DownloadAuthorizer interface {
	Authorize(ctx context.Context, req *arkv1.DownloadRequest, backup string) error
}

// DownloadURLTTL is how long a download URL, and its request, live.
const DownloadURLTTL = 10 * time.Minute

// DownloadRequestController answers DownloadRequests with signed URLs and
// deletes them once expired.
type DownloadRequestController struct {
	requests arklisters.DownloadRequestLister
	restores arklisters.RestoreLister
	client   arkv1client.DownloadRequestsGetter
	signer   DownloadURLSigner
	clock    clock.PassiveClock
	// authorizer, if set, must grant a request before a URL is signed.
	authorizer DownloadAuthorizer
	options
}

// NewDownloadRequestController returns the controller; Register it with a Runner.
// A nil authorizer grants every request (single-tenant mode).
func NewDownloadRequestController(requests arklisters.DownloadRequestLister, restores arklisters.RestoreLister, client arkv1client.DownloadRequestsGetter, signer DownloadURLSigner, authorizer DownloadAuthorizer, clk clock.PassiveClock, opts ...Option) *DownloadRequestController {
	return &DownloadRequestController{requests: requests, restores: restores, client: client, signer: signer, authorizer: authorizer, clock: clk, options: newOptions(opts)}
}

// Register makes r run the controller on every download request (the
// restores' cache is read to find a restore's backup).
func (c *DownloadRequestController) Register(r *Runner, inf arkinformers.Interface) error {
	r.WaitFor(inf.Restores().Informer().HasSynced)
	return r.Watch(inf.DownloadRequests().Informer(), nil, true)
}

// Sync answers a new request, or deletes an expired one.
func (c *DownloadRequestController) Sync(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	cached, err := c.requests.DownloadRequests(ns).Get(name)
	if apierrors.IsNotFound(err) {
		// A request is gone (the client deleted it, or it expired): its temporary
		// copy, and any a stopped server left behind, go too.
		return 0, c.sweepDownloads(ctx)
	}
	if err != nil {
		return 0, err
	}
	now := c.clock.Now()
	if exp := cached.Status.Expiration; exp != nil {
		if left := exp.Sub(now); left > 0 {
			return left, nil
		}
		err := c.client.DownloadRequests(ns).Delete(ctx, name, metav1.DeleteOptions{})
		if apierrors.IsNotFound(err) {
			err = nil
		}
		return 0, err
	}
	if cached.Status.Phase != "" && cached.Status.Phase != arkv1.DownloadRequestPhaseNew {
		return 0, nil
	}

	req := cached.DeepCopy()
	expiration := metav1.NewTime(now.Add(DownloadURLTTL))
	req.Status.Expiration = &expiration
	url, err := c.sign(ctx, req)
	if err != nil {
		klog.FromContext(ctx).Info("Cannot answer download request", "request", klog.KObj(req), "err", err)
		req.Status.Phase = arkv1.DownloadRequestPhaseFailed
		req.Status.FailureReason = err.Error()
	} else {
		req.Status.Phase = arkv1.DownloadRequestPhaseProcessed
		req.Status.DownloadURL = url
	}
	if _, err := c.client.DownloadRequests(ns).UpdateStatus(ctx, req, metav1.UpdateOptions{}); err != nil {
		return 0, ignoreConflict(err)
	}
	return DownloadURLTTL, nil
}

func (c *DownloadRequestController) sign(ctx context.Context, req *arkv1.DownloadRequest) (string, error) {
	t := req.Spec.Target
	target := persistence.DownloadTarget{Kind: persistence.DownloadKind(t.Kind), Name: t.Name}
	backup := t.Name
	switch t.Kind {
	case arkv1.DownloadTargetKindRestoreLog, arkv1.DownloadTargetKindRestoreResults:
		restore, err := c.restores.Restores(req.Namespace).Get(t.Name)
		if err != nil {
			return "", fmt.Errorf("restore %q: %w", t.Name, err)
		}
		target.BackupName = restore.Spec.BackupName
		backup = restore.Spec.BackupName
	}
	// Every file of a backup, and of its restores, names or holds its
	// objects: the requester must be allowed to read them all.
	if c.authorizer != nil {
		if err := c.authorizer.Authorize(ctx, req, backup); err != nil {
			return "", err
		}
	}
	return c.signer.GetDownloadURLFor(ctx, target, DownloadURLTTL, req.Spec.Recipient, string(req.UID))
}

// sweepDownloads deletes the temporary download copies of requests that no longer exist.
// A copy is made by this controller's Sync of its request, read from the same cache, so a
// copy being made always has its request in the cache.
func (c *DownloadRequestController) sweepDownloads(ctx context.Context) error {
	ids, err := c.signer.ListDownloads(ctx)
	if err != nil || len(ids) == 0 {
		return err
	}
	reqs, err := c.requests.List(labels.Everything())
	if err != nil {
		return err
	}
	live := map[string]bool{}
	for _, r := range reqs {
		live[string(r.UID)] = true
	}
	var errs []error
	for _, id := range ids {
		if !live[id] {
			errs = append(errs, c.signer.DeleteDownload(ctx, id))
		}
	}
	return errors.Join(errs...)
}
