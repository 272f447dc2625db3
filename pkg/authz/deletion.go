package authz

import (
	"context"
	"errors"
	"fmt"
	"sync"

	authnv1client "k8s.io/client-go/kubernetes/typed/authentication/v1"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
)

// ErrRefused is matched (errors.Is) by the error of a request its requester
// may not make: a final answer, unlike the error of a review the API server
// did not answer (which is retried).
var ErrRefused = errors.New("refused")

// BackupDeleteAccess is what lets a user delete backup name of the server's
// namespace ns although they did not ask for it: delete on
// backups.ark.heptio.com there (a Role may narrow it with resourceNames).
func BackupDeleteAccess(ns, name string) Access {
	return Access{Verb: "delete", Group: arkv1.GroupName, Resource: "backups", Namespace: ns, Name: name}
}

// Deletions decides DeleteBackupRequests. In multi-tenant mode a request is
// carried out only if its requester
//   - is the backup's requester (the same user name; a schedule's backups
//     record the schedule's requester, so whoever made the schedule may delete
//     them), or
//   - may delete the backup (BackupDeleteAccess, one SubjectAccessReview as
//     the requester).
//
// A request without a requester is refused, as every ark object is; a Backup
// without one (created by kubectl or an older ark, or imported from the
// bucket by the sync) is deleted only by who passes the review. The server's
// own requests, for expired backups, record the server as their requester
// (RecordExpiry) and pass the review through the server's own RBAC (its Role
// deletes backups in its namespace).
//
// In single-tenant mode every request is carried out, and expiry requests
// record no requester: ark's behaviour before requesters.
type Deletions struct {
	tenancy *Tenancy
	whoAmI  authnv1client.SelfSubjectReviewsGetter

	mu     sync.Mutex
	server *Requester // who the server is, once known
}

// NewDeletions returns the rule of a server with tenancy t, which learns who
// it is (for RecordExpiry) through whoAmI (a SelfSubjectReview).
func NewDeletions(t *Tenancy, whoAmI authnv1client.SelfSubjectReviewsGetter) *Deletions {
	return &Deletions{tenancy: t, whoAmI: whoAmI}
}

// Authorize returns nil if the requester of req may delete backup, the
// Backup object req names (nil: there is none in the cluster). Else an error:
// matching ErrRefused (and ErrNoRequester for a request without requester)
// when they may not, saying who, which backup and what would allow it; any
// other when the review could not be made, and nothing is known to be allowed.
func (d *Deletions) Authorize(ctx context.Context, req *arkv1.DeleteBackupRequest, backup *arkv1.Backup) error {
	name := req.Spec.BackupName
	actor, err := d.tenancy.ActorFor(req)
	if err != nil {
		return fmt.Errorf("%w: not deleting backup %q: %w", ErrRefused, name, err)
	}
	if !actor.Checked() {
		return nil // single-tenant
	}
	who, _ := actor.Requester()
	owner, owned := Requester{}, false
	if backup != nil {
		owner, owned = RequesterOf(backup)
		if owned && owner.Username == who.Username {
			return nil
		}
	}
	access := BackupDeleteAccess(req.Namespace, name)
	allowed, err := actor.Allowed(ctx, access)
	if err != nil {
		return fmt.Errorf("checking whether %s may delete backup %q: %w", who.Username, name, err)
	}
	if allowed {
		return nil
	}
	var whose string
	switch {
	case backup == nil:
		whose = "it is not in the cluster, so no requester of it is known"
	case owned:
		whose = "its requester is " + owner.Username
	default:
		whose = "it records no requester (created by kubectl or an older ark, or imported from the bucket)"
	}
	return fmt.Errorf("%w: %s may not delete backup %q: %s, and %s may not %s. Only the backup's requester (for a schedule's backup, the schedule's) or a user allowed to delete backups.%s in namespace %s may delete it; the backup, its files and its snapshots were left untouched",
		ErrRefused, who.Username, name, whose, who.Username, access, arkv1.GroupName, req.Namespace)
}

// RecordExpiry records the server itself as the requester of req, a request
// it makes for an expired backup (the admission policy lets the server's
// ServiceAccount record itself). It learns who it is from one
// SelfSubjectReview, asked again only after an error. Nothing is recorded in
// single-tenant mode.
func (d *Deletions) RecordExpiry(ctx context.Context, req *arkv1.DeleteBackupRequest) error {
	if d.tenancy == nil || d.tenancy.SingleTenant() {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.server == nil {
		r, err := WhoAmI(ctx, d.whoAmI)
		if err != nil {
			return fmt.Errorf("recording the server as the requester of an expired backup's deletion: %w", err)
		}
		d.server = &r
	}
	SetRequester(req, *d.server)
	return nil
}
