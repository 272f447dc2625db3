// Package collections holds the include/exclude matching shared by the backup
// and restore engines: namespaces and resources are each chosen by a list of
// included names and a list of excluded names.
//
// The rules, for an IncludesExcludes built from includes I and excludes E:
//
//   - an empty I, or an I containing "*", includes everything;
//   - an excluded entry is never included, even if I names it too ("exclude
//     wins");
//   - "*" in E is invalid (it would exclude everything); ShouldInclude then
//     returns false for every item, and ValidateIncludesExcludes reports it.
//
// Matching is exact and case-sensitive: callers normalize first (resource
// names are turned into "resource.group" strings by ResolveResources).
package collections

import (
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
)

// All is the wildcard entry: in an include list it includes everything.
const All = "*"

// IncludesExcludes decides which items (namespace names, "resource.group"
// strings) are included. The zero value includes everything. It is safe to
// read concurrently once built.
type IncludesExcludes struct {
	includes sets.Set[string]
	excludes sets.Set[string]
}

// NewIncludesExcludes returns an IncludesExcludes with the given include and
// exclude lists. Empty strings are ignored.
func NewIncludesExcludes(includes, excludes []string) *IncludesExcludes {
	ie := &IncludesExcludes{includes: sets.New[string](), excludes: sets.New[string]()}
	for _, s := range includes {
		if s != "" {
			ie.includes.Insert(s)
		}
	}
	for _, s := range excludes {
		if s != "" {
			ie.excludes.Insert(s)
		}
	}
	return ie
}

// ShouldInclude says whether item is included: it is not excluded, and the
// include list is empty, contains "*", or contains item.
func (ie *IncludesExcludes) ShouldInclude(item string) bool {
	if ie == nil {
		return true
	}
	if ie.excludes.Has(item) || ie.excludes.Has(All) {
		return false
	}
	return ie.includesAny() || ie.includes.Has(item)
}

// IsExcluded says whether item is named by the exclude list (or the exclude
// list holds "*"). It differs from !ShouldInclude for items that are merely
// not in a non-empty include list.
func (ie *IncludesExcludes) IsExcluded(item string) bool {
	if ie == nil {
		return false
	}
	return ie.excludes.Has(item) || ie.excludes.Has(All)
}

// IsExplicitlyIncluded says whether item is named by the include list itself
// (not merely covered by an empty list or "*") and not excluded.
func (ie *IncludesExcludes) IsExplicitlyIncluded(item string) bool {
	if ie == nil {
		return false
	}
	return ie.includes.Has(item) && !ie.IsExcluded(item)
}

// IncludesAll says whether every item is included: the include list is empty
// or contains "*", and the exclude list is empty. A backup whose namespaces
// IncludesAll covers the whole cluster.
func (ie *IncludesExcludes) IncludesAll() bool {
	if ie == nil {
		return true
	}
	return ie.includesAny() && ie.excludes.Len() == 0
}

// Includes returns the include list, sorted. Nil means "everything" ("*" is
// kept if it was given alongside other entries).
func (ie *IncludesExcludes) Includes() []string {
	if ie == nil || ie.includes.Len() == 0 {
		return nil
	}
	return sets.List(ie.includes)
}

// Excludes returns the exclude list, sorted.
func (ie *IncludesExcludes) Excludes() []string {
	if ie == nil || ie.excludes.Len() == 0 {
		return nil
	}
	return sets.List(ie.excludes)
}

// String renders the lists for logs: "includes=[a b], excludes=[c]" with "*"
// for an empty include list.
func (ie *IncludesExcludes) String() string {
	inc := ie.Includes()
	if len(inc) == 0 {
		inc = []string{All}
	}
	return fmt.Sprintf("includes=%v, excludes=%v", inc, ie.Excludes())
}

func (ie *IncludesExcludes) includesAny() bool {
	return ie.includes.Len() == 0 || ie.includes.Has(All)
}

// ValidateIncludesExcludes reports the problems of a pair of lists, one error
// message per problem: "*" in the exclude list, and each entry that is both
// included and excluded. Nil means valid.
func ValidateIncludesExcludes(includes, excludes []string) []error {
	var errs []error
	inc := sets.New(includes...)
	exc := sets.New(excludes...)
	if exc.Has(All) {
		errs = append(errs, fmt.Errorf("excludes list cannot contain %q", All))
	}
	for _, s := range sets.List(inc.Intersection(exc)) {
		errs = append(errs, fmt.Errorf("%q is both included and excluded", s))
	}
	return errs
}

// ResourceResolver resolves a user-written resource name ("deployments",
// "deployments.apps", "deploy", "Deployment"); *discovery.Helper implements it.
type ResourceResolver interface {
	ResolveResource(name string) (schema.GroupVersionResource, metav1.APIResource, error)
}

// ResolveResources turns a backup's or restore's resource lists into an
// IncludesExcludes over group-resource strings (schema.GroupResource.String():
// "deployments.apps", "pods" for the core group), the names the engines match
// and the tarball uses. "*" is kept as is. Every name the resolver does not
// know is reported in one error that lists them all; the IncludesExcludes is
// then nil.
func ResolveResources(resolver ResourceResolver, includes, excludes []string) (*IncludesExcludes, error) {
	var unknown []string
	resolve := func(names []string) []string {
		out := make([]string, 0, len(names))
		for _, n := range names {
			n = strings.TrimSpace(n)
			if n == "" {
				continue
			}
			if n == All {
				out = append(out, All)
				continue
			}
			gvr, _, err := resolver.ResolveResource(n)
			if err != nil {
				unknown = append(unknown, n)
				continue
			}
			out = append(out, gvr.GroupResource().String())
		}
		return out
	}
	inc := resolve(includes)
	exc := resolve(excludes)
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("unknown resources: %s", strings.Join(unknown, ", "))
	}
	return NewIncludesExcludes(inc, exc), nil
}
