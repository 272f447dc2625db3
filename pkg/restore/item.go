package restore

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/format"
	"github.com/heptio/ark/pkg/label"
)

// veleroGroup is the API group of Velero's own kinds.
const veleroGroup = "velero.io"

// Resources never restored, with the reason.
func neverRestored(gr schema.GroupResource) string {
	switch {
	case gr.Group == "" && gr.Resource == "nodes":
		return "nodes belong to the cluster they were backed up from"
	case gr.Resource == "events" && (gr.Group == "" || gr.Group == "events.k8s.io"):
		return "events are not restored"
	case gr.Group == arkv1.SchemeGroupVersion.Group:
		return "ark's own resources are not restored"
	case gr.Group == veleroGroup:
		// A Velero backup holds Velero's Backups, Restores, Schedules and
		// so on when its namespace was backed up: they drive Velero, not
		// ark, and would start work against the source's bucket.
		return "Velero's own resources are not restored"
	case gr.Group == "storage.k8s.io" && (gr.Resource == "volumeattachments" || gr.Resource == "csinodes"):
		return "bound to the nodes of the cluster they were backed up from"
	}
	return ""
}

// job is one item to restore, with what its resource resolved to.
type job struct {
	it        *archiveItem
	gvr       schema.GroupVersionResource
	api       metav1.APIResource
	notServed error
}

// restoreGroup restores the items of a group of resource directories with
// one pool of Options.Workers goroutines: items of different resources of the
// group are created side by side, taken from each resource in turn
// (interleave), and the call returns once all are done.
func (s *run) restoreGroup(ctx context.Context, dirs []string) {
	jobs := make(chan job)
	var wg sync.WaitGroup
	started := 0
	send := func(j job) bool {
		if started < s.opts.Workers {
			started++
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range jobs {
					s.restoreItem(ctx, j.it, j.gvr, j.api, j.notServed)
				}
			}()
		}
		select {
		case jobs <- j:
			return true
		case <-ctx.Done():
			return false
		}
	}
	seqs := make([]iter.Seq[job], len(dirs))
	for i, dir := range dirs {
		seqs[i] = s.resourceJobs(dir)
	}
	for j := range interleave(seqs) {
		if !send(j) {
			break
		}
	}
	close(jobs)
	wg.Wait()
}

// interleave yields one item of each sequence in turn until all are done.
// The API server keeps each resource apart (its own storage, watch cache and
// admission; Services and Deployments cost it more than ConfigMaps), so a
// group whose resources are created side by side hides one resource's slow
// spell behind the others, as a mixed workload does. One resource after the
// other waited out each: at 100,000 objects, the Deployments and Services of
// BenchmarkScale went at half the rate of the ConfigMaps before them.
func interleave[T any](seqs []iter.Seq[T]) iter.Seq[T] {
	return func(yield func(T) bool) {
		nexts := make([]func() (T, bool), 0, len(seqs))
		for _, seq := range seqs {
			next, stop := iter.Pull(seq)
			defer stop()
			nexts = append(nexts, next)
		}
		for len(nexts) > 0 {
			live := nexts[:0]
			for _, next := range nexts {
				v, ok := next()
				if !ok {
					continue
				}
				if !yield(v) {
					return
				}
				live = append(live, next)
			}
			nexts = live
		}
	}
}

// resourceJobs checks one resource directory as a whole (never restored,
// filtered out, not served, no create verb: its items are recorded here) and
// yields the items to restore one by one.
func (s *run) resourceJobs(dir string) iter.Seq[job] {
	return func(yield func(job) bool) {
		items := s.arc.byResource[dir]
		if len(items) == 0 {
			return
		}
		gr := schema.ParseGroupResource(dir)
		skipAll := func(reason string) {
			s.log.Info("resource skipped", "resource", dir, "items", len(items), "reason", reason)
			for i := range items {
				s.skipped(s.refOf(&items[i]), reason)
				s.processed.Add(1)
			}
			s.reportProgress(false)
		}
		if reason := neverRestored(gr); reason != "" {
			skipAll(reason)
			return
		}
		if !s.resourceIncluded(dir) {
			skipAll("resource excluded by the restore's resource filter")
			return
		}
		gvr, api, err := s.discovery.ResolveResource(dir)
		if err == nil && gvr.GroupResource() != gr {
			err = fmt.Errorf("the name resolves to %s", gvr.GroupResource())
		}
		if err != nil {
			// Still go item by item: items the filters leave out are skips, not
			// errors.
			notServed := fmt.Errorf("resource %s is not served by the cluster: %w", dir, err)
			if s.crdWouldBeCreated(dir) {
				notServed = errServedOnceCRDCreated
			} else {
				s.log.Error("resource not served by the cluster", "resource", dir, "error", err.Error())
			}
			for i := range items {
				if !yield(job{it: &items[i], gvr: schema.GroupVersionResource{Group: gr.Group, Resource: gr.Resource}, notServed: notServed}) {
					return
				}
			}
			return
		}
		if !hasVerb(api, "create") {
			skipAll("the resource does not support create")
			return
		}
		s.log.Info("restoring resource", "resource", dir, "items", len(items), "version", gvr.Version)
		for i := range items {
			if !yield(job{it: &items[i], gvr: gvr, api: api}) {
				return
			}
		}
	}
}

func hasVerb(api metav1.APIResource, verb string) bool {
	if len(api.Verbs) == 0 {
		return true // unknown: let the server say
	}
	for _, v := range api.Verbs {
		if v == verb {
			return true
		}
	}
	return false
}

// mapNamespace returns the namespace a backup namespace is restored into.
func (s *run) mapNamespace(ns string) string {
	if t, ok := s.restore.Spec.NamespaceMapping[ns]; ok && t != "" {
		return t
	}
	return ns
}

// refOf names an item as restored (mapped namespace).
func (s *run) refOf(it *archiveItem) ItemRef {
	ref := ItemRef{Resource: it.resource, Namespace: s.mapNamespace(it.namespace), Name: it.name}
	if it.namespace == "" && it.resource == "namespaces" {
		ref.Name = s.mapNamespace(it.name)
	}
	return ref
}

func (s *run) restored(ref ItemRef, kv ...any) {
	s.col.add(func(r *Result) {
		r.Restored++
		if s.opts.ListItems {
			r.Items = append(r.Items, ref)
		}
	})
	if what, ok := reportedKinds[ref.Resource]; ok {
		s.col.warn(ref.Namespace, "%s: restored %s; check that it is wanted", ref, what)
	}
	s.dryNote(wouldCreate, ref, kvString(kv))
	s.log.Item(slog.LevelInfo, s.would("restored", "would be created (the API server accepted a dry-run create)"), ref.Resource, ref.Namespace, ref.Name, kv...)
}

func (s *run) existing(ref ItemRef) {
	s.col.add(func(r *Result) { r.Existing++ })
	s.col.warn(ref.Namespace, "%s: already exists in the cluster, %s", ref, s.would("left untouched", "would be left untouched"))
	s.dryNote(existingList, ref, "differs from the backup (or may)")
	s.log.Item(slog.LevelWarn, "already exists, left untouched", ref.Resource, ref.Namespace, ref.Name)
}

func (s *run) skipped(ref ItemRef, reason string) {
	s.col.add(func(r *Result) { r.Skipped++ })
	s.dryNote(skippedList, ref, reason)
	s.log.Item(slog.LevelInfo, "skipped", ref.Resource, ref.Namespace, ref.Name, "reason", reason)
}

// skippedWarn is a skip the user should hear about.
func (s *run) skippedWarn(ref ItemRef, reason string) {
	s.col.add(func(r *Result) { r.Skipped++ })
	s.col.warn(ref.Namespace, "%s: not restored: %s", ref, reason)
	s.dryNote(skippedList, ref, reason)
	s.log.Item(slog.LevelWarn, "skipped", ref.Resource, ref.Namespace, ref.Name, "reason", reason)
}

func (s *run) failed(ref ItemRef, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.col.add(func(r *Result) { r.Failed++ })
	s.col.error(ref.Namespace, "%s: %s", ref, msg)
	s.log.Item(slog.LevelError, "restore failed", ref.Resource, ref.Namespace, ref.Name, "error", msg)
}

// restoreItem restores one item; every outcome is recorded. A non-nil
// notServed says the cluster does not serve the item's resource: the item
// fails with it unless the filters leave it out.
func (s *run) restoreItem(ctx context.Context, it *archiveItem, gvr schema.GroupVersionResource, api metav1.APIResource, notServed error) {
	ref := s.refOf(it)
	deferred := false
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic restoring item", "item", ref.String(), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			s.failed(ref, "internal error: %v", p)
		}
		if !deferred {
			s.processed.Add(1)
			s.reportProgress(false)
		}
	}()
	gr := gvr.GroupResource()
	isNamespace := gr == schema.GroupResource{Resource: "namespaces"}

	if notServed == nil && api.Namespaced != (it.namespace != "") {
		where := "cluster-scoped"
		if it.namespace != "" {
			where = "in namespace " + it.namespace
		}
		s.failed(ref, "the backup stores it %s but the cluster's resource has namespaced=%t", where, api.Namespaced)
		return
	}
	if it.namespace != "" && !s.namespaceFilter.ShouldInclude(it.namespace) {
		s.skipped(ref, "namespace "+it.namespace+" excluded by the restore's namespace filter")
		return
	}
	if isNamespace && !s.namespaceFilter.ShouldInclude(it.name) {
		s.skipped(ref, "namespace excluded by the restore's namespace filter")
		return
	}

	obj, err := s.load(it)
	if err != nil {
		s.failed(ref, "%v", err)
		return
	}
	gv, err := schema.ParseGroupVersion(obj.GetAPIVersion())
	if err != nil || gv.Group != gvr.Group {
		s.failed(ref, "apiVersion %q does not belong to resource %s", obj.GetAPIVersion(), gr)
		return
	}
	itemGVR := gvr.GroupResource().WithVersion(gv.Version)

	if !s.selector.Matches(labels.Set(obj.GetLabels())) {
		s.skipped(ref, "labels do not match the restore's label selector")
		return
	}
	if errors.Is(notServed, errServedOnceCRDCreated) {
		s.unvalidated(ref, notServed.Error())
		return
	}
	if notServed != nil {
		s.failed(ref, "%v", notServed)
		return
	}
	if isNamespace {
		s.restoreNamespaceItem(ctx, it, ref, obj)
		return
	}
	if !api.Namespaced && !s.allNamespaces && !s.clusterItemWanted(gr, it, obj) {
		s.skipped(ref, "cluster-scoped, and the restore is limited to some namespaces")
		return
	}
	reason, warning := s.skipReason(ctx, gr, it, obj)
	if reason != "" {
		s.skipped(ref, reason)
		return
	}

	if gr.String() == "secrets" && isServiceAccountToken(obj) && !s.serviceAccountsDone.Load() {
		// The token controller deletes a token secret whose service account
		// it does not know: restore it after the service accounts.
		s.deferMu.Lock()
		s.deferred = append(s.deferred, deferredItem{it: it, gvr: gvr, api: api})
		s.deferMu.Unlock()
		deferred = true
		s.log.Item(slog.LevelDebug, "deferred until the service accounts are restored", ref.Resource, ref.Namespace, ref.Name)
		return
	}

	// PVs, and claims whose volume is restored through them, are checked
	// first so that no volume is made from a snapshot for nothing.
	if gr.String() == "persistentvolumes" && s.pvExists(ctx, obj.GetName()) {
		s.noteRestored(gr, ref, obj)
		s.existing(ref)
		return
	}
	if gr.String() == "persistentvolumeclaims" {
		vol, _, _ := unstructured.NestedString(obj.Object, "spec", "volumeName")
		if _, ok := s.claimVolumes.Load(vol); ok && vol != "" {
			if _, err := s.client.Resource(itemGVR).Namespace(s.mapNamespace(it.namespace)).Get(ctx, it.name, metav1.GetOptions{}); err == nil {
				s.existing(ref)
				return
			}
		}
	}

	target := s.mapNamespace(it.namespace)
	obj.SetNamespace(target)
	cleanObject(gr, obj)
	mappedRefs := s.mapNamespaceRefs(gr, obj)
	extra, skip, warnSkip, err := s.transform(ctx, gr, obj)
	if err != nil {
		s.failed(ref, "%v", err)
		return
	}
	if mappedRefs > 0 {
		extra = append(extra, "mappedNamespaceRefs", mappedRefs)
	}
	if skip != "" {
		if warnSkip {
			s.skippedWarn(ref, skip)
		} else {
			s.skipped(ref, skip)
		}
		return
	}
	setRestoreLabel(obj, s.restore.Name)

	if api.Namespaced {
		if err := s.ensureNamespace(ctx, target, it.namespace); err != nil {
			s.failed(ref, "namespace %s could not be created: %v", target, err)
			return
		}
		if s.namespaceWouldBeCreated(target) {
			s.dryCreateElsewhere(ctx, itemGVR, ref, obj)
			return
		}
	}
	if gr.String() == "services" && s.preserveNodePorts() {
		err = s.createService(ctx, itemGVR, ref, obj)
	} else {
		_, err = s.client.Resource(itemGVR).Namespace(target).Create(ctx, obj, s.createOptions())
	}
	switch {
	case err == nil && s.restore.Spec.DryRun:
		s.noteWouldCreate(gr, obj)
		s.restored(ref, extra...)
		if warning != "" {
			s.col.warn(ref.Namespace, "%s: %s", ref, warning)
		}
	case err == nil:
		s.noteRestored(gr, ref, obj)
		s.restored(ref, extra...)
		if warning != "" {
			s.col.warn(ref.Namespace, "%s: %s", ref, warning)
			s.log.Item(slog.LevelWarn, warning, ref.Resource, ref.Namespace, ref.Name)
		}
	case apierrors.IsAlreadyExists(err):
		s.noteRestored(gr, ref, obj)
		s.onExisting(ctx, itemGVR, ref, obj)
	default:
		s.failed(ref, "create: %v", err)
	}
}

// load reads and decodes an item, checking it is the object its path says.
func (s *run) load(it *archiveItem) (*unstructured.Unstructured, error) { return s.arc.load(it) }

// load reads and decodes an item, checking it is the object its path says.
func (a *archive) load(it *archiveItem) (*unstructured.Unstructured, error) {
	data, err := a.read(it)
	if err != nil {
		return nil, fmt.Errorf("reading the item from the extracted backup: %w", err)
	}
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(data); err != nil {
		return nil, fmt.Errorf("invalid item JSON: %v", err)
	}
	if obj.GetName() != it.name || obj.GetNamespace() != it.namespace {
		return nil, fmt.Errorf("the object's metadata names %q in namespace %q, not what its path in the backup says", obj.GetName(), obj.GetNamespace())
	}
	return obj, nil
}

// noteRestored remembers PVs, quotas and CRDs now in the cluster.
func (s *run) noteRestored(gr schema.GroupResource, ref ItemRef, obj *unstructured.Unstructured) {
	switch gr.String() {
	case "persistentvolumes":
		s.pvs.Store(obj.GetName(), true)
	case "resourcequotas":
		s.quotaMu.Lock()
		s.quotas = append(s.quotas, ref)
		s.quotaMu.Unlock()
	case crdResource:
		group, _, _ := unstructured.NestedString(obj.Object, "spec", "group")
		plural, _, _ := unstructured.NestedString(obj.Object, "spec", "names", "plural")
		s.crdMu.Lock()
		s.crds = append(s.crds, restoredCRD{ref: ref, resource: plural + "." + group})
		s.crdMu.Unlock()
	}
}

// clusterItemWanted says whether a cluster-scoped item belongs to a restore
// limited to some namespaces: it does if the restore names its resource, if
// it is a PV claimed from an included namespace, or a CRD whose objects are
// restored.
func (s *run) clusterItemWanted(gr schema.GroupResource, it *archiveItem, obj *unstructured.Unstructured) bool {
	if s.resourceExplicitlyIncluded(it.resource) {
		return true
	}
	switch gr.String() {
	case "persistentvolumes":
		ns, _, _ := unstructured.NestedString(obj.Object, "spec", "claimRef", "namespace")
		return ns != "" && s.namespaceFilter.ShouldInclude(ns)
	case crdResource:
		group, _, _ := unstructured.NestedString(obj.Object, "spec", "group")
		plural, _, _ := unstructured.NestedString(obj.Object, "spec", "names", "plural")
		for _, cr := range s.arc.byResource[plural+"."+group] {
			if cr.namespace != "" && s.namespaceFilter.ShouldInclude(cr.namespace) {
				return true
			}
		}
	}
	return false
}

// skipReason says why an item is not restored, or "". warning is set for
// an item restored with a caveat.
//
// An object with a controller owner (ownerReference with controller: true) is
// skipped when that owner is restored too (it is in the backup and the
// restore's resource and namespace filters keep it) or already in the
// cluster: the owner's controller makes the object again (ReplicaSets of a
// Deployment, Pods of a ReplicaSet or Job, EndpointSlices of a Service), and a
// restored copy would be a stale duplicate. An object whose controller owner
// is nowhere is restored, without its ownerReferences, with a warning: it
// would be lost otherwise. PVs and PVCs are always restored: they hold data.
// Endpoints of a Service with a selector and EndpointSlices managed by a
// Kubernetes controller are skipped too; mirror pods belong to a kubelet.
func (s *run) skipReason(ctx context.Context, gr schema.GroupResource, it *archiveItem, obj *unstructured.Unstructured) (reason, warning string) {
	switch gr.String() {
	case "persistentvolumes", "persistentvolumeclaims":
	default:
		for _, o := range obj.GetOwnerReferences() {
			if o.Controller == nil || !*o.Controller {
				continue
			}
			if where := s.ownerWhere(ctx, it, o); where != "" {
				return fmt.Sprintf("controlled by %s %s (%s), which recreates it", o.Kind, o.Name, where), ""
			}
			return "", fmt.Sprintf("restored without its controller %s %s, which is neither restored nor in the cluster", o.Kind, o.Name)
		}
	}
	switch gr.String() {
	case "pods":
		if _, ok := obj.GetAnnotations()["kubernetes.io/config.mirror"]; ok {
			return "mirror pod of a static pod: its kubelet makes it", ""
		}
	case "endpoints":
		if svc := s.arc.lookup("services", it.namespace, it.name); svc != nil {
			if o, err := s.load(svc); err == nil {
				if sel, _, _ := unstructured.NestedMap(o.Object, "spec", "selector"); len(sel) > 0 {
					return "managed by the endpoints controller for the Service of the same name", ""
				}
			}
		}
	case "endpointslices.discovery.k8s.io":
		if m := obj.GetLabels()["endpointslice.kubernetes.io/managed-by"]; strings.HasSuffix(m, ".k8s.io") {
			return "managed by " + m, ""
		}
	}
	return "", ""
}

// Fields the API server sets, removed from every object.
var serverSetMetadata = []string{
	"uid", "resourceVersion", "selfLink", "creationTimestamp", "generation",
	"managedFields", "deletionTimestamp", "deletionGracePeriodSeconds",
	// The owners' UIDs change on restore: a stale ownerReference would make
	// the garbage collector delete the restored object. Objects with a
	// controller owner are skipped before this.
	"ownerReferences",
}

// CleanObject removes from obj, an object of resource gr as the API server
// returned it, what the server sets and what cannot be created again: what a
// restore removes before it creates an object (a Service's cluster IPs and
// node ports included, as without --preserve-nodeports), and what `ark backup
// diff` ignores when it compares a backup with the cluster.
func CleanObject(gr schema.GroupResource, obj *unstructured.Unstructured) {
	cleanObject(gr, obj)
	if gr.String() == "services" {
		cleanService(obj, false)
	}
}

// cleanService drops a Service's cluster IPs (the cluster assigns new ones;
// a headless Service keeps "None") and, unless preserveNodePorts, its node
// ports.
func cleanService(obj *unstructured.Unstructured, preserveNodePorts bool) {
	if ip, _, _ := unstructured.NestedString(obj.Object, "spec", "clusterIP"); ip != "None" {
		unstructured.RemoveNestedField(obj.Object, "spec", "clusterIP")
		unstructured.RemoveNestedField(obj.Object, "spec", "clusterIPs")
	}
	if !preserveNodePorts {
		dropNodePorts(obj)
	}
}

// RecreatedByController says whether obj has a controller owner
// (ownerReference with controller: true) that makes it again, so that a
// restore skips it when the owner is restored or present (skipReason). PVs
// and PVCs never are: they hold data.
func RecreatedByController(gr schema.GroupResource, obj *unstructured.Unstructured) bool {
	switch gr.String() {
	case "persistentvolumes", "persistentvolumeclaims":
		return false
	}
	for _, o := range obj.GetOwnerReferences() {
		if o.Controller != nil && *o.Controller {
			return true
		}
	}
	return false
}

// cleanObject removes what the server sets and what cannot be created again.
// status goes too, except on custom resources (groups that are not
// Kubernetes' own), where without a status subresource it is ordinary data
// the server keeps, and with one the server ignores it anyway.
func cleanObject(gr schema.GroupResource, obj *unstructured.Unstructured) {
	for _, f := range serverSetMetadata {
		unstructured.RemoveNestedField(obj.Object, "metadata", f)
	}
	if isBuiltinGroup(gr.Group) {
		delete(obj.Object, "status")
	}
}

func isBuiltinGroup(g string) bool {
	return g == "" || !strings.Contains(g, ".") || strings.HasSuffix(g, ".k8s.io")
}

func setRestoreLabel(obj *unstructured.Unstructured, restore string) {
	l := obj.GetLabels()
	if l == nil {
		l = map[string]string{}
	}
	l[format.RestoreNameLabel] = label.ValidValue(restore)
	obj.SetLabels(l)
}

// transform applies the changes one resource needs. It returns extra log
// key-values, or a reason to skip the item (warn: the user should hear of it).
func (s *run) transform(ctx context.Context, gr schema.GroupResource, obj *unstructured.Unstructured) (extra []any, skip string, warn bool, err error) {
	o := obj.Object
	switch gr.String() {
	case "services":
		cleanService(obj, s.preserveNodePorts())
	case "configmaps":
		if obj.GetName() == rootCAConfigMap {
			s.prepareRootCA(ItemRef{Resource: gr.String(), Namespace: obj.GetNamespace(), Name: obj.GetName()}, obj)
		}
	case "persistentvolumes":
		return s.transformPV(ctx, obj)
	case "persistentvolumeclaims":
		ann := obj.GetAnnotations()
		for _, k := range []string{"pv.kubernetes.io/bind-completed", "pv.kubernetes.io/bound-by-controller", "volume.kubernetes.io/selected-node"} {
			delete(ann, k)
		}
		if ann != nil {
			obj.SetAnnotations(ann)
		}
		vol, _, _ := unstructured.NestedString(o, "spec", "volumeName")
		if v, ok := s.claimVolumes.Load(vol); ok && vol != "" {
			info := v.(*arkv1.VolumeBackupInfo)
			out, err := s.opts.VolumeRestorer.(ClaimRestorer).RestoreClaim(ctx, obj.DeepCopy(), vol, info)
			if err != nil {
				return nil, "", false, fmt.Errorf("restoring the volume of PV %s from snapshot %s: %w", vol, info.SnapshotID, err)
			}
			if out == nil {
				return nil, "", false, fmt.Errorf("the volume restorer returned no claim for PV %s", vol)
			}
			obj.Object = out.Object
			return []any{"pv", vol, "snapshotID", info.SnapshotID}, "", false, nil
		}
		if vol != "" && !s.pvPresent(ctx, vol) {
			unstructured.RemoveNestedField(o, "spec", "volumeName")
			extra = append(extra, "droppedVolumeName", vol)
		}
	case "secrets":
		if isServiceAccountToken(obj) {
			// Bound to the old service account's UID and signed by the old
			// cluster's key: the token controller fills in a new token for
			// the restored service account.
			ann := obj.GetAnnotations()
			delete(ann, "kubernetes.io/service-account.uid")
			obj.SetAnnotations(ann)
			unstructured.RemoveNestedField(o, "data", "token")
		}
	case "pods":
		unstructured.RemoveNestedField(o, "spec", "nodeName")
		unstructured.RemoveNestedField(o, "spec", "priority")
		unstructured.RemoveNestedField(o, "spec", "ephemeralContainers")
	case "jobs.batch":
		if manual, _, _ := unstructured.NestedBool(o, "spec", "manualSelector"); !manual {
			unstructured.RemoveNestedField(o, "spec", "selector")
			for _, k := range []string{"controller-uid", "batch.kubernetes.io/controller-uid"} {
				unstructured.RemoveNestedField(o, "spec", "template", "metadata", "labels", k)
			}
		}
	}
	return extra, "", false, nil
}

// pvPresent says whether the PV is in the cluster: restored or found
// existing by this restore, or there already.
func (s *run) pvPresent(ctx context.Context, name string) bool {
	if _, ok := s.pvs.Load(name); ok {
		return true
	}
	return s.pvExists(ctx, name)
}

func (s *run) pvExists(ctx context.Context, name string) bool {
	// Read as the server: whether the volume exists decides how its claim is
	// restored, and a namespace admin may not get volumes.
	_, err := s.Restorer.client.Resource(schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumes"}).Get(ctx, name, metav1.GetOptions{})
	return err == nil
}

// transformPV cleans a PV's claimRef and, if the backup has a snapshot of it
// and the restore wants volumes, has the VolumeRestorer make its volume. A
// restorer that returns no PV restores the volume through the claim instead
// (it must be a ClaimRestorer): the PV is skipped and its claim, restored
// after it, is rewritten by RestoreClaim.
//
// A PV without a restored snapshot is restored as it was (pointing at its
// original volume) unless its reclaim policy is Delete: its volume was then
// most likely deleted with its claim, so it is skipped with a warning and the
// claim is provisioned anew.
func (s *run) transformPV(ctx context.Context, obj *unstructured.Unstructured) (extra []any, skip string, warn bool, err error) {
	o := obj.Object
	if _, ok, _ := unstructured.NestedMap(o, "spec", "claimRef"); ok {
		unstructured.RemoveNestedField(o, "spec", "claimRef", "uid")
		unstructured.RemoveNestedField(o, "spec", "claimRef", "resourceVersion")
		if ns, _, _ := unstructured.NestedString(o, "spec", "claimRef", "namespace"); ns != "" {
			_ = unstructured.SetNestedField(o, s.mapNamespace(ns), "spec", "claimRef", "namespace")
		}
	}
	info := s.backup.Status.VolumeBackups[obj.GetName()]
	if info != nil && s.restorePVs && s.restore.Spec.DryRun {
		// No volume is made in a dry run: the PV is checked as backed up.
		return []any{"snapshotID", info.SnapshotID}, "", false, nil
	}
	if info != nil && s.restorePVs {
		if s.opts.VolumeRestorer == nil {
			return nil, "", false, fmt.Errorf("the backup has snapshot %s of it, but no volume restorer is configured (Config persistentVolumeProvider): its data cannot be restored", info.SnapshotID)
		}
		out, err := s.opts.VolumeRestorer.RestoreVolume(ctx, obj.DeepCopy(), info)
		if err != nil {
			return nil, "", false, fmt.Errorf("restoring its volume from snapshot %s: %w", info.SnapshotID, err)
		}
		if out == nil {
			// The volume comes back through its claim (CSI: provisioned
			// from a VolumeSnapshot); see restoreClaim.
			if _, ok := s.opts.VolumeRestorer.(ClaimRestorer); !ok {
				return nil, "", false, errors.New("the volume restorer returned no PV and cannot restore claims")
			}
			s.claimVolumes.Store(obj.GetName(), info)
			return nil, "its volume is restored through its claim, from snapshot " + info.SnapshotID, false, nil
		}
		obj.Object = out.Object
		return []any{"snapshotID", info.SnapshotID}, "", false, nil
	}
	if policy, _, _ := unstructured.NestedString(o, "spec", "persistentVolumeReclaimPolicy"); policy == "Delete" {
		why := "no snapshot of it in the backup"
		if info != nil {
			why = "restorePVs is false"
		}
		return nil, why + " and its reclaim policy is Delete: its volume is likely gone", true, nil
	}
	return nil, "", false, nil
}

// namespaceState is the creation of one target namespace, done once.
type namespaceState struct {
	once    sync.Once
	created bool
	// fromItem is the backup's Namespace object it was created from, if any.
	fromItem *archiveItem
	err      error
}

func (s *run) nsState(name string) *namespaceState {
	s.nsMu.Lock()
	defer s.nsMu.Unlock()
	e := s.namespaces[name]
	if e == nil {
		e = &namespaceState{}
		s.namespaces[name] = e
	}
	return e
}

// ensureNamespace makes sure the target namespace exists before objects go
// into it: created from the backup's Namespace object for source if it has
// one the filters keep, bare otherwise.
func (s *run) ensureNamespace(ctx context.Context, target, source string) error {
	e := s.nsState(target)
	e.once.Do(func() {
		var obj *unstructured.Unstructured
		it := s.arc.lookup("namespaces", "", source)
		if it != nil && s.resourceIncluded("namespaces") {
			if o, err := s.load(it); err == nil && s.selector.Matches(labels.Set(o.GetLabels())) {
				obj = o
			} else {
				it = nil
			}
		} else {
			it = nil
		}
		s.createNamespace(ctx, e, target, obj, it)
	})
	return e.err
}

// restoreNamespaceItem restores a Namespace object of the backup under its
// mapped name.
func (s *run) restoreNamespaceItem(ctx context.Context, it *archiveItem, ref ItemRef, obj *unstructured.Unstructured) {
	target := s.mapNamespace(it.name)
	e := s.nsState(target)
	ran := false
	e.once.Do(func() {
		ran = true
		s.createNamespace(ctx, e, target, obj, it)
	})
	switch {
	case ran:
	case e.fromItem == it:
		// Restored earlier, for the objects in it; already recorded.
	case e.err != nil:
		s.failed(ref, "create: %v", e.err)
	case e.created:
		s.skipped(ref, "namespace "+target+" already restored from another namespace of the backup")
	default:
		s.existing(ref)
	}
}

// createNamespace creates the target namespace from obj (a Namespace of the
// backup, it) or bare, and records the outcome.
func (s *run) createNamespace(ctx context.Context, e *namespaceState, target string, obj *unstructured.Unstructured, it *archiveItem) {
	ref := ItemRef{Resource: "namespaces", Name: target}
	if obj == nil {
		obj = &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace"}}
	}
	obj.SetName(target)
	cleanObject(schema.GroupResource{Resource: "namespaces"}, obj)
	if l := obj.GetLabels(); l != nil {
		if _, ok := l["kubernetes.io/metadata.name"]; ok {
			l["kubernetes.io/metadata.name"] = target
			obj.SetLabels(l)
		}
	}
	setRestoreLabel(obj, s.restore.Name)
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	_, err := s.client.Resource(gvr).Create(ctx, obj, s.createOptions())
	if apierrors.IsForbidden(err) && s.namespaceExists(ctx, target) {
		// A requester who may not create namespaces is refused before the
		// API server looks whether it exists: theirs does.
		err = apierrors.NewAlreadyExists(gvr.GroupResource(), target)
	}
	switch {
	case err == nil:
		e.created = true
		e.fromItem = it
		if it != nil {
			s.restored(ref)
		} else {
			if s.opts.ListItems {
				s.col.add(func(r *Result) { r.Items = append(r.Items, ref) })
			}
			s.dryNote(wouldCreate, ref, "not in the backup (or left out by the filters): made for the objects restored into it")
			s.log.Item(slog.LevelInfo, "namespace created (not in the backup, or left out by the filters)", ref.Resource, ref.Namespace, ref.Name)
		}
	case apierrors.IsAlreadyExists(err):
		e.fromItem = it
		if it != nil {
			s.onExisting(ctx, gvr, ref, obj)
		}
	default:
		e.err = err
		e.fromItem = it
		if it != nil {
			s.failed(ref, "create: %v", err)
		}
	}
}

func isServiceAccountToken(obj *unstructured.Unstructured) bool {
	t, _, _ := unstructured.NestedString(obj.Object, "type")
	return t == "kubernetes.io/service-account-token"
}

// deferredItem is an item whose restore waits for a later tier.
type deferredItem struct {
	it  *archiveItem
	gvr schema.GroupVersionResource
	api metav1.APIResource
}

// restoreDeferred restores the items deferred so far.
func (s *run) restoreDeferred(ctx context.Context) {
	s.deferMu.Lock()
	items := s.deferred
	s.deferred = nil
	s.deferMu.Unlock()
	for _, d := range items {
		if ctx.Err() != nil {
			return
		}
		s.restoreItem(ctx, d.it, d.gvr, d.api, nil)
	}
}

// ownerWhere says where a controller owner of the item is: "in the backup"
// if this restore restores it (as far as the resource and namespace filters
// tell), "in the cluster" if it is there already, "" if neither. An owner
// whose kind discovery does not know is taken to be present.
func (s *run) ownerWhere(ctx context.Context, it *archiveItem, o metav1.OwnerReference) string {
	gv, err := schema.ParseGroupVersion(o.APIVersion)
	if err != nil {
		return "unknown apiVersion"
	}
	name := strings.ToLower(o.Kind)
	if gv.Group != "" {
		name += "." + gv.Group
	}
	gvr, api, err := s.discovery.ResolveResource(name)
	if err != nil {
		return "kind not served"
	}
	dir := gvr.GroupResource().String()
	ns := ""
	if api.Namespaced {
		ns = it.namespace
	}
	if s.arc.lookup(dir, ns, o.Name) != nil && neverRestored(gvr.GroupResource()) == "" && s.resourceIncluded(dir) && (ns == "" || s.namespaceFilter.ShouldInclude(ns)) {
		return "in the backup"
	}
	key := dir + "|" + ns + "|" + o.Name
	if v, ok := s.owners.Load(key); ok {
		return v.(string)
	}
	where := "in the cluster"
	// Read as the server: it only decides whether the item is skipped.
	_, err = s.Restorer.client.Resource(gvr).Namespace(s.mapNamespace(ns)).Get(ctx, o.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		where = ""
	}
	s.owners.Store(key, where)
	return where
}
