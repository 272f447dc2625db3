package controller

import (
	"context"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/format"
	arkv1client "github.com/heptio/ark/pkg/generated/clientset/versioned/typed/ark/v1"
	arkinformers "github.com/heptio/ark/pkg/generated/informers/externalversions/ark/v1"
	arklisters "github.com/heptio/ark/pkg/generated/listers/ark/v1"
	"github.com/heptio/ark/pkg/label"
	"github.com/heptio/ark/pkg/persistence"
	"github.com/heptio/ark/pkg/verify"
)

// BackupVerifier is what the verification controller needs of a
// verify.Verifier.
type BackupVerifier interface {
	Verify(ctx context.Context, name string) (verify.Result, error)
}

// VerificationClient is what the verification controller writes.
type VerificationClient interface {
	arkv1client.BackupsGetter
	arkv1client.BackupVerificationRequestsGetter
}

// verifyBackupKeyPrefix marks the queue keys of Backups to verify after
// they finish (format.VerifyAfterBackupAnnotation), beside the requests' keys.
const verifyBackupKeyPrefix = "backup:"

// VerificationController answers BackupVerificationRequests (`ark backup
// verify`): it verifies the backup (verify.Verifier) and records the result
// in the request's status and in the Backup's (lastVerified,
// verification). It also creates a request for each finished backup that
// asks for one (a Schedule with verify: true annotates its backups).
type VerificationController struct {
	requests arklisters.BackupVerificationRequestLister
	backups  arklisters.BackupLister
	client   VerificationClient
	verifier BackupVerifier
	clock    clock.PassiveClock
	options
}

// NewVerificationController returns the controller; Register it with a Runner.
func NewVerificationController(requests arklisters.BackupVerificationRequestLister, backups arklisters.BackupLister, client VerificationClient,
	verifier BackupVerifier, clk clock.PassiveClock, opts ...Option) *VerificationController {
	return &VerificationController{requests: requests, backups: backups, client: client, verifier: verifier, clock: clk, options: newOptions(opts)}
}

// Register makes r run the controller on every request not yet Processed,
// and on the finished backups that ask to be verified.
func (c *VerificationController) Register(r *Runner, inf arkinformers.Interface) error {
	backups := inf.Backups().Informer()
	r.WaitFor(backups.HasSynced)
	if err := r.Watch(inf.BackupVerificationRequests().Informer(), func(obj any) bool {
		req, ok := obj.(*arkv1.BackupVerificationRequest)
		return ok && req.Status.Phase != arkv1.BackupVerificationRequestPhaseProcessed
	}, false); err != nil {
		return err
	}
	enqueue := func(obj any) {
		if b, ok := obj.(*arkv1.Backup); ok && wantsVerification(b) {
			r.EnqueueKey(verifyBackupKeyPrefix + b.Namespace + "/" + b.Name)
		}
	}
	_, err := backups.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
	})
	return err
}

// wantsVerification says whether a backup asks to be verified once
// finished and has not been.
func wantsVerification(b *arkv1.Backup) bool {
	if b.Annotations[format.VerifyAfterBackupAnnotation] != "true" || b.Status.Verification != nil {
		return false
	}
	return b.Status.Phase == arkv1.BackupPhaseCompleted || b.Status.Phase == arkv1.BackupPhasePartiallyFailed
}

// AutoVerificationRequestName is the name of the request the controller
// creates for a backup that asks to be verified.
func AutoVerificationRequestName(backup string) string {
	const suffix = "-verify"
	if max := 253 - len(suffix); len(backup) > max {
		backup = backup[:max]
	}
	return backup + suffix
}

// Sync carries out one request, or creates the request of a backup key.
func (c *VerificationController) Sync(ctx context.Context, key string) (time.Duration, error) {
	if k, ok := strings.CutPrefix(key, verifyBackupKeyPrefix); ok {
		return 0, c.requestFor(ctx, k)
	}
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	if _, err := c.requests.BackupVerificationRequests(ns).Get(name); apierrors.IsNotFound(err) {
		return 0, nil
	}
	// The newest version, never a cached one that predates its last pass:
	// a verification reads the whole tarball, and is done once.
	req, err := c.client.BackupVerificationRequests(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if req.Status.Phase == arkv1.BackupVerificationRequestPhaseProcessed {
		return 0, nil
	}
	logger := klog.FromContext(ctx).WithValues("backupVerificationRequest", klog.KObj(req), "backup", req.Spec.BackupName)
	ctx = klog.NewContext(ctx, logger)

	finish := func(v *arkv1.BackupVerification) error {
		_, err := updateStatus(ctx, c.client.BackupVerificationRequests(ns), name, func(r *arkv1.BackupVerificationRequest) error {
			r.Status.Phase = arkv1.BackupVerificationRequestPhaseProcessed
			r.Status.Verification = v
			return nil
		})
		return err
	}
	now := metav1.NewTime(c.clock.Now())
	if err := persistence.ValidateName("backup", req.Spec.BackupName); err != nil {
		return 0, finish(&arkv1.BackupVerification{Phase: arkv1.BackupVerificationFailed, Problems: []string{err.Error()}, Request: name, Time: &now})
	}
	if req.Status.Phase != arkv1.BackupVerificationRequestPhaseInProgress {
		req.Status.Phase = arkv1.BackupVerificationRequestPhaseInProgress
		if _, err := c.client.BackupVerificationRequests(ns).UpdateStatus(ctx, req, metav1.UpdateOptions{}); err != nil {
			return 0, ignoreConflict(err)
		}
	}
	logger.Info("Verifying backup")
	res, err := c.verifier.Verify(ctx, req.Spec.BackupName)
	if err != nil {
		// The bucket does not answer: retried with backoff, InProgress.
		return 0, err
	}
	now = metav1.NewTime(c.clock.Now())
	v := &arkv1.BackupVerification{
		Phase: arkv1.BackupVerificationPassed, Problems: append(res.Problems, res.Notes...),
		Items: res.Items, Snapshots: res.Snapshots, Request: name, Time: &now,
	}
	if !res.Passed() {
		v.Phase = arkv1.BackupVerificationFailed
	}
	logger.Info("Backup verified", "result", v.Phase, "items", v.Items, "snapshots", v.Snapshots, "problems", v.Problems)
	c.metrics.BackupVerified(res.Passed())

	backup, err := updateStatus(ctx, c.client.Backups(ns), req.Spec.BackupName, func(b *arkv1.Backup) error {
		b.Status.LastVerified = &now
		b.Status.Verification = v
		return nil
	})
	switch {
	case apierrors.IsNotFound(err):
		// A backup only in the bucket (not synced yet): the request holds the result.
	case err != nil:
		return 0, err
	default:
		if res.Passed() {
			c.event(backup, false, "Verified", "Backup verified: %d items decode, %d snapshots exist, the tarball matches its checksum", v.Items, v.Snapshots)
		} else {
			c.event(backup, true, "VerificationFailed", "Backup verification failed: %s", strings.Join(res.Problems, "; "))
		}
	}
	return 0, finish(v)
}

// requestFor creates the verification request of a finished backup that asks for one.
func (c *VerificationController) requestFor(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	b, err := c.backups.Backups(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil || !wantsVerification(b) {
		return err
	}
	req := &arkv1.BackupVerificationRequest{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: AutoVerificationRequestName(name),
			// The same label as a DeleteBackupRequest's: the backup's name.
			Labels: map[string]string{format.DeleteBackupRequestBackupLabel: label.ValidValue(name)},
		},
		Spec: arkv1.BackupVerificationRequestSpec{BackupName: name},
	}
	_, err = c.client.BackupVerificationRequests(ns).Create(ctx, req, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}
