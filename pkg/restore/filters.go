package restore

import (
	"fmt"
	"sort"
	"strings"

	"github.com/heptio/ark/pkg/validation"
)

// InvalidError is a restore whose spec turned out invalid once its backup was
// read (a resource name that neither the cluster nor the backup knows). Nothing
// was restored; the controller marks the restore FailedValidation with Errors.
type InvalidError struct {
	Errors []string
}

func (e *InvalidError) Error() string { return "invalid restore: " + strings.Join(e.Errors, "; ") }

// backupResources resolves filter names through discovery and, failing
// that, through the resource directories of the backup ("widgets.example.com",
// also named "widgets"), since a custom resource may come with its CRD in the
// backup and be unknown to discovery until that CRD is restored.
type backupResources struct {
	discovery Discovery
	dirs      []string
}

func (b backupResources) ResolveResource(name string) error {
	if _, _, err := b.discovery.ResolveResource(name); err == nil {
		return nil
	}
	n := strings.ToLower(strings.TrimSpace(name))
	for _, d := range b.dirs {
		if d == n || strings.SplitN(d, ".", 2)[0] == n {
			return nil
		}
	}
	return fmt.Errorf("resource %q is neither served by the cluster nor in the backup", name)
}

func (b backupResources) ResourceNames() []string {
	var out []string
	if n, ok := b.discovery.(interface{ ResourceNames() []string }); ok {
		out = n.ResourceNames()
	}
	for _, d := range b.dirs {
		out = append(out, d, strings.SplitN(d, ".", 2)[0])
	}
	return out
}

// checkFilters validates the restore's resource filters against the cluster
// and the backup, and warns of namespace filters and mappings that name a
// namespace the backup does not hold (they match nothing: most likely a typo).
func (s *run) checkFilters() error {
	spec := s.restore.Spec
	if errs := validation.ResourceFilters(backupResources{s.discovery, s.arc.resources()}, spec.IncludedResources, spec.ExcludedResources); len(errs) > 0 {
		return &InvalidError{Errors: errs}
	}
	inBackup := s.arc.namespaces()
	warn := func(what, ns string) {
		s.col.warn("", "%s %q is not in the backup: it matches nothing", what, ns)
		s.log.Warn(what+" is not in the backup", "namespace", ns)
	}
	for _, ns := range spec.IncludedNamespaces {
		if ns != "*" && ns != "" && !inBackup[ns] {
			warn("included namespace", ns)
		}
	}
	for _, ns := range spec.ExcludedNamespaces {
		if ns != "*" && ns != "" && !inBackup[ns] {
			warn("excluded namespace", ns)
		}
	}
	sources := make([]string, 0, len(spec.NamespaceMapping))
	for src := range spec.NamespaceMapping {
		sources = append(sources, src)
	}
	sort.Strings(sources)
	for _, src := range sources {
		if !inBackup[src] {
			warn("namespace mapping source", src)
		}
	}
	return nil
}
