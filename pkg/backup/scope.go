package backup

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/discovery"
	"github.com/heptio/ark/pkg/util/collections"
)

// Scope is what a backup's spec selects of a cluster, by the rules the backup
// engine applies: `ark backup diff` lists the cluster within it to find the
// objects a backup lacks.
type Scope struct{ r *run }

// NewScope resolves spec's filters through resolver (discovery). Resource
// names the cluster does not know are an error, as for a backup.
func NewScope(resolver collections.ResourceResolver, spec arkv1.BackupSpec) (*Scope, error) {
	r := &run{selector: labels.Everything()}
	var err error
	if spec.LabelSelector != nil {
		if r.selector, err = metav1.LabelSelectorAsSelector(spec.LabelSelector); err != nil {
			return nil, fmt.Errorf("labelSelector: %w", err)
		}
	}
	if r.resources, err = collections.ResolveResources(resolver, spec.IncludedResources, spec.ExcludedResources); err != nil {
		return nil, err
	}
	r.namespaces = collections.NewIncludesExcludes(spec.IncludedNamespaces, spec.ExcludedNamespaces)
	if spec.IncludeClusterResources != nil {
		r.clusterIncluded = *spec.IncludeClusterResources
	} else {
		r.clusterIncluded = r.namespaces.IncludesAll()
	}
	return &Scope{r: r}, nil
}

// Selector is the backup's label selector.
func (s *Scope) Selector() labels.Selector { return s.r.selector }

// NamespaceIncluded says whether the backup selects objects of namespace ns.
func (s *Scope) NamespaceIncluded(ns string) bool { return s.r.namespaces.ShouldInclude(ns) }

// ResourceListed says whether the backup lists every object of res (within
// its namespaces and selector). Claims and the resources backed up as
// others' dependencies (persistent volumes, namespaces, CRDs: those of the
// selected objects) are not listed whole: false for them.
func (s *Scope) ResourceListed(res discovery.Resource) bool {
	if !res.HasVerb("list") {
		return false
	}
	switch res.GroupResource() {
	case pvcsGR:
		return s.r.resources.ShouldInclude(pvcsGR.String())
	case pvsGR, namespacesGR, crdsGR:
		return false
	}
	return s.r.resourceSkipReason(res) == ""
}
