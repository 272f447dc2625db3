package restore

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/format"
	"github.com/heptio/ark/pkg/generated/clientset/versioned/fake"
)

func TestParseNamespaceMappings(t *testing.T) {
	tests := []struct {
		in      string
		want    map[string]string
		wantErr string
	}{
		{in: "", want: nil},
		{in: "abc:def,123:456", want: map[string]string{"abc": "def", "123": "456"}},
		{in: " abc:def , x:y", want: map[string]string{"abc": "def", "x": "y"}},
		{in: "abc", wantErr: "want source:target"},
		{in: "abc:", wantErr: "want source:target"},
		{in: "a:b,a:c", wantErr: `"a" is mapped twice`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseNamespaceMappings(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestRestoreObject(t *testing.T) {
	now := func() time.Time { return time.Date(2017, 7, 27, 20, 5, 24, 0, time.UTC) }
	tests := []struct {
		name     string
		args     []string
		wantName string
		wantPVs  *bool
		wantErr  string
		check    func(t *testing.T, s arkv1.RestoreSpec)
	}{
		{name: "default name", wantName: "nginx-backup-20170727200524"},
		{name: "custom name", args: []string{"--name", "mine"}, wantName: "mine"},
		{name: "volumes off", args: []string{"--restore-volumes=false"}, wantName: "nginx-backup-20170727200524", wantPVs: new(bool)},
		{name: "two to one", args: []string{"--namespace-mappings", "a:x,b:x"}, wantErr: "both map to x"},
		{name: "bad selector", args: []string{"--selector", "a in (b"}, wantErr: "invalid --selector"},
		{name: "update existing", args: []string{"--existing-resource-policy", "update", "--preserve-nodeports"}, wantName: "nginx-backup-20170727200524",
			check: func(t *testing.T, s arkv1.RestoreSpec) {
				if s.ExistingResourcePolicy != arkv1.ExistingResourcePolicyUpdate || s.PreserveNodePorts == nil || !*s.PreserveNodePorts {
					t.Errorf("spec %+v", s)
				}
			}},
		{name: "default policy left unset", wantName: "nginx-backup-20170727200524",
			check: func(t *testing.T, s arkv1.RestoreSpec) {
				if s.ExistingResourcePolicy != "" || s.PreserveNodePorts != nil {
					t.Errorf("spec %+v", s)
				}
			}},
		{name: "bad policy", args: []string{"--existing-resource-policy", "overwrite"}, wantErr: `existingResourcePolicy "overwrite" is not one of none, update`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &CreateOptions{BackupName: "nginx-backup", now: now}
			c := &cobra.Command{}
			o.BindFlags(c)
			if err := c.ParseFlags(tt.args); err != nil {
				t.Fatal(err)
			}
			r, err := o.Restore("heptio-ark")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Name != tt.wantName || r.Namespace != "heptio-ark" || r.Spec.BackupName != "nginx-backup" {
				t.Errorf("restore = %s/%s from %s", r.Namespace, r.Name, r.Spec.BackupName)
			}
			if !reflect.DeepEqual(r.Spec.RestorePVs, tt.wantPVs) {
				t.Errorf("restorePVs = %v, want %v", r.Spec.RestorePVs, tt.wantPVs)
			}
			if tt.check != nil {
				tt.check(t, r.Spec)
			}
		})
	}
}

func TestDefaultName(t *testing.T) {
	at := time.Date(2026, 11, 30, 10, 15, 0, 0, time.UTC)
	long := strings.Repeat("b", 250)
	tests := []struct {
		backup  string
		attempt int
		want    string
	}{
		{"daily", 0, "daily-20261130101500"},
		{"daily", 2, "daily-20261130101500-2"},
		{long, 0, strings.Repeat("b", 238) + "-20261130101500"},
		{strings.Repeat("b", 237) + "-x", 0, strings.Repeat("b", 237) + "-20261130101500"},
	}
	for _, tt := range tests {
		if got := DefaultName(tt.backup, at, tt.attempt); got != tt.want || len(got) > 253 {
			t.Errorf("DefaultName(%.20q..., %d) = %q, want %q", tt.backup, tt.attempt, got, tt.want)
		}
	}
}

// Two restores of one backup in the same second get distinct names; a name
// given with --name that is taken stays an error.
func TestCreateRestoreDefaultNamesNeverCollide(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset().ArkV1().Restores("heptio-ark")
	at := time.Date(2026, 11, 30, 10, 15, 0, 0, time.UTC)
	nameFor := func(attempt int) string { return DefaultName("b", at, attempt) }
	var names []string
	for i := 0; i < 3; i++ {
		r := &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Namespace: "heptio-ark", Name: nameFor(0)}, Spec: arkv1.RestoreSpec{BackupName: "b"}}
		created, err := createRestore(ctx, client, r, true, nameFor)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, created.Name)
	}
	if want := []string{"b-20261130101500", "b-20261130101500-1", "b-20261130101500-2"}; !reflect.DeepEqual(names, want) {
		t.Errorf("names = %v, want %v", names, want)
	}
	r := &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Namespace: "heptio-ark", Name: "b-20261130101500"}, Spec: arkv1.RestoreSpec{BackupName: "b"}}
	if _, err := createRestore(ctx, client, r, false, nameFor); !apierrors.IsAlreadyExists(err) {
		t.Errorf("an explicit name that is taken: err = %v, want AlreadyExists", err)
	}
}

func TestNewestCompletedBackup(t *testing.T) {
	ns := "heptio-ark"
	mk := func(name, schedule string, phase arkv1.BackupPhase, started string) *arkv1.Backup {
		b := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{format.ScheduleNameLabel: schedule}},
			Status: arkv1.BackupStatus{Phase: phase}}
		if started != "" {
			ts, _ := time.Parse(time.RFC3339, started)
			b.Status.StartTimestamp = &metav1.Time{Time: ts}
		}
		return b
	}
	client := fake.NewClientset(
		mk("daily-20261120070000", "daily", arkv1.BackupPhaseCompleted, "2026-11-20T07:00:00Z"),
		mk("daily-20261121070000", "daily", arkv1.BackupPhaseCompleted, "2026-11-21T07:00:00Z"),
		mk("daily-20261122070000", "daily", arkv1.BackupPhasePartiallyFailed, "2026-11-22T07:00:00Z"),
		mk("daily-20261123070000", "daily", arkv1.BackupPhaseInProgress, "2026-11-23T07:00:00Z"),
		mk("hourly-1", "hourly", arkv1.BackupPhaseFailed, "2026-11-23T07:00:00Z"),
		mk("other", "weekly", arkv1.BackupPhaseCompleted, "2026-11-24T07:00:00Z"),
	)
	backups := client.ArkV1().Backups(ns)
	tests := []struct {
		schedule, want, wantErr string
	}{
		{schedule: "daily", want: "daily-20261121070000"},
		{schedule: "hourly", wantErr: `schedule "hourly" has no Completed backup (its backups: 1 Failed)`},
		{schedule: "none", wantErr: `schedule "none" has no backups`},
	}
	for _, tt := range tests {
		t.Run(tt.schedule, func(t *testing.T) {
			got, err := NewestCompletedBackup(context.Background(), backups, tt.schedule)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got.Name != tt.want {
				t.Fatalf("got %v, %v; want %s", got, err, tt.want)
			}
		})
	}
}

func TestCreateArguments(t *testing.T) {
	tests := []struct {
		name                          string
		args                          []string
		o                             CreateOptions
		wantBackup, wantName, wantErr string
	}{
		{name: "positional backup", args: []string{"b"}, wantBackup: "b"},
		{name: "from-backup", o: CreateOptions{FromBackup: "b"}, wantBackup: "b"},
		{name: "from-backup with restore name", args: []string{"r"}, o: CreateOptions{FromBackup: "b"}, wantBackup: "b", wantName: "r"},
		{name: "from-schedule with restore name", args: []string{"r"}, o: CreateOptions{FromSchedule: "daily"}, wantName: "r"},
		{name: "name twice", args: []string{"r"}, o: CreateOptions{FromBackup: "b", Name: "s"}, wantErr: "name once"},
		{name: "both", o: CreateOptions{FromBackup: "b", FromSchedule: "s"}, wantErr: "not both"},
		{name: "nothing", wantErr: "name the backup to restore"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.o
			err := o.Complete(tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || o.BackupName != tt.wantBackup || o.Name != tt.wantName {
				t.Errorf("backup %q name %q err %v; want %q %q", o.BackupName, o.Name, err, tt.wantBackup, tt.wantName)
			}
		})
	}
}
