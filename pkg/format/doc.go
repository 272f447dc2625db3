// Package format holds the formats ark shares between its writers and its
// readers, each written once: the layout of the backup tarball (tarball.go),
// the names of a backup's files in the bucket (bucket.go), the names of ark's
// labels, annotations, tags and finalizers (names.go), the restore-results
// file (results.go) and the timestamp in generated names (time.go).
//
// It is a leaf: it imports nothing of ark, so that the engines, the
// controllers, the providers and the CLI can all use it.
package format
