// Package backup is ark's backup engine: it reads the API objects a Backup
// selects, at one resourceVersion of the cluster, and streams them as a
// gzipped tarball; it runs the backup's hooks in pods and snapshots the
// persistent volumes through a VolumeSnapshotter.
//
// The engine holds no informers and writes nothing to the cluster or the
// object store: the backup controller calls Backupper.Backup with the
// writers for the tarball and the log and stores what it returns.
//
// # Tarball
//
// The layout is pkg/format's (format.ItemPath, format.MetadataVersionPath,
// written first). Each file holds one object as the API server listed it,
// with apiVersion and kind set.
//
// # What is backed up
//
//   - Every resource discovery reports (the preferred version of each group,
//     custom resources included) that supports "list", filtered by the
//     backup's resources, namespaces and label selector.
//   - events (core and events.k8s.io) and ark's own kinds (ark.heptio.com) are
//     left out unless includedResources names them explicitly.
//   - Cluster-scoped resources: includeClusterResources true takes all of
//     them, false none; unset takes all of them when the backup covers every
//     namespace (includedNamespaces empty or "*", no excludedNamespaces) and
//     none otherwise.
//   - Persistent volumes bound to backed-up claims are always taken (unless
//     excludedResources names persistentvolumes), whatever the label
//     selector and includeClusterResources say.
//   - The CustomResourceDefinition of every custom resource with a backed-up
//     object is taken (unless excludedResources names
//     customresourcedefinitions), whatever the label selector and
//     includeClusterResources say.
//   - The namespace object of every namespace with a backed-up item is taken
//     (unless excludedResources names namespaces); so is every namespace the
//     namespace filter selects (even an empty one) that matches the label
//     selector, when cluster-scoped resources are included or the namespace
//     filter is not "every namespace".
//
// # Point in time
//
// The engine reads one resourceVersion R of the cluster first and lists every
// resource at exactly R, in pages. A resource that cannot be listed at R (410
// Gone once etcd has compacted R, an aggregated API server that does not
// support it) is listed fresh instead, named in a warning and in
// Result.InconsistentResources.
package backup
