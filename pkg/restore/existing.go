package restore

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/util/retry"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/format"
)

// FieldManager is the field manager of ark's server-side applies.
const FieldManager = "ark"

// clusterMade says whether an object is one the cluster makes by itself in
// every new namespace: the ServiceAccount "default" (service account
// controller) and the ConfigMap "kube-root-ca.crt" (root CA publisher). A
// backup of a namespace holds them; on restore they usually exist already,
// made by the cluster for the namespace just created, and what the user set
// on them is merged in (mergeClusterMade) rather than reported as an object
// left untouched.
func clusterMade(gr schema.GroupResource, name string) bool {
	switch gr.String() {
	case "serviceaccounts":
		return name == "default"
	case "configmaps":
		return name == rootCAConfigMap
	}
	return false
}

const rootCAConfigMap = "kube-root-ca.crt"

// prepareRootCA strips the data of a backed-up kube-root-ca.crt before it is
// created or merged: the root CA publisher owns it (it holds the source
// cluster's CA, and the publisher rewrites data to exactly the cluster's
// ca.crt whenever it differs, so data a user added cannot be kept). Created
// without data, the ConfigMap gets the cluster's CA from the publisher and
// keeps the labels and annotations restored on it. Keys besides ca.crt are
// a warning.
func (s *run) prepareRootCA(ref ItemRef, obj *unstructured.Unstructured) {
	var lost []string
	for _, f := range []string{"data", "binaryData"} {
		m, _, _ := unstructured.NestedMap(obj.Object, f)
		for k := range m {
			if k != "ca.crt" {
				lost = append(lost, k)
			}
		}
		delete(obj.Object, f)
	}
	if len(lost) > 0 {
		sort.Strings(lost)
		msg := fmt.Sprintf("data keys %s not restored: the cluster's root CA publisher keeps only ca.crt in this ConfigMap", strings.Join(lost, ", "))
		s.col.warn(ref.Namespace, "%s: %s", ref, msg)
		s.log.Item(slog.LevelWarn, msg, ref.Resource, ref.Namespace, ref.Name)
	}
}

// onExisting handles an object of the backup that exists in the cluster: the
// objects the cluster makes are merged with the backup; others are updated
// (policy update) or left untouched with a warning (none), and either way
// counted as unchanged if they equal the backup.
func (s *run) onExisting(ctx context.Context, gvr schema.GroupVersionResource, ref ItemRef, obj *unstructured.Unstructured) {
	switch {
	case clusterMade(gvr.GroupResource(), obj.GetName()):
		s.mergeClusterMade(ctx, gvr, ref, obj)
	default:
		s.applyExisting(ctx, gvr, ref, obj)
	}
}

func (s *run) updateExisting() bool {
	return s.restore.Spec.ExistingResourcePolicy == arkv1.ExistingResourcePolicyUpdate
}

func (s *run) unchanged(ref ItemRef) {
	s.col.add(func(r *Result) { r.Unchanged++ })
	s.log.Item(slog.LevelInfo, "already exists, equal to the backup", ref.Resource, ref.Namespace, ref.Name)
}

// applyExisting compares an existing object with its backed-up state by a
// dry-run server-side apply of the backup (with the live restore label, if
// any: the label alone is no difference): equal is unchanged. Otherwise, with policy
// update, the backup is applied for real with field manager "ark" and
// Force, which takes over only the fields the applied object holds: fields
// the backup lacks (set by controllers or other managers since) stay as they
// are. With policy none, the object is left untouched, with a warning.
func (s *run) applyExisting(ctx context.Context, gvr schema.GroupVersionResource, ref ItemRef, obj *unstructured.Unstructured) {
	rc := s.client.Resource(gvr).Namespace(ref.Namespace)
	live, err := rc.Get(ctx, obj.GetName(), metav1.GetOptions{})
	if err != nil {
		s.failed(ref, "it exists, but reading it failed: %v", err)
		return
	}
	// The comparison carries the live restore label (the label alone is no
	// difference): absent if live has none, and kept if an earlier apply by
	// ark set it, which omitting it would remove.
	bare := obj.DeepCopy()
	if l := bare.GetLabels(); l != nil {
		if v, ok := live.GetLabels()[format.RestoreNameLabel]; ok {
			l[format.RestoreNameLabel] = v
		} else {
			delete(l, format.RestoreNameLabel)
		}
		bare.SetLabels(l)
	}
	opts := metav1.ApplyOptions{FieldManager: FieldManager, Force: true}
	dryOpts := opts
	dryOpts.DryRun = []string{metav1.DryRunAll}
	dry, err := rc.Apply(ctx, obj.GetName(), bare, dryOpts)
	var diff []string
	if err == nil {
		diff = differences(live, dry)
		if len(diff) == 0 {
			s.unchanged(ref)
			return
		}
	}
	if !s.updateExisting() {
		// A dry run that fails (say, an immutable field differs) tells
		// nothing of equality: the object may differ.
		s.existing(ref)
		return
	}
	if err != nil {
		s.failed(ref, "it exists, and bringing it to its backed-up state failed: %v", err)
		return
	}
	if _, err := rc.Apply(ctx, obj.GetName(), obj, opts); err != nil {
		s.failed(ref, "it exists, and bringing it to its backed-up state failed: %v", err)
		return
	}
	s.col.updated(ref.Namespace, "%s: updated to its backed-up state (%s)", ref, strings.Join(diff, ", "))
	s.log.Item(slog.LevelInfo, "updated to its backed-up state", ref.Resource, ref.Namespace, ref.Name, "fields", diff)
}

// ignoredInComparison are the metadata fields an apply changes by itself.
var ignoredInComparison = []string{"managedFields", "resourceVersion", "generation"}

// differences names the fields (top-level, and metadata's) in which a and b
// differ, ignoring what the server changes on every write.
func differences(a, b *unstructured.Unstructured) []string {
	strip := func(o *unstructured.Unstructured) map[string]any {
		c := o.DeepCopy().Object
		for _, f := range ignoredInComparison {
			unstructured.RemoveNestedField(c, "metadata", f)
		}
		return c
	}
	x, y := strip(a), strip(b)
	var out []string
	keys := map[string]bool{}
	for k := range x {
		keys[k] = true
	}
	for k := range y {
		keys[k] = true
	}
	for k := range keys {
		if k == "metadata" {
			mx, _ := x[k].(map[string]any)
			my, _ := y[k].(map[string]any)
			sub := map[string]bool{}
			for kk := range mx {
				sub[kk] = true
			}
			for kk := range my {
				sub[kk] = true
			}
			for kk := range sub {
				if !reflect.DeepEqual(mx[kk], my[kk]) {
					out = append(out, "metadata."+kk)
				}
			}
			continue
		}
		if !reflect.DeepEqual(x[k], y[k]) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// mergeClusterMade merges into a live object the cluster made (clusterMade)
// what the user set on its backed-up copy: labels and annotations, and of
// the default ServiceAccount its imagePullSecrets and
// automountServiceAccountToken. What the live object lacks is added; a value
// it holds differently is kept (a warning) unless the policy is update, when
// the backup's wins. Nothing is removed. The merge is listed in the results'
// updated objects; with nothing to merge the object is unchanged.
func (s *run) mergeClusterMade(ctx context.Context, gvr schema.GroupVersionResource, ref ItemRef, obj *unstructured.Unstructured) {
	rc := s.client.Resource(gvr).Namespace(ref.Namespace)
	var added, kept []string
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		live, err := rc.Get(ctx, obj.GetName(), metav1.GetOptions{})
		if err != nil {
			return err
		}
		added, kept = mergeUserContent(live, obj, s.updateExisting())
		if len(added) == 0 {
			return nil
		}
		_, err = rc.Update(ctx, live, metav1.UpdateOptions{FieldManager: FieldManager})
		return err
	})
	if err != nil {
		s.failed(ref, "it exists (the cluster makes it in every namespace), and merging the backup's labels, annotations and settings into it failed: %v", err)
		return
	}
	if len(kept) > 0 {
		msg := fmt.Sprintf("made by the cluster; kept its own value of %s (the backup's differs; existingResourcePolicy update takes the backup's)", strings.Join(kept, ", "))
		s.col.warn(ref.Namespace, "%s: %s", ref, msg)
		s.log.Item(slog.LevelWarn, msg, ref.Resource, ref.Namespace, ref.Name)
	}
	if len(added) == 0 {
		if len(kept) == 0 {
			s.unchanged(ref)
		} else {
			s.col.add(func(r *Result) { r.Existing++ })
		}
		return
	}
	s.col.updated(ref.Namespace, "%s: made by the cluster; merged from the backup: %s", ref, strings.Join(added, ", "))
	s.log.Item(slog.LevelInfo, "made by the cluster; merged from the backup", ref.Resource, ref.Namespace, ref.Name, "fields", added)
}

// mergeUserContent merges into live the user-set content of backup (see
// mergeClusterMade). It returns the fields it changed and those it kept
// because live holds them with another value and overwrite is false.
func mergeUserContent(live, backup *unstructured.Unstructured, overwrite bool) (changed, kept []string) {
	mergeMap := func(what string, from, into map[string]string) map[string]string {
		keys := make([]string, 0, len(from))
		for k := range from {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if what == "label" && k == format.RestoreNameLabel {
				continue // the merged object is not one this restore made
			}
			v := from[k]
			old, ok := into[k]
			switch {
			case ok && old == v:
			case ok && !overwrite:
				kept = append(kept, what+" "+k)
			default:
				if into == nil {
					into = map[string]string{}
				}
				into[k] = v
				changed = append(changed, what+" "+k)
			}
		}
		return into
	}
	if l := mergeMap("label", backup.GetLabels(), live.GetLabels()); len(l) > 0 {
		live.SetLabels(l)
	}
	if a := mergeMap("annotation", backup.GetAnnotations(), live.GetAnnotations()); len(a) > 0 {
		live.SetAnnotations(a)
	}
	if backup.GetKind() != "ServiceAccount" {
		return changed, kept
	}
	// imagePullSecrets: a list of {name}, merged by name.
	want, _, _ := unstructured.NestedSlice(backup.Object, "imagePullSecrets")
	have, _, _ := unstructured.NestedSlice(live.Object, "imagePullSecrets")
	names := map[string]bool{}
	for _, e := range have {
		if m, ok := e.(map[string]any); ok {
			names[fmt.Sprint(m["name"])] = true
		}
	}
	grew := false
	for _, e := range want {
		m, ok := e.(map[string]any)
		if !ok || names[fmt.Sprint(m["name"])] {
			continue
		}
		names[fmt.Sprint(m["name"])] = true
		have = append(have, m)
		changed = append(changed, fmt.Sprintf("imagePullSecret %v", m["name"]))
		grew = true
	}
	if grew {
		_ = unstructured.SetNestedSlice(live.Object, have, "imagePullSecrets")
	}
	if v, ok, _ := unstructured.NestedBool(backup.Object, "automountServiceAccountToken"); ok {
		old, had, _ := unstructured.NestedBool(live.Object, "automountServiceAccountToken")
		switch {
		case had && old == v:
		case had && !overwrite:
			kept = append(kept, "automountServiceAccountToken")
		default:
			_ = unstructured.SetNestedField(live.Object, v, "automountServiceAccountToken")
			changed = append(changed, "automountServiceAccountToken")
		}
	}
	return changed, kept
}
