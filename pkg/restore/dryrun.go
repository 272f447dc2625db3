package restore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/heptio/ark/pkg/format"
)

// A dry-run restore (spec.dryRun) runs the whole pipeline and sends every
// write with dryRun=All: the API server runs admission and validation and
// persists nothing. Reads are real. What cannot be asked of the server is
// said in the results:
//   - an object whose namespace does not exist yet (the restore would create
//     it) cannot be dry-run created there (NotFound: the namespace lifecycle
//     admission answers before anything else); its schema is checked by a
//     dry-run create in the namespace "default" (only an Invalid or BadRequest
//     answer counts: quotas and policies there are not the target's), and it
//     is counted Unvalidated;
//   - custom resources whose CRD the restore would create are not served:
//     they are listed as would-be-created, Unvalidated, unchecked;
//   - no volume is restored from a snapshot; a PV is dry-run created as it
//     was backed up, and the snapshot it would be restored from is named;
//   - each dry-run create is checked alone: admission that counts (a
//     ResourceQuota) sees none of the other objects of the restore, so N
//     objects that fit one by one may not all fit together.

// dryRunValidationNamespace is where the schema of an object whose target
// namespace does not exist yet is checked.
const dryRunValidationNamespace = "default"

// errServedOnceCRDCreated is the notServed error of the custom resources
// whose CRD a dry run found it would create.
var errServedOnceCRDCreated = errors.New("its CRD would be created by this restore first")

func newDryRunResults() *format.DryRunResults {
	return &format.DryRunResults{WouldCreate: map[string][]string{}, Unchanged: map[string][]string{}, Existing: map[string][]string{}, Skipped: map[string][]string{}}
}

// dryRun is the DryRun option of every write: dryRun=All in a dry run.
func (s *run) dryRun() []string {
	if s.restore.Spec.DryRun {
		return []string{metav1.DryRunAll}
	}
	return nil
}

func (s *run) createOptions() metav1.CreateOptions { return metav1.CreateOptions{DryRun: s.dryRun()} }

// would returns real, or dry in a dry run: the wording of a result.
func (s *run) would(real, dry string) string {
	if s.restore.Spec.DryRun {
		return dry
	}
	return real
}

// dryNote records an item in one of a dry run's lists (no-op otherwise).
func (s *run) dryNote(list func(*format.DryRunResults) map[string][]string, ref ItemRef, msg string) {
	if !s.restore.Spec.DryRun {
		return
	}
	line := ref.String()
	if msg != "" {
		line += ": " + msg
	}
	s.col.add(func(r *Result) {
		m := list(r.Results.DryRun)
		m[ref.Namespace] = append(m[ref.Namespace], line)
	})
}

func wouldCreate(d *format.DryRunResults) map[string][]string   { return d.WouldCreate }
func unchangedList(d *format.DryRunResults) map[string][]string { return d.Unchanged }
func existingList(d *format.DryRunResults) map[string][]string  { return d.Existing }
func skippedList(d *format.DryRunResults) map[string][]string   { return d.Skipped }

// namespaceWouldBeCreated says whether a dry run found that the restore
// would create the target namespace (it does not exist).
func (s *run) namespaceWouldBeCreated(target string) bool {
	if !s.restore.Spec.DryRun {
		return false
	}
	e := s.nsState(target)
	return e.created
}

// noteWouldCreate is noteRestored for an item a dry run would create: PVs
// count as present (their claims keep them), CRDs make their resources
// expected; quotas are not waited for (they do not exist).
func (s *run) noteWouldCreate(gr schema.GroupResource, obj *unstructured.Unstructured) {
	switch gr.String() {
	case "persistentvolumes":
		s.pvs.Store(obj.GetName(), true)
	case crdResource:
		group, _, _ := unstructured.NestedString(obj.Object, "spec", "group")
		plural, _, _ := unstructured.NestedString(obj.Object, "spec", "names", "plural")
		s.dryCRDs.Store(plural+"."+group, true)
	}
}

// crdWouldBeCreated says whether a dry run would create the CRD of dir.
func (s *run) crdWouldBeCreated(dir string) bool {
	_, ok := s.dryCRDs.Load(dir)
	return ok
}

// unvalidated records an item a dry run would create without the API
// server's admission of it, and why.
func (s *run) unvalidated(ref ItemRef, why string) {
	s.col.add(func(r *Result) {
		r.Restored++
		r.Unvalidated++
	})
	s.dryNote(wouldCreate, ref, "not validated by admission: "+why)
	s.log.Item(slog.LevelInfo, "would be created, not validated by admission", ref.Resource, ref.Namespace, ref.Name, "reason", why)
}

// dryCreateElsewhere checks the schema of an object whose target namespace
// a dry run would create: a dry-run create in dryRunValidationNamespace.
// Only Invalid and BadRequest answers are the object's fault; the others
// (quota, policy, AlreadyExists there) belong to that namespace and are
// ignored.
func (s *run) dryCreateElsewhere(ctx context.Context, gvr schema.GroupVersionResource, ref ItemRef, obj *unstructured.Unstructured) {
	why := fmt.Sprintf("namespace %s does not exist and would be created by this restore; the object's schema was checked by the API server in namespace %q", ref.Namespace, dryRunValidationNamespace)
	c := obj.DeepCopy()
	c.SetNamespace(dryRunValidationNamespace)
	_, err := s.client.Resource(gvr).Namespace(dryRunValidationNamespace).Create(ctx, c, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	switch {
	case err == nil:
	case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
		s.failed(ref, "create: %v", err)
		return
	default:
		why = fmt.Sprintf("namespace %s does not exist and would be created by this restore; the object's schema could not be checked (%v)", ref.Namespace, err)
	}
	s.unvalidated(ref, why)
}

// kvString formats log key-values ("snapshotID", "snap-1") as
// "snapshotID=snap-1", "" for none.
func kvString(kv []any) string {
	out := ""
	for i := 0; i+1 < len(kv); i += 2 {
		if out != "" {
			out += ", "
		}
		out += fmt.Sprintf("%v=%v", kv[i], kv[i+1])
	}
	return out
}
