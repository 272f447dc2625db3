package output

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/validation"
)

// PhaseOr is phase, or fallback when it is unset.
func PhaseOr(phase, fallback string) string { return phaseOr(phase, fallback) }

func phaseOr(phase, fallback string) string {
	if phase == "" {
		return fallback
	}
	return phase
}

// column is a table column; wide ones (priority 1) show with -o wide only.
func column(name string, wide bool) metav1.TableColumnDefinition {
	c := metav1.TableColumnDefinition{Name: name, Type: "string"}
	if name == "Name" {
		c.Format = "name"
	}
	if wide {
		c.Priority = 1
	}
	return c
}

// BackupColumns are the columns of `ark backup get` (the seeds' NAME STATUS CREATED
// EXPIRES SELECTOR; -o wide adds the items and the warning and error counts) at now.
func BackupColumns(now time.Time) Columns[arkv1.Backup] {
	return Columns[arkv1.Backup]{
		Definitions: []metav1.TableColumnDefinition{
			column("Name", false), column("Status", false), column("Created", false), column("Expires", false), column("Selector", false),
			column("Items", true), column("Warnings", true), column("Errors", true),
		},
		Row: func(b *arkv1.Backup) []any {
			items := "n/a"
			if p := b.Status.Progress; p != nil {
				items = fmt.Sprintf("%d/%d", p.ItemsBackedUp, p.TotalItems)
			}
			return []any{b.Name, phaseOr(string(b.Status.Phase), string(arkv1.BackupPhaseNew)),
				Timestamp(&b.CreationTimestamp), Expires(b.Status.Expiration, now), Selector(b.Spec.LabelSelector),
				items, b.Status.Warnings, b.Status.Errors}
		},
	}
}

// RestoreColumns are the columns of `ark restore get`; -o wide adds the items and the
// counts of existing objects updated and unchanged.
func RestoreColumns() Columns[arkv1.Restore] {
	return Columns[arkv1.Restore]{
		Definitions: []metav1.TableColumnDefinition{
			column("Name", false), column("Backup", false), column("Status", false), column("Warnings", false), column("Errors", false),
			column("Created", false), column("Selector", false),
			column("Items", true), column("Updated", true), column("Unchanged", true),
		},
		Row: func(r *arkv1.Restore) []any {
			items := "n/a"
			if p := r.Status.Progress; p != nil {
				items = fmt.Sprintf("%d/%d", p.ItemsRestored, p.TotalItems)
			}
			return []any{r.Name, r.Spec.BackupName, phaseOr(string(r.Status.Phase), string(arkv1.RestorePhaseNew)),
				r.Status.Warnings, r.Status.Errors, Timestamp(&r.CreationTimestamp), Selector(r.Spec.LabelSelector),
				items, r.Status.Updated, r.Status.Unchanged}
		},
	}
}

// ScheduleColumns are the columns of `ark schedule get` at now: the seeds' NAME STATUS
// CREATED SCHEDULE BACKUP TTL LAST BACKUP SELECTOR, then NEXT BACKUP and PAUSED (as Velero's).
func ScheduleColumns(now time.Time) Columns[arkv1.Schedule] {
	return Columns[arkv1.Schedule]{
		Definitions: []metav1.TableColumnDefinition{
			column("Name", false), column("Status", false), column("Created", false), column("Schedule", false),
			column("Backup TTL", false), column("Last Backup", false), column("Next Backup", false), column("Selector", false), column("Paused", false),
		},
		Row: func(s *arkv1.Schedule) []any {
			last := "n/a"
			if s.Status.LastBackup != nil {
				last = HumanDuration(now.Sub(s.Status.LastBackup.Time)) + " ago"
			}
			return []any{s.Name, phaseOr(string(s.Status.Phase), string(arkv1.SchedulePhaseNew)),
				Timestamp(&s.CreationTimestamp), s.Spec.Schedule, s.Spec.Template.EffectiveTTL().String(), last,
				NextBackup(s, now), Selector(s.Spec.Template.LabelSelector), s.Spec.Paused}
		},
	}
}

// NextBackup says when a schedule's next backup is due, seen from now: "in 5h", or
// "<paused>", or "n/a" for a schedule whose cron expression does not parse.
func NextBackup(s *arkv1.Schedule, now time.Time) string {
	if s.Spec.Paused {
		return "<paused>"
	}
	sched, err := validation.CronParser.Parse(s.Spec.Schedule)
	if err != nil {
		return "n/a"
	}
	next := sched.Next(now)
	if next.IsZero() {
		return "n/a"
	}
	return "in " + HumanDuration(next.Sub(now))
}
