// Package restore is ark's restore engine: it reads a backup tarball and
// creates its objects in the cluster, in dependency order, with namespaces
// (and the fields that name them) mapped and server-set fields cleaned. An
// existing object is left untouched unless the restore's
// existingResourcePolicy is update.
//
// The engine is pure logic over narrow interfaces (discovery, a dynamic
// client, a volume restorer, a CRD waiter); the restore controller gives it
// the tarball as an io.Reader and uploads the log and Results it produces.
package restore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/clock"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/authz"
	"github.com/heptio/ark/pkg/oplog"
	"github.com/heptio/ark/pkg/util/collections"
)

// Discovery is what the engine needs of the cluster's discovery;
// *discovery.Helper implements it.
type Discovery interface {
	// Refresh reads the server's resources again.
	Refresh(ctx context.Context) error
	// ResolveResource resolves a resource name ("deployments.apps",
	// "configmaps", "pvc") to its preferred group-version-resource.
	ResolveResource(name string) (schema.GroupVersionResource, metav1.APIResource, error)
}

// VolumeRestorer creates a volume from a persistent volume's snapshot and
// returns the PV rewritten to use it (typically a new volume ID).
type VolumeRestorer interface {
	RestoreVolume(ctx context.Context, pv *unstructured.Unstructured, info *arkv1.VolumeBackupInfo) (*unstructured.Unstructured, error)
}

// ClaimRestorer is implemented by a VolumeRestorer that restores some volumes
// through their claims rather than their PVs (CSI: the claim is provisioned
// from a VolumeSnapshot). For such a PV, RestoreVolume returns nil and no
// error; the PV is not restored, and its claim (already in its target
// namespace) is passed to RestoreClaim, whose result is created instead.
// This needs PVs to be restored before PVCs, as by default.
type ClaimRestorer interface {
	RestoreClaim(ctx context.Context, pvc *unstructured.Unstructured, pvName string, info *arkv1.VolumeBackupInfo) (*unstructured.Unstructured, error)
}

// CRDWaiter waits for a CustomResourceDefinition to be Established.
type CRDWaiter interface {
	WaitEstablished(ctx context.Context, name string) error
}

// DefaultResourcePriorities is the order in which resources are restored
// when the Config has no resourcePriorities (the API's default); the others
// follow, sorted by name.
var DefaultResourcePriorities = arkv1.DefaultResourcePriorities

// Defaults of Options.
const (
	DefaultWorkers          = 16
	DefaultCRDTimeout       = 2 * time.Minute
	DefaultProgressInterval = time.Second
)

// Options configure a Restorer. The zero value is valid.
type Options struct {
	// VolumeRestorer restores PVs from their snapshots. Nil: a PV that has a
	// snapshot in the backup is an error (its data cannot be restored) unless
	// the restore sets restorePVs to false.
	VolumeRestorer VolumeRestorer
	// CRDWaiter waits for restored CRDs to be Established. Nil: a waiter
	// polling through the dynamic client.
	CRDWaiter CRDWaiter
	// Workers is the number of items of one resource created in parallel.
	// Default DefaultWorkers.
	Workers int
	// ResourcePriorities is the Config's resourcePriorities. Nil:
	// DefaultResourcePriorities. CRDs come first unless the list names them.
	ResourcePriorities []string
	// Limits bound the tarball's extraction.
	Limits ArchiveLimits
	// TempDir is where the tarball is extracted ("" for os.TempDir()).
	TempDir string
	// CRDTimeout bounds the wait for a restored CRD to be Established and
	// served by discovery. Default DefaultCRDTimeout.
	CRDTimeout time.Duration
	// ProgressInterval is the least time between two progress reports.
	// Default DefaultProgressInterval.
	ProgressInterval time.Duration
	// Clock stamps log records and paces progress reports. Default real.
	Clock clock.Clock
	// ListItems fills Result.Items. Off, the Result only counts them: the
	// server does not keep one ItemRef per object of a large restore.
	ListItems bool
	// Acting returns whom a restore writes as (package authz): the client
	// that creates, updates and reads existing objects (impersonating its
	// requester), and the actor whose permissions are checked before the
	// first write (authorize). An error refuses the restore. Nil: every
	// restore writes through the Restorer's client, unchecked.
	Acting func(*arkv1.Restore) (dynamic.Interface, *authz.Actor, error)
}

// Restorer restores backups. It is safe for concurrent use: each Restore
// keeps its own state.
type Restorer struct {
	discovery Discovery
	client    dynamic.Interface
	opts      Options
}

// NewRestorer returns a Restorer creating objects through client.
func NewRestorer(discovery Discovery, client dynamic.Interface, opts Options) *Restorer {
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.ResourcePriorities == nil {
		opts.ResourcePriorities = DefaultResourcePriorities
	}
	if opts.CRDTimeout <= 0 {
		opts.CRDTimeout = DefaultCRDTimeout
	}
	if opts.ProgressInterval <= 0 {
		opts.ProgressInterval = DefaultProgressInterval
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.CRDWaiter == nil {
		opts.CRDWaiter = NewDynamicCRDWaiter(client, 250*time.Millisecond)
	}
	opts.Limits = opts.Limits.withDefaults()
	return &Restorer{discovery: discovery, client: client, opts: opts}
}

// run is the state of one Restore call.
type run struct {
	*Restorer
	// client is what the restore writes (and reads existing objects) through:
	// its requester's (Options.Acting), or the Restorer's. Observations that
	// decide how items are restored (does a PV exist, is a CRD established,
	// has a quota a status, where is an owner) use Restorer.client, the
	// server's.
	client   dynamic.Interface
	actor    *authz.Actor
	restore  *arkv1.Restore
	backup   *arkv1.Backup
	arc      *archive
	col      *collector
	log      *oplog.Log
	selector labels.Selector
	// namespaceFilter is over the backup's (source) namespaces.
	namespaceFilter *collections.IncludesExcludes
	allNamespaces   bool
	restorePVs      bool

	// named holds the resource directories the priorities name (set by plan).
	named map[string]bool

	nsMu       sync.Mutex
	namespaces map[string]*namespaceState

	// owners caches ownerWhere's answers from the cluster.
	owners sync.Map
	// claimVolumes maps the PVs whose volumes are restored through their
	// claims to their snapshots.
	claimVolumes sync.Map
	// pvs holds the names of the PVs restored or found existing.
	pvs sync.Map
	// serviceAccountsDone is set once service accounts are restored: token
	// secrets wait for it in deferred.
	serviceAccountsDone atomic.Bool
	deferMu             sync.Mutex
	deferred            []deferredItem
	// crds are the CRDs restored or found existing, to wait for.
	crdMu sync.Mutex
	crds  []restoredCRD
	// dryCRDs holds the resources (plural.group) of the CRDs a dry run
	// would create.
	dryCRDs sync.Map
	// quotas are the ResourceQuotas restored, to wait for.
	quotaMu sync.Mutex
	quotas  []ItemRef

	processed    atomic.Int64
	progressMu   sync.Mutex
	lastProgress time.Time
	progress     func(arkv1.RestoreProgress)
}

type restoredCRD struct {
	ref      ItemRef
	resource string // plural.group
}

// Restore restores the backup whose tarball is contents, as restore asks.
// It writes its log to log (pkg/oplog: JSON lines) and calls progress (if not nil) from
// time to time, never concurrently. It returns an error, with the Result so
// far, only when the restore as a whole fails (unreadable tarball, discovery
// down, ctx done); problems with single items are in Result.Results.
func (r *Restorer) Restore(ctx context.Context, restore *arkv1.Restore, backup *arkv1.Backup, contents io.Reader, log io.Writer, progress func(arkv1.RestoreProgress)) (*Result, error) {
	if restore == nil {
		return nil, errors.New("restore is nil")
	}
	if backup == nil {
		backup = &arkv1.Backup{}
	}
	s := &run{
		Restorer:   r,
		client:     r.client,
		restore:    restore,
		backup:     backup,
		col:        newCollector(),
		log:        oplog.New(ctx, log, oplog.Restore, restore.Name, r.opts.Clock),
		namespaces: map[string]*namespaceState{},
		restorePVs: restore.Spec.ShouldRestorePVs(),
		progress:   progress,
	}
	if restore.Spec.DryRun {
		s.col.res.Results.DryRun = newDryRunResults()
	}
	if r.opts.Acting != nil {
		client, actor, err := r.opts.Acting(restore)
		if err != nil {
			return s.col.result(), &InvalidError{Errors: []string{err.Error()}}
		}
		s.client, s.actor = client, actor
	}
	start := r.opts.Clock.Now()
	s.log.Info("restore started", "backup", restore.Spec.BackupName, "workers", r.opts.Workers, "dryRun", restore.Spec.DryRun)
	res, err := s.do(ctx, contents)
	if err != nil {
		s.log.Error("restore failed", "error", err.Error())
		s.col.error("", "restore failed: %v", err)
		return s.col.result(), err
	}
	s.log.Info("restore finished", "duration", r.opts.Clock.Since(start).String(),
		"total", res.TotalItems, "restored", res.Restored, "existing", res.Existing,
		"skipped", res.Skipped, "failed", res.Failed,
		"warnings", res.Results.WarningCount(), "errors", res.Results.ErrorCount())
	return res, nil
}

func (s *run) do(ctx context.Context, contents io.Reader) (*Result, error) {
	spec := s.restore.Spec
	sel, err := selectorOf(spec.LabelSelector)
	if err != nil {
		return nil, fmt.Errorf("invalid label selector: %w", err)
	}
	s.selector = sel
	// spec.ExistingResourcePolicy was checked by validation.RestoreSpec; any
	// value but update leaves existing objects untouched (existing.go).
	s.namespaceFilter = collections.NewIncludesExcludes(spec.IncludedNamespaces, spec.ExcludedNamespaces)
	s.allNamespaces = s.namespaceFilter.IncludesAll()

	arc, err := extract(ctx, contents, s.opts.TempDir, s.opts.Limits)
	if err != nil {
		return nil, fmt.Errorf("reading the backup tarball: %w", err)
	}
	defer func() {
		if err := arc.Close(); err != nil {
			s.log.Warn("removing the extraction directory failed", "error", err.Error())
		}
	}()
	s.arc = arc
	for _, n := range arc.notes {
		s.log.Debug(n)
	}
	if v := arc.formatVersion; v != "" && v != "1" && !strings.HasPrefix(v, "1.") {
		return nil, fmt.Errorf("unsupported backup format version %q", v)
	}
	s.col.add(func(r *Result) {
		r.TotalItems = arc.total
		r.FormatVersion = arc.formatVersion
	})
	s.log.Info("backup read", "items", arc.total, "formatVersion", arc.formatVersion)

	if err := s.discovery.Refresh(ctx); err != nil {
		return nil, fmt.Errorf("discovering the cluster's resources: %w", err)
	}
	if err := s.checkFilters(); err != nil {
		return nil, err
	}
	if err := s.authorize(ctx); err != nil {
		return nil, err
	}

	s.serviceAccountsDone.Store(arc.byResource["serviceaccounts"] == nil)
	for _, group := range groups(s.plan(), s.named) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s.restoreGroup(ctx, group)
		for _, dir := range group {
			switch dir {
			case crdResource:
				s.waitForCRDs(ctx)
			case "resourcequotas":
				s.waitForQuotas(ctx)
			case "serviceaccounts":
				s.serviceAccountsDone.Store(true)
				s.restoreDeferred(ctx)
			}
		}
	}
	s.serviceAccountsDone.Store(true)
	s.restoreDeferred(ctx)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.reportProgress(true)
	return s.col.result(), nil
}

const crdResource = "customresourcedefinitions.apiextensions.k8s.io"

// plan returns the backup's resource directories in restore order: those the
// priorities name, in their order (CRDs first if they are not named), then
// the others sorted, admission webhooks and policies last.
func (s *run) plan() []string {
	dirs := s.arc.resources()
	prios := s.opts.ResourcePriorities
	named := false
	var resolved [][]string
	for _, p := range prios {
		cands := s.resourceNames(p)
		resolved = append(resolved, cands)
		for _, c := range cands {
			if c == crdResource {
				named = true
			}
		}
	}
	if !named {
		resolved = append([][]string{{crdResource}}, resolved...)
	}
	used := map[string]bool{}
	s.named = used
	var out []string
	for _, cands := range resolved {
		for _, d := range dirs {
			if used[d] {
				continue
			}
			for _, c := range cands {
				if c == d {
					out = append(out, d)
					used[d] = true
					break
				}
			}
		}
	}
	var last []string
	for _, d := range dirs {
		switch {
		case used[d]:
		case restoredLast[d]:
			last = append(last, d)
		default:
			out = append(out, d)
		}
	}
	return append(out, last...)
}

// prerequisites are the resources whose objects others need in the cluster
// before they are created, or which the engine waits for once restored:
// each is a group of its own wherever the plan puts it.
var prerequisites = map[string]bool{
	crdResource:              true,
	"namespaces":             true,
	"resourcequotas":         true,
	"limitranges":            true,
	"serviceaccounts":        true,
	"persistentvolumes":      true,
	"persistentvolumeclaims": true,
}

// groups cuts the plan into groups restored one after the other; the items
// of one group are created in parallel. Each resource the priorities name
// (named[dir]), each prerequisite and each resource restored last is a group
// of its own, so that the order the priorities give holds between them; the
// resources between those, which the priorities leave in no order (sorted by
// name), form one group, so that one resource's last slow items do not hold
// back the next resource's.
func groups(plan []string, named map[string]bool) [][]string {
	var out [][]string
	open := false // the last group takes more unordered resources
	for _, d := range plan {
		alone := named[d] || prerequisites[d] || restoredLast[d]
		if !alone && open {
			out[len(out)-1] = append(out[len(out)-1], d)
			continue
		}
		out = append(out, []string{d})
		open = !alone
	}
	return out
}

// restoredLast are the resources that, once created, can make the creation
// of everything else fail or go astray (an admission webhook whose service is
// not up yet with failurePolicy Fail, an admission policy, an APIService that
// sends a whole API group to a service of the backup): unless the priorities
// name them, they come after all the others. Each one restored is also
// reported as a warning (reportedKinds), so that a restore cannot quietly
// install what intercepts or redirects the cluster's requests.
var restoredLast = map[string]bool{
	"apiservices.apiregistration.k8s.io":                             true,
	"mutatingwebhookconfigurations.admissionregistration.k8s.io":     true,
	"validatingwebhookconfigurations.admissionregistration.k8s.io":   true,
	"mutatingadmissionpolicies.admissionregistration.k8s.io":         true,
	"mutatingadmissionpolicybindings.admissionregistration.k8s.io":   true,
	"validatingadmissionpolicies.admissionregistration.k8s.io":       true,
	"validatingadmissionpolicybindings.admissionregistration.k8s.io": true,
}

// reportedKinds are the resources whose every restored object is a warning
// of the restore: they intercept (admission webhooks) or serve (APIServices)
// requests to the cluster's API. Restored last (restoredLast).
var reportedKinds = map[string]string{
	"mutatingwebhookconfigurations.admissionregistration.k8s.io":   "an admission webhook: it sees, and may change or refuse, the requests it matches",
	"validatingwebhookconfigurations.admissionregistration.k8s.io": "an admission webhook: it sees, and may refuse, the requests it matches",
	"apiservices.apiregistration.k8s.io":                           "an APIService: the API server sends the requests of its group and version to the service it names",
}

// resourceNames returns the names a user-given resource name p may match a
// resource directory by: p itself and, if discovery resolves it, its
// group-resource.
func (s *run) resourceNames(p string) []string {
	p = strings.ToLower(strings.TrimSpace(p))
	out := []string{p}
	if gvr, _, err := s.discovery.ResolveResource(p); err == nil {
		if gr := gvr.GroupResource().String(); gr != p {
			out = append(out, gr)
		}
	}
	return out
}

// resourceIncluded applies the restore's resource filter to a directory.
//
// Names are matched lazily, tier by tier, rather than resolved once with
// collections.ResolveResources: a restore may name a custom resource whose
// CRD is only in the backup, and discovery knows it only once that CRD is
// restored.
func (s *run) resourceIncluded(dir string) bool {
	spec := s.restore.Spec
	matches := func(list []string) bool {
		for _, n := range list {
			if strings.TrimSpace(n) == "*" {
				return true
			}
			for _, c := range s.resourceNames(n) {
				if c == dir {
					return true
				}
			}
		}
		return false
	}
	if matches(spec.ExcludedResources) {
		return false
	}
	return len(spec.IncludedResources) == 0 || matches(spec.IncludedResources)
}

// resourceExplicitlyIncluded says whether the restore's included resources
// name dir (not through "*").
func (s *run) resourceExplicitlyIncluded(dir string) bool {
	for _, n := range s.restore.Spec.IncludedResources {
		for _, c := range s.resourceNames(n) {
			if c == dir {
				return true
			}
		}
	}
	return false
}

// reportProgress calls the progress callback if the interval has passed, or
// always if final.
func (s *run) reportProgress(final bool) {
	if s.progress == nil {
		return
	}
	if final {
		s.progressMu.Lock()
	} else if !s.progressMu.TryLock() {
		return
	}
	defer s.progressMu.Unlock()
	now := s.opts.Clock.Now()
	if !final && now.Sub(s.lastProgress) < s.opts.ProgressInterval {
		return
	}
	s.lastProgress = now
	s.progress(arkv1.RestoreProgress{TotalItems: s.arc.total, ItemsRestored: int(s.processed.Load())})
}

func selectorOf(ls *metav1.LabelSelector) (labels.Selector, error) {
	if ls == nil {
		return labels.Everything(), nil
	}
	return metav1.LabelSelectorAsSelector(ls)
}
