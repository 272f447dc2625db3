package output

import (
	"fmt"
	"io"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
)

func phaseOr(phase, fallback string) string {
	if phase == "" {
		return fallback
	}
	return phase
}

// Backups prints backups as a table or encodes them.
func Backups(w io.Writer, list *arkv1.BackupList, format string, now time.Time) error {
	if format != "table" {
		for i := range list.Items {
			withKind(&list.Items[i], "Backup")
		}
		return Encode(w, withKind(list, "BackupList"), format)
	}
	newestFirst(list.Items, func(b *arkv1.Backup) *metav1.ObjectMeta { return &b.ObjectMeta })
	t := newTable(w, "NAME", "STATUS", "CREATED", "EXPIRES", "SELECTOR")
	for _, b := range list.Items {
		t.add(b.Name, phaseOr(string(b.Status.Phase), string(arkv1.BackupPhaseNew)),
			Timestamp(&b.CreationTimestamp), Expires(b.Status.Expiration, now), Selector(b.Spec.LabelSelector))
	}
	return t.flush()
}

// Restores prints restores as a table or encodes them.
func Restores(w io.Writer, list *arkv1.RestoreList, format string) error {
	if format != "table" {
		for i := range list.Items {
			withKind(&list.Items[i], "Restore")
		}
		return Encode(w, withKind(list, "RestoreList"), format)
	}
	newestFirst(list.Items, func(r *arkv1.Restore) *metav1.ObjectMeta { return &r.ObjectMeta })
	t := newTable(w, "NAME", "BACKUP", "STATUS", "WARNINGS", "ERRORS", "CREATED", "SELECTOR")
	for _, r := range list.Items {
		t.add(r.Name, r.Spec.BackupName, phaseOr(string(r.Status.Phase), string(arkv1.RestorePhaseNew)),
			strconv.Itoa(r.Status.Warnings), strconv.Itoa(r.Status.Errors),
			Timestamp(&r.CreationTimestamp), Selector(r.Spec.LabelSelector))
	}
	return t.flush()
}

// Schedules prints schedules as a table or encodes them.
func Schedules(w io.Writer, list *arkv1.ScheduleList, format string, now time.Time) error {
	if format != "table" {
		for i := range list.Items {
			withKind(&list.Items[i], "Schedule")
		}
		return Encode(w, withKind(list, "ScheduleList"), format)
	}
	newestFirst(list.Items, func(s *arkv1.Schedule) *metav1.ObjectMeta { return &s.ObjectMeta })
	t := newTable(w, "NAME", "STATUS", "CREATED", "SCHEDULE", "BACKUP TTL", "LAST BACKUP", "SELECTOR")
	for _, s := range list.Items {
		ttl := s.Spec.Template.TTL.Duration
		if ttl == 0 {
			ttl = arkv1.DefaultBackupTTL
		}
		last := "n/a"
		if s.Status.LastBackup != nil {
			last = HumanDuration(now.Sub(s.Status.LastBackup.Time)) + " ago"
		}
		t.add(s.Name, phaseOr(string(s.Status.Phase), string(arkv1.SchedulePhaseNew)),
			Timestamp(&s.CreationTimestamp), s.Spec.Schedule, fmt.Sprint(ttl), last, Selector(s.Spec.Template.LabelSelector))
	}
	return t.flush()
}
