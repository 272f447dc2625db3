package v1

import (
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestDefaults(t *testing.T) {
	no := false
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"ttl unset", (&BackupSpec{}).EffectiveTTL(), 720 * time.Hour},
		{"ttl set", (&BackupSpec{TTL: metav1.Duration{Duration: time.Hour}}).EffectiveTTL(), time.Hour},
		{"snapshots unset", (&BackupSpec{}).ShouldSnapshotVolumes(), true},
		{"snapshots off", (&BackupSpec{SnapshotVolumes: &no}).ShouldSnapshotVolumes(), false},
		{"restore PVs unset", (&RestoreSpec{}).ShouldRestorePVs(), true},
		{"hook timeout unset", (&ExecHook{}).EffectiveTimeout(), 30 * time.Second},
		{"hook onError unset", (&ExecHook{}).EffectiveOnError(), HookErrorModeContinue},
		{"hook onError Fail", (&ExecHook{OnError: HookErrorModeFail}).EffectiveOnError(), HookErrorModeFail},
		{"backup sync unset", (&Config{}).EffectiveBackupSyncPeriod(), time.Hour},
		{"gc sync unset", (&Config{}).EffectiveGCSyncPeriod(), time.Hour},
		{"schedule sync unset", (&Config{}).EffectiveScheduleSyncPeriod(), time.Minute},
		{"priorities unset", (&Config{}).EffectiveResourcePriorities(), DefaultResourcePriorities},
		{"priorities set", (&Config{ResourcePriorities: []string{"secrets"}}).EffectiveResourcePriorities(), []string{"secrets"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
}

func TestPhasesFinal(t *testing.T) {
	for p, want := range map[BackupPhase]bool{BackupPhaseNew: false, BackupPhaseInProgress: false, BackupPhaseDeleting: false,
		BackupPhaseCompleted: true, BackupPhasePartiallyFailed: true, BackupPhaseFailed: true, BackupPhaseFailedValidation: true} {
		if p.IsFinal() != want {
			t.Errorf("%s.IsFinal() = %v, want %v", p, !want, want)
		}
	}
	for p, want := range map[RestorePhase]bool{RestorePhaseNew: false, RestorePhaseInProgress: false,
		RestorePhaseCompleted: true, RestorePhasePartiallyFailed: true, RestorePhaseFailed: true, RestorePhaseFailedValidation: true} {
		if p.IsFinal() != want {
			t.Errorf("%s.IsFinal() = %v, want %v", p, !want, want)
		}
	}
}
