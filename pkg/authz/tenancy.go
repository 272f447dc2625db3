package authz

import (
	"context"
	"errors"
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	authzv1client "k8s.io/client-go/kubernetes/typed/authorization/v1"
	"k8s.io/client-go/rest"

	"github.com/heptio/ark/pkg/format"
)

// ErrNoRequester is matched (errors.Is) by the error of an object that
// records no requester, in multi-tenant mode.
var ErrNoRequester = errors.New("no requester recorded")

// Tenancy is whom the ark server acts as for what it does in the cluster on
// someone's behalf (a backup's lists and hooks, a restore's writes, a
// download's grant).
//
// In multi-tenant mode (the default) it acts as the object's requester: its
// clients impersonate them (user name and groups), and what it is about to do
// is checked first with SubjectAccessReviews as them. An object without a
// recorded requester is refused. Discovery, the bucket and the volume
// snapshots stay the server's own.
//
// In single-tenant mode (`ark server --single-tenant`) it acts as itself,
// with its ServiceAccount's rights, for everyone, and checks nothing: what
// ark did before requesters existed.
type Tenancy struct {
	base         *rest.Config
	reviewer     *Reviewer
	singleTenant bool
}

// NewTenancy returns the tenancy of a server whose own client config is base
// and which sends its SubjectAccessReviews through sar.
func NewTenancy(base *rest.Config, sar authzv1client.SubjectAccessReviewsGetter, singleTenant bool) *Tenancy {
	return &Tenancy{base: base, reviewer: NewReviewer(sar), singleTenant: singleTenant}
}

// SingleTenant says whether the server acts as itself for everyone.
func (t *Tenancy) SingleTenant() bool { return t.singleTenant }

// ActorFor returns whom the server acts as for obj (a Backup, Restore or
// DownloadRequest). In multi-tenant mode an object without a recorded
// requester gets an error (ErrNoRequester) that says how to make one.
func (t *Tenancy) ActorFor(obj metav1.Object) (*Actor, error) {
	if t == nil || t.singleTenant {
		return &Actor{config: t.baseConfig()}, nil
	}
	r, ok := RequesterOf(obj)
	if !ok {
		return nil, fmt.Errorf("%w: the object has no annotation %s, so the server cannot act as whoever asked for it. Create it with the ark CLI, which records you as its requester, or record yourself in the annotations %s and %s (the admission policy checks them); the server acts for objects without a requester only with --single-tenant",
			ErrNoRequester, format.RequesterAnnotation, format.RequesterAnnotation, format.RequesterGroupsAnnotation)
	}
	return &Actor{requester: &r, config: ImpersonatingConfig(t.baseConfig(), r), reviewer: t.reviewer}, nil
}

func (t *Tenancy) baseConfig() *rest.Config {
	if t == nil || t.base == nil {
		return &rest.Config{}
	}
	return t.base
}

// ImpersonatingConfig returns a copy of cfg whose clients impersonate r
// (Impersonate-User and Impersonate-Group headers). The API server then
// authorizes every request as r, and the identity cfg authenticates as needs
// impersonate on users, groups and serviceaccounts.
func ImpersonatingConfig(cfg *rest.Config, r Requester) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.Impersonate = rest.ImpersonationConfig{UserName: r.Username, Groups: slices.Clone(r.Groups)}
	return c
}

// Actor is whom the server acts as for one object: its requester
// (impersonated and checked), or the server itself (single-tenant mode).
type Actor struct {
	requester *Requester // nil: the server itself
	config    *rest.Config
	reviewer  *Reviewer
}

// NewActor returns an actor for r whose clients are built from config (which
// should impersonate r) and whose accesses are checked by reviewer; for tests
// and callers that build their own clients. A nil r acts as the server,
// unchecked.
func NewActor(r *Requester, config *rest.Config, reviewer *Reviewer) *Actor {
	return &Actor{requester: r, config: config, reviewer: reviewer}
}

// Config is the client config to act through: impersonating the requester,
// or the server's own.
func (a *Actor) Config() *rest.Config { return a.config }

// Requester returns the requester acted as, and false when the server acts as
// itself.
func (a *Actor) Requester() (Requester, bool) {
	if a == nil || a.requester == nil {
		return Requester{}, false
	}
	return *a.requester, true
}

// Checked says whether the actor's accesses are checked (a requester, not
// the server itself).
func (a *Actor) Checked() bool { return a != nil && a.requester != nil && a.reviewer != nil }

// String names the actor in messages: the requester's user name, or "the ark
// server".
func (a *Actor) String() string {
	if a == nil || a.requester == nil {
		return "the ark server"
	}
	return a.requester.Username
}

// Refused returns the accesses the actor may not do (see Reviewer.Refused);
// none when the server acts as itself.
func (a *Actor) Refused(ctx context.Context, accesses []Access) ([]Access, error) {
	if !a.Checked() || len(accesses) == 0 {
		return nil, nil
	}
	return a.reviewer.Refused(ctx, *a.requester, accesses)
}

// Allowed says whether the actor may do access.
func (a *Actor) Allowed(ctx context.Context, access Access) (bool, error) {
	refused, err := a.Refused(ctx, []Access{access})
	return len(refused) == 0, err
}
