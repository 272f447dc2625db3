package restore

import (
	"context"
	"fmt"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/authz"
)

// A restore acts as its requester (Options.Acting): every write goes through
// a client that impersonates them, so the API server refuses what they may
// not do, escalation of RBAC included. Before the first write, authorize
// checks with SubjectAccessReviews, as them, that they may:
//   - create each kind the restore would restore, in each target namespace
//     (after the mapping), or cluster-wide for a cluster-scoped kind; with
//     existingResourcePolicy update, also patch and update it there;
//   - get and list each of those kinds in each source namespace of the
//     backup it takes them from (no copying another team's Secrets into
//     one's own namespace through a mapping), or cluster-wide;
//   - create namespaces, if a target namespace does not exist.
// Anything refused fails the restore's validation, naming it; nothing is
// written. A dry run is checked the same way. The check is by kind and
// namespace, before the label selector and the skip rules (owned objects,
// mirror pods) that would leave some items out: it may refuse a restore whose
// refused items would all have been skipped; exclude their resource.

// Authorize returns, as validation errors, why a restore may not run as its
// requester before its backup is read: none recorded, in multi-tenant mode.
func (r *Restorer) Authorize(_ context.Context, restore *arkv1.Restore) []string {
	if r.opts.Acting == nil {
		return nil
	}
	if _, _, err := r.opts.Acting(restore); err != nil {
		return []string{err.Error()}
	}
	return nil
}

// authorize checks, before the first write, what the restore is about to do
// (see above); refused, it returns an *InvalidError naming it.
func (s *run) authorize(ctx context.Context) error {
	if !s.actor.Checked() {
		return nil
	}
	update := s.updateExisting()
	var accesses []authz.Access
	add := func(gr schema.GroupResource, source, target string) {
		accesses = append(accesses,
			authz.Access{Verb: "get", Group: gr.Group, Resource: gr.Resource, Namespace: source},
			authz.Access{Verb: "list", Group: gr.Group, Resource: gr.Resource, Namespace: source},
			authz.Access{Verb: "create", Group: gr.Group, Resource: gr.Resource, Namespace: target})
		if update {
			accesses = append(accesses,
				authz.Access{Verb: "patch", Group: gr.Group, Resource: gr.Resource, Namespace: target},
				authz.Access{Verb: "update", Group: gr.Group, Resource: gr.Resource, Namespace: target})
		}
	}
	targets := map[string]bool{}
	for _, dir := range s.arc.resources() {
		gr := schema.ParseGroupResource(dir)
		if neverRestored(gr) != "" || !s.resourceIncluded(dir) {
			continue
		}
		if gvr, _, err := s.discovery.ResolveResource(dir); err == nil {
			gr = gvr.GroupResource()
		}
		seen := map[string]bool{}
		items := s.arc.byResource[dir]
		for i := range items {
			it := &items[i]
			switch {
			case dir == "namespaces" && it.namespace == "":
				if !s.namespaceFilter.ShouldInclude(it.name) {
					continue
				}
				// A namespace of the backup is read as itself, and made only
				// if its target does not exist (below).
				accesses = append(accesses, authz.Access{Verb: "get", Resource: "namespaces", Namespace: it.name, Name: it.name})
				target := s.mapNamespace(it.name)
				targets[target] = true
				if update {
					accesses = append(accesses, authz.Access{Verb: "patch", Resource: "namespaces", Namespace: target, Name: target})
				}
			case it.namespace != "":
				if seen[it.namespace] || !s.namespaceFilter.ShouldInclude(it.namespace) {
					continue
				}
				seen[it.namespace] = true
				target := s.mapNamespace(it.namespace)
				targets[target] = true
				add(gr, it.namespace, target)
			default:
				if seen[""] {
					continue
				}
				if !s.allNamespaces {
					obj, err := s.load(it)
					if err != nil || !s.clusterItemWanted(gr, it, obj) {
						continue
					}
				}
				seen[""] = true
				add(gr, "", "")
			}
		}
	}
	names := make([]string, 0, len(targets))
	for ns := range targets {
		names = append(names, ns)
	}
	sort.Strings(names)
	for _, ns := range names {
		if !s.namespaceExists(ctx, ns) {
			accesses = append(accesses, authz.Access{Verb: "create", Resource: "namespaces"})
			break
		}
	}
	refused, err := s.actor.Refused(ctx, accesses)
	if err != nil {
		return fmt.Errorf("checking what the restore's requester may do: %w", err)
	}
	if len(refused) > 0 {
		s.log.Error("the restore's requester may not do what it asks; nothing was restored", "requester", s.actor.String(), "refused", len(refused))
		return &InvalidError{Errors: authz.Denials(s.actor.String(), refused, 20)}
	}
	s.log.Info("the restore acts as its requester, who may do what it asks", "requester", s.actor.String())
	return nil
}

// namespaceExists says whether a namespace exists, as the server sees it.
func (s *run) namespaceExists(ctx context.Context, name string) bool {
	_, err := s.Restorer.client.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Get(ctx, name, metav1.GetOptions{})
	return err == nil || !apierrors.IsNotFound(err)
}
