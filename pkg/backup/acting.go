package backup

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/authz"
	"github.com/heptio/ark/pkg/discovery"
	"github.com/heptio/ark/pkg/util/collections"
)

// Acting is whom one backup lists and runs its hooks as (package authz): in
// multi-tenant mode its requester, impersonated by these clients and checked
// by Actor; in single-tenant mode the server itself, unchecked.
//
// What the requester may not list is left out, each resource left out a
// warning that names the namespaces it was left out of; what they ask for
// explicitly and may not list fails validation first (Authorize). Objects
// taken for their relation to backed-up ones are read one by one as the
// requester when they may not list them all: their namespaces (a namespace
// admin may get theirs), the persistent volumes of their claims and the CRDs
// of their custom resources; one they may not get is left out with a
// warning, and a volume left out is not snapshotted. The cluster's
// resourceVersion and discovery are read as the server.
type Acting struct {
	Client  dynamic.Interface
	Raw     RawLister          // nil: lists through Client
	PodExec PodCommandExecutor // nil: every hook fails
	Actor   *authz.Actor
}

// WithActing makes each backup list and run its hooks through what acting
// returns for it; an error fails the backup's validation (Authorize).
// Without it every backup acts as the server, through the clients given to
// NewBackupper.
func WithActing(acting func(*arkv1.Backup) (*Acting, error)) Option {
	return func(b *Backupper) { b.acting = acting }
}

// Authorize returns, as validation errors, why the backup may not run as its
// requester: none recorded (multi-tenant mode), or explicitly named
// resources and namespaces they may not list (RequiredAccess). Call it before
// anything is written; nil means the backup may run.
func (b *Backupper) Authorize(ctx context.Context, backup *arkv1.Backup) []string {
	if b.acting == nil {
		return nil
	}
	acting, err := b.acting(backup)
	if err != nil {
		return []string{err.Error()}
	}
	if !acting.Actor.Checked() {
		return nil
	}
	accesses, err := RequiredAccess(b.discovery, backup.Spec)
	if err != nil {
		return nil // the spec's own validation says what is wrong
	}
	refused, err := acting.Actor.Refused(ctx, accesses)
	if err != nil {
		return []string{err.Error()}
	}
	return authz.Denials(acting.Actor.String(), refused, 20)
}

// RequiredAccess returns what a backup's requester must be allowed for the
// backup to run at all: list of every resource includedResources names (not
// "*") in every namespace includedNamespaces names (not "*"), and
// cluster-wide for a named cluster-scoped resource; with all resources, get
// on every named namespace (one the requester cannot even see is no backup of
// theirs). What a wildcard selects and they may not list is left out, with a
// warning, instead.
func RequiredAccess(resolver collections.ResourceResolver, spec arkv1.BackupSpec) ([]authz.Access, error) {
	var namespaces []string
	for _, ns := range spec.IncludedNamespaces {
		if ns == "*" {
			namespaces = nil
			break
		}
		if ns != "" {
			namespaces = append(namespaces, ns)
		}
	}
	var out []authz.Access
	explicitResources := false
	for _, name := range spec.IncludedResources {
		if strings.TrimSpace(name) == "*" {
			explicitResources = false
			out = nil
			break
		}
		gvr, api, err := resolver.ResolveResource(name)
		if err != nil {
			return nil, err
		}
		explicitResources = true
		gr := gvr.GroupResource()
		if !api.Namespaced {
			out = append(out, authz.Access{Verb: "list", Group: gr.Group, Resource: gr.Resource})
			continue
		}
		for _, ns := range namespaces {
			out = append(out, authz.Access{Verb: "list", Group: gr.Group, Resource: gr.Resource, Namespace: ns})
		}
	}
	if !explicitResources {
		for _, ns := range namespaces {
			out = append(out, authz.Access{Verb: "get", Resource: "namespaces", Namespace: ns, Name: ns})
		}
	}
	return out, nil
}

// checked says whether the backup's accesses are checked (it acts as a requester).
func (r *run) checked() bool { return r.actor.Checked() }

// mayList says whether the requester may list res in namespace ("" :
// cluster-wide or every namespace).
func (r *run) mayList(res discovery.Resource, namespace string) (bool, error) {
	if !r.checked() {
		return true, nil
	}
	refused, err := r.refused([]authz.Access{listAccess(res, namespace)})
	return len(refused) == 0, err
}

func listAccess(res discovery.Resource, namespace string) authz.Access {
	gr := res.GroupResource()
	return authz.Access{Verb: "list", Group: gr.Group, Resource: gr.Resource, Namespace: namespace}
}

// refused returns those of accesses the requester may not do, in their
// order. Only those not asked before in this backup are asked, all in one
// Actor.Refused (its reviews go out side by side); the answers are kept.
func (r *run) refused(accesses []authz.Access) ([]authz.Access, error) {
	var ask []authz.Access
	for _, a := range accesses {
		if _, known := r.listable[a]; !known {
			ask = append(ask, a)
		}
	}
	if len(ask) > 0 {
		no, err := r.actor.Refused(r.ctx, ask)
		if err != nil {
			return nil, err
		}
		if r.listable == nil {
			r.listable = map[authz.Access]bool{}
		}
		for _, a := range ask {
			r.listable[a] = true
		}
		for _, a := range no {
			r.listable[a] = false
		}
	}
	var out []authz.Access
	for _, a := range accesses {
		if !r.listable[a] {
			out = append(out, a)
		}
	}
	return out, nil
}

// checkLists asks, before the first list, whether the requester may list
// each resource of plan where the backup will list it (each named namespace,
// or cluster-wide), all at once: one by one, the reviews of a backup of one
// namespace (one per resource, about 30) took longer than listing its 10,000
// ConfigMaps. A failed check is left to the resource's own, which records it.
func (r *run) checkLists(plan []discovery.Resource) {
	if !r.checked() {
		return
	}
	named := r.namedNamespaces()
	var accesses []authz.Access
	for _, res := range plan {
		if !res.API.Namespaced || named == nil {
			accesses = append(accesses, listAccess(res, ""))
			continue
		}
		for _, ns := range named {
			accesses = append(accesses, listAccess(res, ns))
		}
	}
	if _, err := r.refused(accesses); err != nil {
		r.logger.V(1).Info("Checking what the requester may list; each resource checks again", "error", err)
	}
}

// knownScopes returns where a namespaced resource will be listed, or where a
// cluster-scoped one will ("" ), when that is known without asking the API
// server and without a warning: every scope allowed, as far as checkLists
// found; ok is false otherwise.
func (r *run) knownScopes(res discovery.Resource) (scopes []string, ok bool) {
	named := r.namedNamespaces()
	if !res.API.Namespaced || named == nil {
		named = []string{metav1.NamespaceAll}
	}
	if r.checked() {
		for _, ns := range named {
			if allowed, known := r.listable[listAccess(res, ns)]; !known || !allowed {
				return nil, false
			}
		}
	}
	return named, true
}

// namedNamespaces returns the namespaces the backup names and includes, or
// nil when it takes every namespace (but those it excludes).
func (r *run) namedNamespaces() []string {
	inc := r.namespaces.Includes()
	if len(inc) == 0 || slices.Contains(inc, collections.All) {
		return nil
	}
	named := []string{}
	for _, ns := range inc {
		if r.namespaces.ShouldInclude(ns) {
			named = append(named, ns)
		}
	}
	return named
}

// namespaceScopes returns where to list a namespaced resource: in each named
// namespace, or in all at once; as a requester, only where they may list it,
// each namespace left out recorded in one warning.
func (r *run) namespaceScopes(res discovery.Resource) ([]string, error) {
	named := r.namedNamespaces()
	if named == nil {
		if ok, err := r.mayList(res, metav1.NamespaceAll); err != nil || ok {
			return []string{metav1.NamespaceAll}, err
		}
		// Not in every namespace: in those of the cluster they may list it in.
		all, err := r.clusterNamespaces()
		if err != nil {
			return nil, err
		}
		named = []string{}
		for _, ns := range all {
			if r.namespaces.ShouldInclude(ns) {
				named = append(named, ns)
			}
		}
	}
	if !r.checked() {
		return named, nil
	}
	gr := res.GroupResource()
	accesses := make([]authz.Access, len(named))
	for i, ns := range named {
		accesses[i] = listAccess(res, ns)
	}
	refused, err := r.refused(accesses)
	if err != nil {
		return nil, err
	}
	if len(refused) == 0 {
		return named, nil
	}
	out := make(map[string]bool, len(named))
	for _, ns := range named {
		out[ns] = true
	}
	left := make([]string, 0, len(refused))
	for _, a := range refused {
		delete(out, a.Namespace)
		left = append(left, a.Namespace)
	}
	sort.Strings(left)
	r.warn("Resource left out of namespaces its requester may not list it in", gr.String(), "", "",
		fmt.Sprintf("%s may not list it in %s", r.actor, strings.Join(left, ", ")), nil)
	r.result.LeftOut = append(r.result.LeftOut, fmt.Sprintf("%s in namespaces %s", gr, strings.Join(left, ", ")))
	scopes := make([]string, 0, len(out))
	for _, ns := range named {
		if out[ns] {
			scopes = append(scopes, ns)
		}
	}
	return scopes, nil
}

// clusterNamespaces lists the names of the cluster's namespaces, as the
// server (a requester who may not list them all is asked, namespace by
// namespace, what they may list). Read once per backup.
func (r *run) clusterNamespaces() ([]string, error) {
	if r.nsNames != nil {
		return r.nsNames, nil
	}
	list, err := r.b.client.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).List(r.ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing the cluster's namespaces: %w", err)
	}
	names := make([]string, 0, len(list.Items))
	for _, ns := range list.Items {
		names = append(names, ns.GetName())
	}
	sort.Strings(names)
	r.nsNames = names
	return names, nil
}

// getEach reads, as the requester, the named cluster-scoped objects of res
// one by one (taken for their relation to backed-up objects, when the
// requester may not list them all) and passes each found to fn. One the
// requester may not get is left out with a warning (why says what that
// costs); one that does not exist is skipped.
func (r *run) getEach(res discovery.Resource, names []string, why func(name string) string, fn func(*unstructured.Unstructured) error) error {
	gr := res.GroupResource().String()
	client := r.client.Resource(res.GVR)
	sort.Strings(names)
	for _, name := range names {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		obj, err := client.Get(r.ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			r.info("Item skipped", gr, "", name, "not found")
			continue
		case apierrors.IsForbidden(err):
			r.warn("Item left out: its requester may not get it", gr, "", name, why(name), nil)
			r.result.LeftOut = append(r.result.LeftOut, gr+" "+name)
			continue
		case err != nil:
			r.fail("Item not backed up", gr, "", name, "it cannot be read", err)
			continue
		}
		if err := fn(obj); err != nil {
			return err
		}
	}
	return nil
}
