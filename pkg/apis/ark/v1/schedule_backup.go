package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/heptio/ark/pkg/format"
	"github.com/heptio/ark/pkg/label"
)

// NewBackup returns the Backup named name that the schedule makes: its template as the
// spec, its labels, format.ScheduleNameLabel, and the verify annotation when the schedule verifies. The schedule controller makes every scheduled
// backup with it, and `ark backup create --from-schedule` a backup on demand.
func (s *Schedule) NewBackup(name string) *Backup {
	b := &Backup{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.Namespace, Name: name, Labels: map[string]string{}},
		Spec:       *s.Spec.Template.DeepCopy(),
	}
	for k, v := range s.Labels {
		b.Labels[k] = v
	}
	b.Labels[format.ScheduleNameLabel] = label.ValidValue(s.Name)
	if s.Spec.Verify {
		b.Annotations = map[string]string{format.VerifyAfterBackupAnnotation: "true"}
	}
	return b
}
