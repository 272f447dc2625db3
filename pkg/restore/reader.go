package restore

import (
	"context"
	"io"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Archive is a backup tarball opened for reading, with the checks a restore
// makes (safe entry names, limits): `ark backup verify` decodes every item
// through it, `ark backup diff` compares them with the cluster.
type Archive struct{ a *archive }

// OpenArchive reads the gzipped tarball r (into a spool file under tempDir,
// "" for the system's) and indexes its items. An error wrapping
// ErrInvalidArchive says the tarball is corrupt or unsafe. Close removes the
// spool file.
func OpenArchive(ctx context.Context, r io.Reader, tempDir string, limits ArchiveLimits) (*Archive, error) {
	a, err := extract(ctx, r, tempDir, limits.withDefaults())
	if err != nil {
		return nil, err
	}
	return &Archive{a: a}, nil
}

// Close removes the extracted items.
func (a *Archive) Close() error { return a.a.Close() }

// FormatVersion is the backup's metadata/version ("" if it has none).
func (a *Archive) FormatVersion() string { return a.a.formatVersion }

// Items is the number of items (one copy each).
func (a *Archive) Items() int { return a.a.total }

// Each calls f with every item (one copy each) in the order of its resource
// directory, namespace and name: ref names it as in the backup (its
// resource directory, source namespace and name), obj is the decoded object,
// or err says why it could not be read or decoded or is not the object its
// path names. An error from f stops the walk and is returned.
func (a *Archive) Each(f func(ref ItemRef, obj *unstructured.Unstructured, err error) error) error {
	for _, dir := range a.a.resources() {
		items := a.a.byResource[dir]
		for i := range items {
			it := &items[i]
			obj, err := a.a.load(it)
			if ferr := f(ItemRef{Resource: it.resource, Namespace: it.namespace, Name: it.name}, obj, err); ferr != nil {
				return ferr
			}
		}
	}
	return nil
}
