package format

import (
	"fmt"
	"path"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The backup tarball (gzipped tar) holds:
//
//	metadata/version                                          FormatVersion, first entry
//	resources/<resource>.<group>/namespaces/<ns>/<name>.json  namespaced objects
//	resources/<resource>.<group>/cluster/<name>.json          cluster-scoped objects
//
// Core-group resources drop the ".<group>" ("resources/pods/..."). Velero 1.x
// tarballs (format 1.1.0) also hold each item under
// resources/<gr>/<version>-preferredversion/..., and, with its
// EnableAPIGroupVersions feature, under resources/<gr>/<version>/...

// FormatVersion is the version of the tarball layout ark writes, the content
// of metadata/version (a decimal number, no newline).
const FormatVersion = 1

const (
	// MetadataVersionPath is the tarball entry holding the format version.
	MetadataVersionPath = "metadata/version"
	// ResourcesDir is the tarball directory holding the objects.
	ResourcesDir = "resources"
	// NamespacedDir is the directory, under a resource's, of namespaced objects.
	NamespacedDir = "namespaces"
	// ClusterDir is the directory, under a resource's, of cluster-scoped objects.
	ClusterDir = "cluster"
	// PreferredVersionSuffix ends the name of the version directory of
	// Velero's duplicate copy of each item (format 1.1.0).
	PreferredVersionSuffix = "-preferredversion"
	// itemExt ends the name of an item's file.
	itemExt = ".json"
)

// ItemPath is the tarball path of an object: for a namespaced one
// resources/<resource>.<group>/namespaces/<namespace>/<name>.json, for a
// cluster-scoped one (namespace "") resources/<resource>.<group>/cluster/<name>.json,
// with the ".<group>" dropped for the core group.
func ItemPath(gr schema.GroupResource, namespace, name string) string {
	if namespace == "" {
		return path.Join(ResourcesDir, gr.String(), ClusterDir, name+itemExt)
	}
	return path.Join(ResourcesDir, gr.String(), NamespacedDir, namespace, name+itemExt)
}

// Copy says which copy of an item a tarball entry is.
type Copy int

const (
	// PlainCopy: resources/<gr>/{cluster,namespaces/<ns>}/<name>.json, the
	// layout ark writes (and every version of Velero too).
	PlainCopy Copy = iota
	// PreferredCopy: resources/<gr>/<version>-preferredversion/..., the
	// duplicate Velero (format 1.1.0) adds.
	PreferredCopy
	// OtherVersionCopy: resources/<gr>/<version>/..., a non-preferred version
	// Velero writes with its EnableAPIGroupVersions feature.
	OtherVersionCopy
)

// Entry is an item's tarball entry name, parsed.
type Entry struct {
	// Resource is the name of the item's resource directory, lower-cased: the
	// group-resource of the source cluster ("deployments.apps", "configmaps").
	Resource string
	// Namespace is the item's namespace in the backup, "" if cluster-scoped.
	Namespace string
	Name      string
	Copy      Copy
}

// ParseItemPath parses a clean entry name (no "./", no trailing "/") of the
// resources/ tree, the inverse of ItemPath for every copy. ok is false for
// entries that are not items; note then says why, if worth saying (an
// OtherVersionCopy is parsed, with ok true and no note).
func ParseItemPath(name string) (e Entry, ok bool, note string) {
	parts := strings.Split(name, "/")
	if parts[0] != ResourcesDir {
		return Entry{}, false, fmt.Sprintf("entry %q outside %s/ ignored", name, ResourcesDir)
	}
	if len(parts) < 4 {
		return Entry{}, false, fmt.Sprintf("unexpected entry %q ignored", name)
	}
	e = Entry{Resource: strings.ToLower(parts[1]), Copy: PlainCopy}
	rest := parts[2:]
	if rest[0] != ClusterDir && rest[0] != NamespacedDir {
		if strings.HasSuffix(rest[0], PreferredVersionSuffix) {
			e.Copy = PreferredCopy
		} else {
			e.Copy = OtherVersionCopy
		}
		rest = rest[1:]
	}
	var file string
	switch {
	case len(rest) == 2 && rest[0] == ClusterDir:
		file = rest[1]
	case len(rest) == 3 && rest[0] == NamespacedDir:
		e.Namespace, file = rest[1], rest[2]
	default:
		return Entry{}, false, fmt.Sprintf("unexpected entry %q ignored", name)
	}
	if !strings.HasSuffix(file, itemExt) || file == itemExt {
		return Entry{}, false, fmt.Sprintf("unexpected entry %q ignored (not a %s file)", name, itemExt)
	}
	e.Name = strings.TrimSuffix(file, itemExt)
	return e, true, ""
}
