package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/dynamic"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/authz"
	"github.com/heptio/ark/pkg/discovery"
	"github.com/heptio/ark/pkg/format"
	"github.com/heptio/ark/pkg/oplog"
	"github.com/heptio/ark/pkg/util/collections"
)

const (
	// csiSnapshotGroup is the API group of CSI VolumeSnapshots and their contents.
	csiSnapshotGroup = "snapshot.storage.k8s.io"
	// BackupNameTag is the tag, on every volume snapshot, naming its backup.
	BackupNameTag = arkv1.GroupName + "/backup"
	// PVNameTag is the tag, on every volume snapshot, naming its persistent volume.
	PVNameTag = arkv1.GroupName + "/pv"

	// DefaultPageSize is how many objects one list request asks for.
	DefaultPageSize = 500
	// progressEvery is how many items are written between progress reports.
	progressEvery = 100
	// hookOutputLimit caps how much of a hook's stdout and stderr is logged.
	hookOutputLimit = 2048
)

var (
	namespacesGR = schema.GroupResource{Resource: "namespaces"}
	pvsGR        = schema.GroupResource{Resource: "persistentvolumes"}
	pvcsGR       = schema.GroupResource{Resource: "persistentvolumeclaims"}
	podsGR       = schema.GroupResource{Resource: "pods"}
	crdsGR       = schema.GroupResource{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"}
	// skippedUnlessListed are left out unless includedResources names them.
	skippedUnlessListed = sets.New("events", "events.events.k8s.io")
)

// Backupper runs backups. It is safe for concurrent use.
type Backupper struct {
	discovery   DiscoveryHelper
	client      dynamic.Interface
	podExec     PodCommandExecutor
	snapshotter VolumeSnapshotter
	clock       clock.PassiveClock
	pageSize    int64
	raw         RawLister // nil: list through the dynamic client
	// acting gives each backup the clients it acts through (nil: the ones above).
	acting func(*arkv1.Backup) (*Acting, error)
}

// Option configures a Backupper.
type Option func(*Backupper)

// WithPageSize sets how many objects one list request asks for (default
// DefaultPageSize).
func WithPageSize(n int64) Option {
	return func(b *Backupper) {
		if n > 0 {
			b.pageSize = n
		}
	}
}

// NewBackupper returns a Backupper. podExec runs hooks (nil: every hook fails
// with an error); snapshotter snapshots volumes (nil: no persistentVolumeProvider
// is configured, and every volume gets a warning instead of a snapshot); clk
// stamps the log and the tarball entries (nil: the real clock).
func NewBackupper(helper DiscoveryHelper, client dynamic.Interface, podExec PodCommandExecutor, snapshotter VolumeSnapshotter, clk clock.PassiveClock, opts ...Option) *Backupper {
	if clk == nil {
		clk = clock.RealClock{}
	}
	b := &Backupper{
		discovery:   helper,
		client:      client,
		podExec:     podExec,
		snapshotter: snapshotter,
		clock:       clk,
		pageSize:    DefaultPageSize,
	}
	for _, o := range opts {
		o(b)
	}
	return b
}

// Result is what a backup did.
type Result struct {
	// FormatVersion is the tarball's format version (format.FormatVersion).
	FormatVersion int
	// ResourceVersion is the cluster resourceVersion every resource was listed at.
	ResourceVersion string
	// InconsistentResources lists the resources ("resource.group") that were
	// listed fresh instead of at ResourceVersion, sorted.
	InconsistentResources []string
	// Warnings holds one message per warning; len(Warnings) is the count.
	Warnings []string
	// Errors holds one message per item error; len(Errors) is the count. A
	// backup with errors is PartiallyFailed.
	Errors []string
	// ItemsBackedUp is the number of objects written to the tarball.
	ItemsBackedUp int
	// ResourceList names the objects written to the tarball, by kind (names only: it is
	// uploaded beside the tarball for `ark backup describe --details`).
	ResourceList format.ResourceList
	// VolumeBackups maps each snapshotted persistent volume to its snapshot.
	VolumeBackups map[string]*arkv1.VolumeBackupInfo
	// VolumeSnapshotsFailed counts the snapshots that failed (each is also in Errors).
	VolumeSnapshotsFailed int
	// LeftOut names what was left out because the requester may not read it
	// (each is also in Warnings).
	LeftOut []string
}

// ApplyTo copies the result into a backup's status: version, resourceVersion,
// inconsistent resources, warning and error counts, volume backups and the
// final progress. It does not set the phase.
func (r *Result) ApplyTo(status *arkv1.BackupStatus) {
	status.Version = r.FormatVersion
	status.ResourceVersion = r.ResourceVersion
	status.InconsistentResources = append([]string(nil), r.InconsistentResources...)
	status.LeftOut = append([]string(nil), r.LeftOut...)
	status.Warnings = len(r.Warnings)
	status.Errors = len(r.Errors)
	status.VolumeSnapshotsFailed = r.VolumeSnapshotsFailed
	if len(r.VolumeBackups) > 0 {
		status.VolumeBackups = make(map[string]*arkv1.VolumeBackupInfo, len(r.VolumeBackups))
		for k, v := range r.VolumeBackups {
			status.VolumeBackups[k] = v.DeepCopy()
		}
	}
	status.Progress = &arkv1.BackupProgress{TotalItems: r.ItemsBackedUp, ItemsBackedUp: r.ItemsBackedUp}
}

// Backup backs up what backup.Spec selects: it streams the gzipped tarball to
// contents (which it does not close), writes its log (pkg/oplog: JSON lines) to log
// (may be nil), and calls progress (may be nil) every 100 items and at the
// end.
//
// The error is non-nil when the backup failed as a whole: invalid spec,
// discovery or the first list failing, a write to contents failing, ctx done,
// or a hook with onError Fail failing; the tarball is then unusable. Problems
// with single items (a resource that cannot be listed, a failed hook with
// onError Continue, a failed snapshot) are Result.Errors. The Result is
// returned in both cases.
func (b *Backupper) Backup(ctx context.Context, backup *arkv1.Backup, contents io.Writer, log io.Writer, progress func(arkv1.BackupProgress)) (*Result, error) {
	r := &run{
		b:             b,
		ctx:           ctx,
		logger:        klog.FromContext(ctx).WithValues("backup", klog.KObj(backup)),
		backup:        backup,
		log:           oplog.New(ctx, log, oplog.Backup, backup.Name, b.clock),
		progressFn:    progress,
		result:        &Result{FormatVersion: format.FormatVersion, VolumeBackups: map[string]*arkv1.VolumeBackupInfo{}, ResourceList: format.ResourceList{}},
		pvcVolumes:    map[string]string{},
		boundPVs:      sets.New[string](),
		nsWithItems:   sets.New[string](),
		grWithItems:   sets.New[string](),
		snapshotted:   sets.New[string](),
		inconsistents: sets.New[string](),
	}
	err := r.act()
	if err == nil {
		err = r.do(contents)
	}
	r.result.InconsistentResources = sets.List(r.inconsistents)
	if err != nil {
		r.log.Error("Backup failed", oplog.KeyError, err.Error())
	}
	if lerr := r.log.Err(); lerr != nil {
		r.result.Warnings = append(r.result.Warnings, fmt.Sprintf("writing the backup log: %v", lerr))
	}
	if err != nil {
		return r.result, err
	}
	r.logger.V(1).Info("Backup done", "items", r.result.ItemsBackedUp, "warnings", len(r.result.Warnings), "errors", len(r.result.Errors), "resourceVersion", r.result.ResourceVersion)
	return r.result, nil
}

// run is the state of one backup.
type run struct {
	b   *Backupper
	ctx context.Context
	// currentRaw is the listed JSON of the item being handed to a list callback, if listed raw.
	currentRaw []byte
	// heads are the typeMetaHeads of the resources written so far.
	heads      map[schema.GroupVersionResource][]byte
	logger     klog.Logger
	backup     *arkv1.Backup
	log        *oplog.Log
	tar        *tarWriter
	progressFn func(arkv1.BackupProgress)
	result     *Result

	// The clients the backup lists and runs hooks through, and whom they act
	// as (Acting); nsNames caches the cluster's namespaces.
	client  dynamic.Interface
	raw     RawLister
	podExec PodCommandExecutor
	actor   *authz.Actor
	nsNames []string
	// listable holds what the requester was found to be allowed (true) or
	// refused (false) to do (refused).
	listable map[authz.Access]bool
	// ahead holds the lists started before their turn (lookAhead).
	ahead map[listKey]aheadList

	namespaces      *collections.IncludesExcludes
	resources       *collections.IncludesExcludes
	selector        labels.Selector
	clusterIncluded bool
	snapshots       bool
	hooks           []resourceHooks

	rv            string
	pvResource    *discovery.Resource // nil when persistent volumes are excluded
	totalItems    int
	pvcVolumes    map[string]string // "namespace/claim" of backed-up bound claims -> volume
	boundPVs      sets.Set[string]  // volumes of backed-up bound claims
	nsWithItems   sets.Set[string]  // namespaces with a backed-up item
	grWithItems   sets.Set[string]  // resources ("resource.group") with a backed-up item
	snapshotted   sets.Set[string]  // volumes whose snapshot was attempted
	inconsistents sets.Set[string]
}

// act sets the clients of the backup: its requester's (Acting), or the server's.
func (r *run) act() error {
	r.client, r.raw, r.podExec = r.b.client, r.b.raw, r.b.podExec
	if r.b.acting == nil {
		return nil
	}
	a, err := r.b.acting(r.backup)
	if err != nil {
		return err
	}
	r.client, r.raw, r.podExec, r.actor = a.Client, a.Raw, a.PodExec, a.Actor
	if r.checked() {
		r.info(fmt.Sprintf("Listing as the backup's requester %s: what they may not list is left out, with a warning", r.actor), "", "", "", "")
	}
	return nil
}

func (r *run) do(contents io.Writer) error {
	spec := &r.backup.Spec
	r.info("Starting backup", "", "", "", "")

	if err := r.prepare(spec); err != nil {
		return err
	}

	r.tar = newTarWriter(contents, r.b.clock.Now())
	if err := r.tar.writeVersion(); err != nil {
		return err
	}

	// One instant of the cluster: the resourceVersion of a fresh (quorum) list.
	nsClient := r.b.client.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"})
	first, err := nsClient.List(r.ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		return fmt.Errorf("reading the cluster's resourceVersion: %w", err)
	}
	r.rv = first.GetResourceVersion()
	r.result.ResourceVersion = r.rv
	r.info(fmt.Sprintf("Listing every resource at resourceVersion %s", r.rv), "", "", "", "")

	plan := r.plan()
	r.checkLists(plan)
	defer r.stopLookAhead()
	for i, res := range plan {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		r.lookAhead(plan[i+1:])
		if err := r.backupResource(res); err != nil {
			return err
		}
	}
	if err := r.tar.close(); err != nil {
		return err
	}
	r.reportProgress(true)
	r.info(fmt.Sprintf("Backup done: %d items, %d warnings, %d errors", r.result.ItemsBackedUp, len(r.result.Warnings), len(r.result.Errors)), "", "", "", "")
	return nil
}

// prepare validates the spec, refreshes discovery and builds the filters.
func (r *run) prepare(spec *arkv1.BackupSpec) error {
	var problems []string
	for _, e := range collections.ValidateIncludesExcludes(spec.IncludedNamespaces, spec.ExcludedNamespaces) {
		problems = append(problems, "namespaces: "+e.Error())
	}
	for _, e := range collections.ValidateIncludesExcludes(spec.IncludedResources, spec.ExcludedResources) {
		problems = append(problems, "resources: "+e.Error())
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid backup spec: %s", strings.Join(problems, "; "))
	}
	var err error
	r.selector = labels.Everything()
	if spec.LabelSelector != nil {
		if r.selector, err = metav1.LabelSelectorAsSelector(spec.LabelSelector); err != nil {
			return fmt.Errorf("invalid backup spec: labelSelector: %w", err)
		}
	}
	if r.hooks, err = parseHooks(spec.Hooks); err != nil {
		return fmt.Errorf("invalid backup spec: %w", err)
	}

	if err := r.b.discovery.Refresh(r.ctx); err != nil {
		return fmt.Errorf("discovering the server's resources: %w", err)
	}
	failed := r.b.discovery.FailedGroups()
	gvs := make([]schema.GroupVersion, 0, len(failed))
	for gv := range failed {
		gvs = append(gvs, gv)
	}
	sort.Slice(gvs, func(i, j int) bool { return gvs[i].String() < gvs[j].String() })
	for _, gv := range gvs {
		r.warn("API group version unavailable: its resources are not in the backup", gv.String(), "", "", "discovery failed", failed[gv])
	}

	if r.resources, err = collections.ResolveResources(r.b.discovery, spec.IncludedResources, spec.ExcludedResources); err != nil {
		return fmt.Errorf("invalid backup spec: %w", err)
	}
	r.namespaces = collections.NewIncludesExcludes(spec.IncludedNamespaces, spec.ExcludedNamespaces)
	if spec.IncludeClusterResources != nil {
		r.clusterIncluded = *spec.IncludeClusterResources
	} else {
		r.clusterIncluded = r.namespaces.IncludesAll()
	}
	r.snapshots = spec.ShouldSnapshotVolumes()
	r.info(fmt.Sprintf("Namespaces %s; resources %s; label selector %q; cluster-scoped resources: %v",
		r.namespaces, r.resources, r.selector.String(), r.clusterIncluded), "", "", "", "")
	return nil
}

// plan returns the resources to list, in order: persistent volume claims
// first (pods need their volumes), then the others by name, then custom
// resource definitions, persistent volumes and namespaces, which are taken
// also for their relations to what came before.
func (r *run) plan() []discovery.Resource {
	var claims, middle, last []discovery.Resource
	var crds, pvs, nss *discovery.Resource
	for _, res := range r.b.discovery.Resources() {
		gr := res.GroupResource()
		name := gr.String()
		if !res.HasVerb("list") {
			r.info("Resource skipped", name, "", "", "it does not support list")
			continue
		}
		switch gr {
		case pvcsGR:
			if r.resources.ShouldInclude(name) {
				claims = append(claims, res)
			} else {
				r.info("Resource skipped", name, "", "", "not selected by the resource filter")
			}
			continue
		case pvsGR:
			res := res
			pvs = &res
			continue
		case crdsGR:
			res := res
			crds = &res
			continue
		case namespacesGR:
			res := res
			nss = &res
			continue
		}
		if reason := r.resourceSkipReason(res); reason != "" {
			r.info("Resource skipped", name, "", "", reason)
			continue
		}
		middle = append(middle, res)
	}
	sort.SliceStable(middle, func(i, j int) bool {
		return middle[i].GroupResource().String() < middle[j].GroupResource().String()
	})
	if crds != nil {
		if r.resources.IsExcluded(crdsGR.String()) {
			r.info("Resource skipped", crdsGR.String(), "", "", "excluded by the resource filter")
		} else {
			last = append(last, *crds)
		}
	}
	if pvs != nil {
		if r.resources.IsExcluded(pvsGR.String()) {
			r.info("Resource skipped", pvsGR.String(), "", "", "excluded by the resource filter")
		} else {
			last = append(last, *pvs)
			r.pvResource = pvs
		}
	}
	if nss != nil {
		if r.resources.IsExcluded(namespacesGR.String()) {
			r.info("Resource skipped", namespacesGR.String(), "", "", "excluded by the resource filter")
		} else {
			last = append(last, *nss)
		}
	}
	return append(append(claims, middle...), last...)
}

// resourceSkipReason says why a resource other than claims, volumes and
// namespaces is not backed up, or "" if it is.
func (r *run) resourceSkipReason(res discovery.Resource) string {
	name := res.GroupResource().String()
	if !r.resources.ShouldInclude(name) {
		return "not selected by the resource filter"
	}
	if (skippedUnlessListed.Has(name) || res.GVR.Group == arkv1.GroupName) && !r.resources.IsExplicitlyIncluded(name) {
		return "left out unless includedResources names it"
	}
	if !res.API.Namespaced && !r.clusterIncluded {
		return "cluster-scoped resources are not included"
	}
	return ""
}

// backupResource lists one resource and writes its selected items.
func (r *run) backupResource(res discovery.Resource) error {
	gr := res.GroupResource()
	switch gr {
	case pvsGR:
		return r.backupPersistentVolumes(res)
	case namespacesGR:
		return r.backupNamespaces(res)
	case crdsGR:
		return r.backupCRDs(res)
	}
	selector := r.selector.String()
	if !res.API.Namespaced {
		switch ok, err := r.mayList(res, ""); {
		case err != nil:
			r.fail("Resource not backed up", gr.String(), "", "", "what its requester may list could not be checked", err)
			return nil
		case !ok:
			r.warn("Resource left out: its requester may not list it", gr.String(), "", "", fmt.Sprintf("%s may not list it", r.actor), nil)
			r.result.LeftOut = append(r.result.LeftOut, gr.String())
			return nil
		}
		return r.list(res, "", selector, "", func(obj *unstructured.Unstructured) error {
			return r.backupItem(res, obj)
		})
	}
	// Namespaced: one list per named namespace, or one list of all of them
	// (as a requester: only where they may list it).
	scopes, err := r.namespaceScopes(res)
	if err != nil {
		r.fail("Resource not backed up", gr.String(), "", "", "what its requester may list could not be checked", err)
		return nil
	}
	for _, ns := range scopes {
		err := r.list(res, ns, selector, "", func(obj *unstructured.Unstructured) error {
			if !r.namespaces.ShouldInclude(obj.GetNamespace()) {
				r.info("Item skipped", gr.String(), obj.GetNamespace(), obj.GetName(), "namespace not selected")
				return nil
			}
			return r.backupItem(res, obj)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// backupPersistentVolumes writes the volumes of backed-up claims, and all
// volumes matching the selector when cluster-scoped resources are included.
func (r *run) backupPersistentVolumes(res discovery.Resource) error {
	all := r.clusterIncluded && r.resources.ShouldInclude(pvsGR.String())
	if !all && r.boundPVs.Len() == 0 {
		r.info("Resource skipped", pvsGR.String(), "", "", "no backed-up claim is bound and cluster-scoped persistent volumes are not included")
		return nil
	}
	take := func(pv *unstructured.Unstructured) error {
		if err := r.backupItem(res, pv); err != nil {
			return err
		}
		return r.snapshotVolume(pv)
	}
	if ok, err := r.mayList(res, ""); err != nil || !ok {
		// As a requester who may not list volumes: those of their claims, one by one.
		if all {
			r.result.LeftOut = append(r.result.LeftOut, pvsGR.String()+" (all but those of backed-up objects)")
			r.warn("Resource left out: its requester may not list it", pvsGR.String(), "", "", fmt.Sprintf("%s may not list persistent volumes; only those bound to backed-up claims are taken, if they may get them", r.actor), err)
		}
		claims := map[string]string{}
		for claim, volume := range r.pvcVolumes {
			claims[volume] = claim
		}
		return r.getEach(res, sets.List(r.boundPVs), func(name string) string {
			return fmt.Sprintf("%s may not get persistent volumes: the volume of claim %s is not in the backup and is not snapshotted", r.actor, claims[name])
		}, take)
	}
	return r.list(res, "", "", "", func(pv *unstructured.Unstructured) error {
		switch {
		case r.boundPVs.Has(pv.GetName()):
		case all && r.selector.Matches(labels.Set(pv.GetLabels())):
		default:
			r.info("Item skipped", pvsGR.String(), "", pv.GetName(), "not bound to a backed-up claim")
			return nil
		}
		return take(pv)
	})
}

// backupCRDs writes the definitions of the custom resources with backed-up
// items, and all definitions matching the selector when cluster-scoped
// resources are included. A definition is named <plural>.<group>, the
// name of its resource's directory.
func (r *run) backupCRDs(res discovery.Resource) error {
	all := r.clusterIncluded && r.resources.ShouldInclude(crdsGR.String())
	if ok, err := r.mayList(res, ""); err != nil || !ok {
		// As a requester who may not list definitions: those of their custom
		// resources (resources of groups outside Kubernetes'), one by one.
		if all {
			r.result.LeftOut = append(r.result.LeftOut, crdsGR.String()+" (all but those of backed-up objects)")
			r.warn("Resource left out: its requester may not list it", crdsGR.String(), "", "", fmt.Sprintf("%s may not list custom resource definitions; only those of backed-up custom resources are taken, if they may get them", r.actor), err)
		}
		var names []string
		for gr := range r.grWithItems {
			if g := schema.ParseGroupResource(gr).Group; strings.Contains(g, ".") && !strings.HasSuffix(g, ".k8s.io") {
				names = append(names, gr)
			}
		}
		return r.getEach(res, names, func(string) string {
			return fmt.Sprintf("%s may not get custom resource definitions: a restore needs the definition in the cluster first", r.actor)
		}, func(crd *unstructured.Unstructured) error { return r.backupItem(res, crd) })
	}
	return r.list(res, "", "", "", func(crd *unstructured.Unstructured) error {
		switch {
		case r.grWithItems.Has(crd.GetName()):
		case all && r.selector.Matches(labels.Set(crd.GetLabels())):
		default:
			r.info("Item skipped", crdsGR.String(), "", crd.GetName(), "no backed-up custom resource of this definition")
			return nil
		}
		return r.backupItem(res, crd)
	})
}

// backupNamespaces writes the namespaces with backed-up items, and those the
// namespace filter selects (see the package documentation).
func (r *run) backupNamespaces(res discovery.Resource) error {
	selectedToo := r.resources.ShouldInclude(namespacesGR.String()) && (r.clusterIncluded || !r.namespaces.IncludesAll())
	if ok, err := r.mayList(res, ""); err != nil || !ok {
		// As a requester who may not list namespaces: those with backed-up
		// items and those named, one by one (a namespace admin may get theirs).
		names := sets.List(r.nsWithItems)
		if selectedToo {
			for _, ns := range r.namespaces.Includes() {
				if ns != collections.All && r.namespaces.ShouldInclude(ns) && !r.nsWithItems.Has(ns) {
					names = append(names, ns)
				}
			}
		}
		return r.getEach(res, names, func(string) string {
			return fmt.Sprintf("%s may not get this namespace: a restore creates it bare", r.actor)
		}, func(ns *unstructured.Unstructured) error {
			if !r.nsWithItems.Has(ns.GetName()) && !r.selector.Matches(labels.Set(ns.GetLabels())) {
				return nil
			}
			return r.backupItem(res, ns)
		})
	}
	return r.list(res, "", "", "", func(ns *unstructured.Unstructured) error {
		name := ns.GetName()
		switch {
		case r.nsWithItems.Has(name):
		case selectedToo && r.namespaces.ShouldInclude(name) && r.selector.Matches(labels.Set(ns.GetLabels())):
		default:
			r.info("Item skipped", namespacesGR.String(), "", name, "namespace not selected and without backed-up items")
			return nil
		}
		return r.backupItem(res, ns)
	})
}

// backupItem writes one object, running the hooks of pods around it and
// recording what claims, volumes and namespaces it brings along.
func (r *run) backupItem(res discovery.Resource, obj *unstructured.Unstructured) error {
	gr := res.GroupResource()
	ns, name := obj.GetNamespace(), obj.GetName()
	if !res.API.Namespaced {
		ns = ""
	}
	if !validPathSegment(name) || (ns != "" && !validPathSegment(ns)) {
		r.fail("Item not backed up", gr.String(), ns, name, "its name cannot be a file name", nil)
		return nil
	}
	path := format.ItemPath(gr, ns, name)
	if r.tar.has(path) {
		return nil // already written (a relisted page, or taken for a relation)
	}
	// The CSI provider's own snapshots of earlier backups are not application
	// state: restoring them would snapshot the restored claims again.
	if gr.Group == csiSnapshotGroup && obj.GetLabels()[BackupNameTag] != "" {
		r.info("Item skipped", gr.String(), ns, name, "a volume snapshot ark made for backup "+obj.GetLabels()[BackupNameTag])
		return nil
	}
	// The listed bytes of this item, if it was listed raw: written as they are.
	raw := r.currentRaw
	r.currentRaw = nil
	hadTypeMeta := obj.GetAPIVersion() != "" && obj.GetKind() != ""
	obj.SetAPIVersion(res.GVR.GroupVersion().String())
	obj.SetKind(res.API.Kind)

	isPod := gr == podsGR
	if isPod {
		if err := r.runHooks(obj, hookPre); err != nil {
			return err
		}
	}

	var head, data []byte
	if raw != nil {
		head, data = withTypeMeta(raw, hadTypeMeta, r.typeMetaHead(res))
	} else {
		var err error
		if data, err = json.Marshal(obj.Object); err != nil {
			r.fail("Item not backed up", gr.String(), ns, name, "it cannot be encoded", err)
			return nil
		}
	}
	if err := r.tar.writeFile(path, head, data); err != nil {
		return err
	}
	r.result.ItemsBackedUp++
	key := format.ResourceListKey(obj.GetAPIVersion(), obj.GetKind())
	r.result.ResourceList[key] = append(r.result.ResourceList[key], format.ResourceListEntry(ns, name))
	r.log.Item(slog.LevelInfo, "Item backed up", gr.String(), ns, name)
	if ns != "" {
		r.nsWithItems.Insert(ns)
	}
	r.grWithItems.Insert(gr.String())
	if gr == pvcsGR {
		r.recordClaim(obj)
	}
	r.reportProgress(false)

	if isPod {
		if err := r.snapshotPodVolumes(obj); err != nil {
			return err
		}
		if err := r.runHooks(obj, hookPost); err != nil {
			return err
		}
	}
	return nil
}

// typeMetaHead returns res's typeMetaHead, made once per resource of the
// backup (a map keyed by the resource: no allocation per item).
func (r *run) typeMetaHead(res discovery.Resource) []byte {
	if h, ok := r.heads[res.GVR]; ok {
		return h
	}
	h := typeMetaHead(res.GVR.GroupVersion().String(), res.API.Kind)
	if r.heads == nil {
		r.heads = map[schema.GroupVersionResource][]byte{}
	}
	r.heads[res.GVR] = h
	return h
}

// recordClaim remembers the volume of a bound claim.
func (r *run) recordClaim(pvc *unstructured.Unstructured) {
	volume, _, _ := unstructured.NestedString(pvc.Object, "spec", "volumeName")
	phase, _, _ := unstructured.NestedString(pvc.Object, "status", "phase")
	if volume == "" || phase != "Bound" {
		return
	}
	r.pvcVolumes[pvc.GetNamespace()+"/"+pvc.GetName()] = volume
	r.boundPVs.Insert(volume)
}

// list pages through one resource (in one namespace, or all) at the backup's
// resourceVersion, falling back to a fresh list if that fails; fn sees every
// item. A resource that cannot be listed at all is an item error. The next
// page is fetched while fn works through the current one.
func (r *run) list(res discovery.Resource, namespace, labelSelector, fieldSelector string, fn func(*unstructured.Unstructured) error) error {
	gr := res.GroupResource().String()
	listPage := r.pageLister(res, namespace)
	exact := r.exactOptions(labelSelector)
	exact.FieldSelector = fieldSelector
	consistent := true
	firstPage := true
	r.logger.V(2).Info("Listing resource", "resource", gr, "namespace", namespace)

	stop := func() {}
	defer func() { stop() }()
	fetch := func(opts metav1.ListOptions) <-chan page {
		stop()
		ctx, cancel := context.WithCancel(r.ctx)
		stop = cancel
		return fetchPages(ctx, listPage, opts)
	}
	var pages <-chan page
	key := listKey{gvr: res.GVR, namespace: namespace, labelSelector: labelSelector}
	if ahead, ok := r.ahead[key]; ok && fieldSelector == "" {
		delete(r.ahead, key)
		pages, stop = ahead.pages, ahead.stop
	} else {
		pages = fetch(exact)
	}
	for {
		p, ok := <-pages
		if !ok {
			return r.ctx.Err()
		}
		if p.err != nil {
			if ctxErr := r.ctx.Err(); ctxErr != nil {
				return ctxErr
			}
			if !consistent {
				r.fail("Resource not backed up", gr, namespace, "", "it cannot be listed", p.err)
				return nil
			}
			// Relist fresh; items already written are not written again.
			consistent = false
			r.inconsistents.Insert(gr)
			reason := "listing at the backup's resourceVersion failed"
			if apierrors.IsResourceExpired(p.err) || apierrors.IsGone(p.err) {
				reason = "the backup's resourceVersion was compacted"
			}
			r.warn("Resource listed fresh, not at the backup's resourceVersion", gr, namespace, "", reason, p.err)
			pages = fetch(metav1.ListOptions{LabelSelector: labelSelector, FieldSelector: fieldSelector, Limit: r.b.pageSize})
			firstPage = true
			continue
		}
		list := p.list
		if firstPage {
			n := len(list.Items)
			if rem := list.GetRemainingItemCount(); rem != nil {
				n += int(*rem)
			}
			if consistent && fieldSelector == "" {
				r.totalItems += n
			}
			firstPage = false
		}
		for i := range list.Items {
			if p.raw != nil {
				r.currentRaw = p.raw[i]
			}
			err := fn(&list.Items[i])
			r.currentRaw = nil
			if err != nil {
				return err
			}
		}
	}
}

// lookAheadResources is how many of the resources after the one being
// written have their first pages fetched meanwhile. A backup of one
// namespace lists about 30 resources, most of them empty: one after the
// other, their round trips added up to a tenth of the time of a
// 10,000-ConfigMap backup. Each holds at most two pages until its turn.
const lookAheadResources = 4

// listKey names one list of a backup.
type listKey struct {
	gvr                      schema.GroupVersionResource
	namespace, labelSelector string
}

// aheadList is a list started before its turn: its pages, and how to stop it.
type aheadList struct {
	pages <-chan page
	stop  func()
}

// lookAhead starts the lists of the next lookAheadResources resources of
// next that are listed plainly (every resource but claims, volumes,
// definitions and namespaces, whose lists depend on what came before) where
// the requester is known to be allowed to list them; list takes them up.
func (r *run) lookAhead(next []discovery.Resource) {
	if len(next) > lookAheadResources {
		next = next[:lookAheadResources]
	}
	selector := r.selector.String()
	for _, res := range next {
		switch res.GroupResource() {
		case pvcsGR, pvsGR, crdsGR, namespacesGR:
			continue
		}
		scopes, ok := r.knownScopes(res)
		if !ok {
			continue
		}
		for _, ns := range scopes {
			key := listKey{gvr: res.GVR, namespace: ns, labelSelector: selector}
			if _, started := r.ahead[key]; started {
				continue
			}
			if r.ahead == nil {
				r.ahead = map[listKey]aheadList{}
			}
			ctx, cancel := context.WithCancel(r.ctx)
			r.ahead[key] = aheadList{pages: fetchPages(ctx, r.pageLister(res, ns), r.exactOptions(selector)), stop: cancel}
		}
	}
}

// stopLookAhead stops the lists started ahead and not taken up.
func (r *run) stopLookAhead() {
	for k, a := range r.ahead {
		a.stop()
		delete(r.ahead, k)
	}
}

// exactOptions are the options of a list at the backup's resourceVersion.
func (r *run) exactOptions(labelSelector string) metav1.ListOptions {
	return metav1.ListOptions{
		LabelSelector:        labelSelector,
		Limit:                r.b.pageSize,
		ResourceVersion:      r.rv,
		ResourceVersionMatch: metav1.ResourceVersionMatchExact,
	}
}

type page struct {
	list *unstructured.UnstructuredList
	// raw holds each item's JSON as listed, when listed raw and not decoded in
	// full (list.Items then hold only name, namespace and labels).
	raw [][]byte
	err error
}

// listFunc lists one page.
type listFunc func(ctx context.Context, opts metav1.ListOptions) page

// fullItemResources are the resources whose items the engine reads beyond
// their metadata (hooks, claims, volumes, definitions, namespaces): listed raw,
// they are still decoded in full.
var fullItemResources = map[schema.GroupResource]bool{podsGR: true, pvcsGR: true, pvsGR: true, crdsGR: true, namespacesGR: true}

// pageLister returns how to list res in namespace: raw through the RawLister
// when there is one, else through the dynamic client.
func (r *run) pageLister(res discovery.Resource, namespace string) listFunc {
	if r.raw != nil {
		full := fullItemResources[res.GroupResource()]
		return func(ctx context.Context, opts metav1.ListOptions) page {
			data, err := r.raw.ListRaw(ctx, res.GVR, namespace, opts)
			if err != nil {
				return page{err: err}
			}
			p, err := decodeRawPage(data, full)
			if err != nil {
				return page{err: err}
			}
			return p
		}
	}
	var client dynamic.ResourceInterface = r.client.Resource(res.GVR)
	if namespace != "" {
		client = r.client.Resource(res.GVR).Namespace(namespace)
	}
	return func(ctx context.Context, opts metav1.ListOptions) page {
		list, err := client.List(ctx, opts)
		return page{list: list, err: err}
	}
}

// fetchPages lists with opts and then follows the continue tokens, sending
// each page (or the error that ends the listing) on the returned channel,
// which is closed after the last page or when ctx is done. One page is
// fetched ahead of the reader.
func fetchPages(ctx context.Context, listPage listFunc, opts metav1.ListOptions) <-chan page {
	ch := make(chan page, 1)
	go func() {
		defer close(ch)
		for {
			p := listPage(ctx, opts)
			select {
			case ch <- p:
			case <-ctx.Done():
				return
			}
			if p.err != nil || p.list.GetContinue() == "" {
				return
			}
			opts = metav1.ListOptions{LabelSelector: opts.LabelSelector, FieldSelector: opts.FieldSelector, Limit: opts.Limit, Continue: p.list.GetContinue()}
		}
	}()
	return ch
}

func (r *run) reportProgress(final bool) {
	n := r.result.ItemsBackedUp
	if r.progressFn == nil || (!final && n%progressEvery != 0) {
		return
	}
	total := r.totalItems
	if final || total < n {
		total = n
	}
	r.progressFn(arkv1.BackupProgress{TotalItems: total, ItemsBackedUp: n})
}

// Logging helpers: each writes a record to the backup's log (and klog);
// warn and fail also record the message in the result. Empty fields are left
// out; a record with a name is an item record.

func (r *run) record(level slog.Level, msg, resource, namespace, name, reason string, err error) {
	var kv []any
	if reason != "" {
		kv = append(kv, oplog.KeyReason, reason)
	}
	if err != nil {
		kv = append(kv, oplog.KeyError, err.Error())
	}
	if name != "" {
		r.log.Item(level, msg, resource, namespace, name, kv...)
		return
	}
	var where []any
	if resource != "" {
		where = append(where, oplog.KeyResource, resource)
	}
	if namespace != "" {
		where = append(where, oplog.KeyNamespace, namespace)
	}
	r.log.Log(level, msg, append(where, kv...)...)
}

func (r *run) info(msg, resource, namespace, name, reason string) {
	r.record(slog.LevelInfo, msg, resource, namespace, name, reason, nil)
}

func (r *run) warn(msg, resource, namespace, name, reason string, err error) {
	r.record(slog.LevelWarn, msg, resource, namespace, name, reason, err)
	r.result.Warnings = append(r.result.Warnings, describe(msg, resource, namespace, name, reason, err))
}

func (r *run) fail(msg, resource, namespace, name, reason string, err error) {
	r.record(slog.LevelError, msg, resource, namespace, name, reason, err)
	r.result.Errors = append(r.result.Errors, describe(msg, resource, namespace, name, reason, err))
}

// describe renders a warning or error for Result: "msg: resource ns/name: reason: err".
func describe(msg, resource, namespace, name, reason string, err error) string {
	var b strings.Builder
	b.WriteString(msg)
	what := resource
	if namespace != "" || name != "" {
		id := name
		if namespace != "" {
			id = namespace + "/" + name
		}
		what = strings.TrimSpace(what + " " + strings.TrimSuffix(id, "/"))
	}
	if what != "" {
		b.WriteString(": " + what)
	}
	if reason != "" {
		b.WriteString(": " + reason)
	}
	if err != nil {
		b.WriteString(": " + err.Error())
	}
	return b.String()
}

// errHookFailed wraps the error of a hook whose onError is Fail.
var errHookFailed = errors.New("hook failed")
