package output

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/format"
)

// describer writes "Key:  value" lines, indented by section.
type describer struct {
	w      io.Writer
	indent string
}

func (d *describer) line(key string, value any) {
	// Values start in one column; a key too long for it keeps one space.
	fmt.Fprintf(d.w, "%s%-22s%v\n", d.indent, key+": ", value)
}

func (d *describer) section(title string, body func()) {
	fmt.Fprintf(d.w, "%s%s:\n", d.indent, title)
	old := d.indent
	d.indent += "  "
	body()
	d.indent = old
}

func list(items []string, empty string) string {
	if len(items) == 0 {
		return empty
	}
	return strings.Join(items, ", ")
}

func optionalBool(b *bool, unset string) string {
	if b == nil {
		return unset
	}
	return fmt.Sprint(*b)
}

func labelsOf(m map[string]string) string {
	if len(m) == 0 {
		return "<none>"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ",")
}

func duration(start, end *metav1.Time, now time.Time) string {
	if start == nil {
		return "n/a"
	}
	stop := now
	if end != nil {
		stop = end.Time
	}
	return stop.Sub(start.Time).Round(time.Second).String()
}

func (d *describer) backupSpec(spec *arkv1.BackupSpec) {
	d.section("Namespaces", func() {
		d.line("Included", list(spec.IncludedNamespaces, "*"))
		d.line("Excluded", list(spec.ExcludedNamespaces, "<none>"))
	})
	d.section("Resources", func() {
		d.line("Included", list(spec.IncludedResources, "*"))
		d.line("Excluded", list(spec.ExcludedResources, "<none>"))
		d.line("Cluster-scoped", optionalBool(spec.IncludeClusterResources, "auto"))
	})
	d.line("Label selector", Selector(spec.LabelSelector))
	d.line("Snapshot PVs", optionalBool(spec.SnapshotVolumes, "auto"))
	d.line("TTL", spec.EffectiveTTL())
	if len(spec.Hooks.Resources) > 0 {
		d.section("Hooks", func() {
			for _, h := range spec.Hooks.Resources {
				d.line(h.Name, fmt.Sprintf("%d pre, %d post, pods %s in %s", len(h.Pre), len(h.Post), Selector(h.LabelSelector), list(h.IncludedNamespaces, "*")))
			}
		})
	}
}

// DescribeBackup writes a readable account of a backup.
func DescribeBackup(w io.Writer, b *arkv1.Backup, now time.Time) {
	d := &describer{w: w}
	d.line("Name", b.Name)
	d.line("Namespace", b.Namespace)
	d.line("Labels", labelsOf(b.Labels))
	d.line("Phase", phaseOr(string(b.Status.Phase), string(arkv1.BackupPhaseNew)))
	if b.Status.FailureReason != "" {
		d.line("Failure reason", b.Status.FailureReason)
	}
	if len(b.Status.ValidationErrors) > 0 {
		d.section("Validation errors", func() {
			for _, e := range b.Status.ValidationErrors {
				fmt.Fprintf(w, "%s- %s\n", d.indent, e)
			}
		})
	}
	fmt.Fprintln(w)
	d.backupSpec(&b.Spec)
	fmt.Fprintln(w)
	d.line("Created", Timestamp(&b.CreationTimestamp))
	d.line("Started", Timestamp(b.Status.StartTimestamp))
	d.line("Completed", Timestamp(b.Status.CompletionTimestamp))
	d.line("Duration", duration(b.Status.StartTimestamp, b.Status.CompletionTimestamp, now))
	d.line("Expiration", Timestamp(b.Status.Expiration))
	if p := b.Status.Progress; p != nil {
		d.line("Progress", fmt.Sprintf("%d of %d items backed up", p.ItemsBackedUp, p.TotalItems))
	}
	if b.Status.ResourceVersion != "" {
		consistency := "one instant (every resource read at this version)"
		if len(b.Status.InconsistentResources) > 0 {
			consistency = "not fully consistent: read fresh: " + strings.Join(b.Status.InconsistentResources, ", ")
		}
		d.line("Resource version", b.Status.ResourceVersion+", "+consistency)
	}
	if e := b.Status.Encryption; e != nil {
		d.section("Encryption", func() {
			d.line("Scheme", e.Scheme)
			d.line("Keys", strings.Join(e.KeyIDs, ", "))
		})
	} else if b.Status.Phase != "" && b.Status.Phase != arkv1.BackupPhaseNew {
		d.line("Encryption", "<none>")
	}
	d.line("Warnings", b.Status.Warnings)
	d.line("Errors", b.Status.Errors)
	if len(b.Status.LeftOut) > 0 {
		d.section("Left out (its requester may not read it)", func() {
			for _, l := range b.Status.LeftOut {
				fmt.Fprintf(w, "%s- %s\n", d.indent, l)
			}
		})
	}
	if b.Status.Warnings+b.Status.Errors > 0 {
		fmt.Fprintf(w, "  (run `ark backup logs %s` for each warning and error)\n", b.Name)
	}
	if v := b.Status.Verification; v != nil {
		d.line("Last verified", Timestamp(b.Status.LastVerified))
		d.section("Verification", func() {
			d.line("Result", v.Phase)
			d.line("Items decoded", v.Items)
			d.line("Snapshots checked", v.Snapshots)
			for _, p := range v.Problems {
				fmt.Fprintf(w, "%s- %s\n", d.indent, p)
			}
		})
	} else {
		d.line("Last verified", "never (run `ark backup verify "+b.Name+"`)")
	}
	fmt.Fprintln(w)
	if len(b.Status.VolumeBackups) == 0 {
		d.line("Persistent volumes", "<none included>")
		return
	}
	d.section("Persistent volumes", func() {
		names := make([]string, 0, len(b.Status.VolumeBackups))
		for n := range b.Status.VolumeBackups {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			v := b.Status.VolumeBackups[n]
			d.section(n, func() {
				d.line("Snapshot ID", v.SnapshotID)
				d.line("Type", v.Type)
				d.line("Availability zone", v.AvailabilityZone)
				if v.Iops != nil {
					d.line("IOPS", *v.Iops)
				} else {
					d.line("IOPS", "<N/A>")
				}
			})
		}
	})
}

func (d *describer) byNamespace(title string, m map[string][]string) {
	if len(m) == 0 {
		d.line(title, "<none>")
		return
	}
	d.section(title, func() {
		namespaces := make([]string, 0, len(m))
		for ns := range m {
			namespaces = append(namespaces, ns)
		}
		sort.Strings(namespaces)
		for _, ns := range namespaces {
			label := ns
			if label == "" {
				label = "Cluster"
			}
			d.section(label, func() {
				for _, msg := range m[ns] {
					fmt.Fprintf(d.w, "%s- %s\n", d.indent, msg)
				}
			})
		}
	})
}

// DescribeRestore writes a readable account of a restore and, when given, its results.
func DescribeRestore(w io.Writer, r *arkv1.Restore, results *format.RestoreResults, resultsErr error, now time.Time) {
	d := &describer{w: w}
	d.line("Name", r.Name)
	d.line("Namespace", r.Namespace)
	d.line("Labels", labelsOf(r.Labels))
	d.line("Backup", r.Spec.BackupName)
	d.line("Phase", phaseOr(string(r.Status.Phase), string(arkv1.RestorePhaseNew)))
	if r.Status.FailureReason != "" {
		d.line("Failure reason", r.Status.FailureReason)
	}
	if len(r.Status.ValidationErrors) > 0 {
		d.section("Validation errors", func() {
			for _, e := range r.Status.ValidationErrors {
				fmt.Fprintf(w, "%s- %s\n", d.indent, e)
			}
		})
	}
	fmt.Fprintln(w)
	d.section("Namespaces", func() {
		d.line("Included", list(r.Spec.IncludedNamespaces, "*"))
		d.line("Excluded", list(r.Spec.ExcludedNamespaces, "<none>"))
	})
	d.section("Resources", func() {
		d.line("Included", list(r.Spec.IncludedResources, "*"))
		d.line("Excluded", list(r.Spec.ExcludedResources, "<none>"))
	})
	if len(r.Spec.NamespaceMapping) > 0 {
		d.line("Namespace mappings", labelsOf(r.Spec.NamespaceMapping))
	} else {
		d.line("Namespace mappings", "<none>")
	}
	d.line("Label selector", Selector(r.Spec.LabelSelector))
	d.line("Restore PVs", optionalBool(r.Spec.RestorePVs, "auto"))
	d.line("Existing objects", phaseOr(string(r.Spec.ExistingResourcePolicy), string(arkv1.ExistingResourcePolicyNone)))
	d.line("Preserve node ports", optionalBool(r.Spec.PreserveNodePorts, "false"))
	if r.Spec.DryRun {
		d.line("Dry run", "true (every write sent with dryRun=All: nothing is created or changed)")
	}
	fmt.Fprintln(w)
	d.line("Created", Timestamp(&r.CreationTimestamp))
	d.line("Started", Timestamp(r.Status.StartTimestamp))
	d.line("Completed", Timestamp(r.Status.CompletionTimestamp))
	d.line("Duration", duration(r.Status.StartTimestamp, r.Status.CompletionTimestamp, now))
	if p := r.Status.Progress; p != nil {
		verb := "restored"
		if r.Spec.DryRun {
			// Nothing was written: the items went through the pipeline only.
			verb = "checked (dry run)"
		}
		d.line("Progress", fmt.Sprintf("%d of %d items %s", p.ItemsRestored, p.TotalItems, verb))
	}
	d.line("Warnings", r.Status.Warnings)
	d.line("Errors", r.Status.Errors)
	if r.Spec.DryRun {
		DescribeDryRun(w, r, results, resultsErr)
		return
	}
	d.line("Existing objects updated", r.Status.Updated)
	d.line("Existing objects unchanged", r.Status.Unchanged)
	switch {
	case resultsErr != nil:
		fmt.Fprintf(w, "\n(the details of warnings and errors are not available: %v)\n", resultsErr)
	case results != nil:
		fmt.Fprintln(w)
		d.byNamespace("Warnings by namespace", results.Warnings)
		d.byNamespace("Errors by namespace", results.Errors)
		d.byNamespace("Updated by namespace", results.Updated)
	}
}

// DescribeDryRun writes what a dry-run restore found a restore would do:
// the counts of its status and, when given, the items by namespace.
func DescribeDryRun(w io.Writer, r *arkv1.Restore, results *format.RestoreResults, resultsErr error) {
	d := &describer{w: w}
	fmt.Fprintln(w)
	if c := r.Status.DryRun; c != nil {
		d.section("A restore would", func() {
			d.line("Create", fmt.Sprintf("%d (of which %d not validated by admission: their namespace or CRD would be created first)", c.WouldCreate, c.Unvalidated))
			d.line("Update", c.WouldUpdate)
			d.line("Leave unchanged", fmt.Sprintf("%d (equal to the backup)", c.Unchanged))
			d.line("Leave untouched", fmt.Sprintf("%d (they differ from the backup)", c.Existing))
			d.line("Skip", c.Skipped)
			d.line("Fail on", c.WouldFail)
		})
	}
	switch {
	case resultsErr != nil:
		fmt.Fprintf(w, "\n(the items are not available: %v)\n", resultsErr)
	case results != nil:
		fmt.Fprintln(w)
		d.byNamespace("Would fail, by namespace", results.Errors)
		var dr format.DryRunResults
		if results.DryRun != nil {
			dr = *results.DryRun
		}
		d.byNamespace("Would create, by namespace", dr.WouldCreate)
		d.byNamespace("Would update, by namespace", results.Updated)
		d.byNamespace("Unchanged, by namespace", dr.Unchanged)
		d.byNamespace("Left untouched, by namespace", dr.Existing)
		d.byNamespace("Skipped, by namespace", dr.Skipped)
		d.byNamespace("Warnings by namespace", results.Warnings)
	}
}

// DescribeSchedule writes a readable account of a schedule.
func DescribeSchedule(w io.Writer, s *arkv1.Schedule, now time.Time) {
	d := &describer{w: w}
	d.line("Name", s.Name)
	d.line("Namespace", s.Namespace)
	d.line("Labels", labelsOf(s.Labels))
	d.line("Phase", phaseOr(string(s.Status.Phase), string(arkv1.SchedulePhaseNew)))
	if len(s.Status.ValidationErrors) > 0 {
		d.section("Validation errors", func() {
			for _, e := range s.Status.ValidationErrors {
				fmt.Fprintf(w, "%s- %s\n", d.indent, e)
			}
		})
	}
	d.line("Schedule", s.Spec.Schedule)
	d.line("Created", Timestamp(&s.CreationTimestamp))
	d.line("Paused", s.Spec.Paused)
	d.line("Last backup", Timestamp(s.Status.LastBackup))
	if s.Status.LastSkipped != nil {
		d.line("Last skipped tick", Timestamp(s.Status.LastSkipped))
	}
	d.line("Next backup", NextBackup(s, now))
	fmt.Fprintln(w)
	d.section("Backup template", func() { d.backupSpec(&s.Spec.Template) })
}

// DescribeResourceList writes a backup's resource list (`ark backup describe --details`):
// each kind, then its objects, sorted; or why there is none (err).
func DescribeResourceList(w io.Writer, list format.ResourceList, err error) {
	fmt.Fprintln(w)
	if err != nil {
		fmt.Fprintf(w, "Resource list:         <not available: %v>\n", err)
		return
	}
	if len(list) == 0 {
		fmt.Fprintln(w, "Resource list:         <none: the backup holds no objects>")
		return
	}
	fmt.Fprintln(w, "Resource list:")
	kinds := make([]string, 0, len(list))
	for k := range list {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		names := append([]string(nil), list[k]...)
		sort.Strings(names)
		fmt.Fprintf(w, "  %s:\n", k)
		for _, n := range names {
			fmt.Fprintf(w, "    - %s\n", n)
		}
	}
}
