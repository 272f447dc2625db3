// Package discovery keeps ark's view of the API server's resources: the
// preferred version of every group's resources (custom resources included),
// and the resolution of the names users write in backups and restores
// ("deployments", "deployments.apps", "deploy", "deployment", "Deployment")
// into group-version-resources.
//
// A Helper is filled by Refresh and is safe for concurrent use. Refresh
// tolerates groups whose discovery fails (an aggregated API server that is
// down, a stale group in aggregated discovery): their resources are left out
// and FailedGroups says which they were.
package discovery

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/klog/v2"
)

// Client is the part of client-go's discovery.DiscoveryInterface the Helper
// uses; a *discovery.DiscoveryClient and the fake discovery client satisfy it.
// If the client also has discovery.AggregatedDiscoveryInterface's
// GroupsAndMaybeResources method (the real client does), groups and resources
// come from one aggregated request.
type Client interface {
	ServerGroups() (*metav1.APIGroupList, error)
	ServerResourcesForGroupVersion(groupVersion string) (*metav1.APIResourceList, error)
}

// aggregatedClient is the aggregated-discovery method of client-go's
// discovery.AggregatedDiscoveryInterface (without the rest of that interface):
// groups and resources in one request, with the group versions whose
// resources are stale.
type aggregatedClient interface {
	GroupsAndMaybeResources() (*metav1.APIGroupList, map[schema.GroupVersion]*metav1.APIResourceList, map[schema.GroupVersion]error, error)
}

// ErrResourceNotFound is wrapped by the error ResolveResource returns for a
// name no discovered resource answers to.
var ErrResourceNotFound = errors.New("resource not found")

// Resource is one resource at the version the Helper chose for it: its
// group's preferred version, or, for a resource the preferred version does not
// serve, the first version of the group (in the server's order) that does.
type Resource struct {
	// GVR is the group, version and plural resource name.
	GVR schema.GroupVersionResource
	// API is the resource as discovery described it, with Group and Version
	// filled in.
	API metav1.APIResource
}

// GroupResource is GVR.GroupResource(); its String() ("deployments.apps",
// "pods" for the core group) is the name of the resource's directory in a
// backup tarball.
func (r Resource) GroupResource() schema.GroupResource { return r.GVR.GroupResource() }

// HasVerb says whether the resource supports the verb ("list", "create", ...).
func (r Resource) HasVerb(verb string) bool {
	for _, v := range r.API.Verbs {
		if v == verb {
			return true
		}
	}
	return false
}

// Helper answers questions about the server's resources from the last Refresh.
type Helper struct {
	client Client

	mu        sync.RWMutex
	resources []Resource
	failed    map[schema.GroupVersion]error
	refreshed bool
}

// NewHelper returns a Helper over client. It knows no resources until Refresh.
func NewHelper(client Client) *Helper {
	return &Helper{client: client}
}

// Refresh reads the server's groups and resources again. It fails only if
// the list of groups cannot be read; groups whose resources cannot be read are
// recorded (see FailedGroups) and left out. Subresources ("pods/log") are left
// out of Resources.
func (h *Helper) Refresh(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	logger := klog.FromContext(ctx)

	var (
		groups *metav1.APIGroupList
		byGV   map[schema.GroupVersion]*metav1.APIResourceList
		failed = map[schema.GroupVersion]error{}
		err    error
	)
	if ad, ok := h.client.(aggregatedClient); ok {
		var stale map[schema.GroupVersion]error
		groups, byGV, stale, err = ad.GroupsAndMaybeResources()
		for gv, e := range stale {
			failed[gv] = e
		}
	} else {
		groups, err = h.client.ServerGroups()
	}
	if err != nil {
		return fmt.Errorf("discovering API groups: %w", err)
	}
	if groups == nil {
		return errors.New("discovering API groups: the server returned no group list")
	}
	if byGV == nil {
		// Legacy discovery: one request per group version.
		byGV = map[schema.GroupVersion]*metav1.APIResourceList{}
		for _, g := range groups.Groups {
			for _, v := range g.Versions {
				if err := ctx.Err(); err != nil {
					return err
				}
				gv := schema.GroupVersion{Group: g.Name, Version: v.Version}
				list, err := h.client.ServerResourcesForGroupVersion(gv.String())
				if err != nil {
					failed[gv] = err
				}
				if list != nil {
					byGV[gv] = list
				}
			}
		}
	}

	resources := preferredResources(groups, byGV)
	for gv, e := range failed {
		logger.V(2).Info("API group version discovery failed", "groupVersion", gv.String(), "err", e)
	}
	logger.V(4).Info("Refreshed discovery", "resources", len(resources), "failedGroupVersions", len(failed))

	h.mu.Lock()
	h.resources = resources
	h.failed = failed
	h.refreshed = true
	h.mu.Unlock()
	return nil
}

// preferredResources picks one version per group resource, in the order the
// server lists groups (the core group first) and, within a group, in the order
// of the preferred version's resource list.
func preferredResources(groups *metav1.APIGroupList, byGV map[schema.GroupVersion]*metav1.APIResourceList) []Resource {
	// The core group first, whatever order the server (or a fake) used.
	ordered := make([]metav1.APIGroup, 0, len(groups.Groups))
	for _, g := range groups.Groups {
		if g.Name == "" {
			ordered = append(ordered, g)
		}
	}
	for _, g := range groups.Groups {
		if g.Name != "" {
			ordered = append(ordered, g)
		}
	}
	var out []Resource
	for _, g := range ordered {
		versions := make([]string, 0, len(g.Versions))
		if g.PreferredVersion.Version != "" {
			versions = append(versions, g.PreferredVersion.Version)
		}
		for _, v := range g.Versions {
			if v.Version != g.PreferredVersion.Version {
				versions = append(versions, v.Version)
			}
		}
		seen := map[string]bool{}
		for _, version := range versions {
			list := byGV[schema.GroupVersion{Group: g.Name, Version: version}]
			if list == nil {
				continue
			}
			for _, r := range list.APIResources {
				if strings.Contains(r.Name, "/") || seen[r.Name] {
					continue
				}
				seen[r.Name] = true
				r.Group, r.Version = g.Name, version
				r.Verbs = append(metav1.Verbs(nil), r.Verbs...)
				r.ShortNames = append([]string(nil), r.ShortNames...)
				r.Categories = append([]string(nil), r.Categories...)
				out = append(out, Resource{
					GVR: schema.GroupVersionResource{Group: g.Name, Version: version, Resource: r.Name},
					API: r,
				})
			}
		}
	}
	return out
}

// Resources returns every resource the server serves, one entry per group
// resource at its chosen version (see Resource), core group first, then the
// groups in the server's order. The slice is a copy.
func (h *Helper) Resources() []Resource {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return append([]Resource(nil), h.resources...)
}

// ResourceNames returns the names the resources answer to (plural,
// resource.group, singular and short names, lowercase), for suggesting what a
// mistyped name may have meant.
func (h *Helper) ResourceNames() []string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var out []string
	for _, r := range h.resources {
		out = append(out, r.GVR.Resource, r.GroupResource().String())
		if r.API.SingularName != "" {
			out = append(out, r.API.SingularName)
		}
		out = append(out, r.API.ShortNames...)
	}
	return out
}

// FailedGroups returns the group versions whose resources could not be read
// by the last Refresh, with the reason. Empty when discovery was complete.
func (h *Helper) FailedGroups() map[schema.GroupVersion]error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make(map[schema.GroupVersion]error, len(h.failed))
	for gv, err := range h.failed {
		out[gv] = err
	}
	return out
}

// FailedGroupNames returns FailedGroups' keys as sorted "group/version" strings.
func (h *Helper) FailedGroupNames() []string {
	failed := h.FailedGroups()
	names := make([]string, 0, len(failed))
	for gv := range failed {
		names = append(names, gv.String())
	}
	sort.Strings(names)
	return names
}

// ResolveResource finds the resource a user-written name means. It accepts,
// case-insensitively:
//
//   - the plural name: "deployments"
//   - the plural name qualified by its group: "deployments.apps" (the
//     String() of a schema.GroupResource), or by version and group:
//     "deployments.v1.apps" (the version must be the one the Helper chose)
//   - a short name: "deploy"; the singular name: "deployment"; the kind:
//     "Deployment" (each also accepted with ".<group>")
//
// When an unqualified name matches resources of several groups, the core
// group wins, then the first group in the server's order; a plural name match
// beats a singular, short name or kind match. Names no resource answers to
// give an error wrapping ErrResourceNotFound.
func (h *Helper) ResolveResource(name string) (schema.GroupVersionResource, metav1.APIResource, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()

	n := strings.ToLower(strings.TrimSpace(name))
	if n == "" {
		return schema.GroupVersionResource{}, metav1.APIResource{}, fmt.Errorf("empty resource name: %w", ErrResourceNotFound)
	}
	// Unqualified first, so that a resource name containing a dot (none does in
	// practice) still resolves.
	if r, ok := h.find(n, nil, ""); ok {
		return r.GVR, r.API, nil
	}
	if i := strings.Index(n, "."); i > 0 && i < len(n)-1 {
		res, rest := n[:i], n[i+1:]
		group := rest
		if r, ok := h.find(res, &group, ""); ok {
			return r.GVR, r.API, nil
		}
		// resource.version.group
		if j := strings.Index(rest, "."); j > 0 && j < len(rest)-1 {
			version, group := rest[:j], rest[j+1:]
			if r, ok := h.find(res, &group, version); ok {
				return r.GVR, r.API, nil
			}
		}
	}
	if !h.refreshed {
		return schema.GroupVersionResource{}, metav1.APIResource{}, fmt.Errorf("resource %q: discovery has not been refreshed: %w", name, ErrResourceNotFound)
	}
	return schema.GroupVersionResource{}, metav1.APIResource{}, fmt.Errorf("resource %q: %w", name, ErrResourceNotFound)
}

// find returns the best match of the lowercase name n among the resources of
// group (any group if nil); a non-empty version must match too.
func (h *Helper) find(n string, group *string, version string) (Resource, bool) {
	const none = 5
	best, bestRank := -1, none
	for i, r := range h.resources {
		if group != nil && r.GVR.Group != *group {
			continue
		}
		if version != "" && r.GVR.Version != version {
			continue
		}
		rank := none
		switch {
		case r.API.Name == n:
			rank = 0
		case strings.ToLower(r.API.SingularName) == n:
			rank = 1
		case containsFold(r.API.ShortNames, n):
			rank = 2
		case strings.ToLower(r.API.Kind) == n:
			rank = 3
		}
		if rank < bestRank {
			best, bestRank = i, rank
		}
	}
	if best < 0 {
		return Resource{}, false
	}
	return h.resources[best], true
}

func containsFold(list []string, n string) bool {
	for _, s := range list {
		if strings.ToLower(s) == n {
			return true
		}
	}
	return false
}
