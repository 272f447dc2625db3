package output

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/format"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// now is the fixed time of every golden table.
var now = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(d)) }
func atp(d time.Duration) *metav1.Time {
	t := at(d)
	return &t
}

var backups = []arkv1.Backup{
	{
		ObjectMeta: metav1.ObjectMeta{Namespace: "heptio-ark", Name: "nginx-backup", CreationTimestamp: at(-2 * time.Hour), Labels: map[string]string{"app": "nginx", "tier": "web"}},
		Spec:       arkv1.BackupSpec{LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "nginx"}}},
		Status: arkv1.BackupStatus{Phase: arkv1.BackupPhaseCompleted, Expiration: atp(718 * time.Hour),
			Progress: &arkv1.BackupProgress{TotalItems: 12, ItemsBackedUp: 12}, Warnings: 1},
	},
	{
		ObjectMeta: metav1.ObjectMeta{Namespace: "heptio-ark", Name: "daily-20261121070000", CreationTimestamp: at(-5 * time.Hour), Labels: map[string]string{format.ScheduleNameLabel: "daily"}},
		Status:     arkv1.BackupStatus{Phase: arkv1.BackupPhasePartiallyFailed, Expiration: atp(-time.Minute), Errors: 2},
	},
	{
		ObjectMeta: metav1.ObjectMeta{Namespace: "heptio-ark", Name: "fresh", CreationTimestamp: at(0)},
	},
}

var restores = []arkv1.Restore{
	{
		ObjectMeta: metav1.ObjectMeta{Namespace: "heptio-ark", Name: "nginx-backup-20261121115900", CreationTimestamp: at(-time.Minute)},
		Spec:       arkv1.RestoreSpec{BackupName: "nginx-backup"},
		Status: arkv1.RestoreStatus{Phase: arkv1.RestorePhaseCompleted, Warnings: 3, Updated: 1, Unchanged: 2,
			Progress: &arkv1.RestoreProgress{TotalItems: 12, ItemsRestored: 12}},
	},
	{
		ObjectMeta: metav1.ObjectMeta{Namespace: "heptio-ark", Name: "old", CreationTimestamp: at(-48 * time.Hour), Labels: map[string]string{"team": "a"}},
		Spec:       arkv1.RestoreSpec{BackupName: "b", LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}},
	},
}

var schedules = []arkv1.Schedule{
	{
		ObjectMeta: metav1.ObjectMeta{Namespace: "heptio-ark", Name: "daily", CreationTimestamp: at(-72 * time.Hour)},
		Spec:       arkv1.ScheduleSpec{Schedule: "0 7 * * *", Template: arkv1.BackupSpec{TTL: metav1.Duration{Duration: 72 * time.Hour}}},
		Status:     arkv1.ScheduleStatus{Phase: arkv1.SchedulePhaseEnabled, LastBackup: atp(-5 * time.Hour)},
	},
	{
		ObjectMeta: metav1.ObjectMeta{Namespace: "heptio-ark", Name: "hourly", CreationTimestamp: at(-time.Hour), Labels: map[string]string{"env": "prod"}},
		Spec:       arkv1.ScheduleSpec{Schedule: "@every 1h", Paused: true, Template: arkv1.BackupSpec{LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}}},
		Status:     arkv1.ScheduleStatus{Phase: arkv1.SchedulePhasePaused},
	},
	{
		ObjectMeta: metav1.ObjectMeta{Namespace: "heptio-ark", Name: "broken", CreationTimestamp: at(-time.Minute)},
		Spec:       arkv1.ScheduleSpec{Schedule: "not cron"},
		Status:     arkv1.ScheduleStatus{Phase: arkv1.SchedulePhaseFailedValidation},
	},
}

// fixture returns List and Get over items; the selector "a=b" selects none, "fail" fails.
func fixture[T any, PT interface {
	*T
	metav1.Object
}](kind string, items []T) (func(context.Context, string) ([]T, []error, error), func(context.Context, string) (*T, error)) {
	list := func(_ context.Context, selector string) ([]T, []error, error) {
		switch selector {
		case "a=b":
			return nil, nil, nil
		case "fail":
			return nil, nil, errors.New("server down")
		case "one-bad":
			return items[:1], []error{errors.New(kind + " heptio-ark/x cannot be read")}, nil
		}
		return append([]T(nil), items...), nil, nil
	}
	get := func(_ context.Context, name string) (*T, error) {
		for i := range items {
			if PT(&items[i]).GetName() == name {
				item := items[i]
				return &item, nil
			}
		}
		return nil, apierrors.NewNotFound(schema.GroupResource{Group: "ark.heptio.com", Resource: strings.ToLower(kind) + "s"}, name)
	}
	return list, get
}

func backupGet() GetCommand[arkv1.Backup, *arkv1.Backup] {
	list, get := fixture[arkv1.Backup]("Backup", backups)
	return GetCommand[arkv1.Backup, *arkv1.Backup]{Kind: "Backup", Plural: "backups", List: list, Get: get,
		Columns: BackupColumns, ToList: func(i []arkv1.Backup) runtime.Object { return &arkv1.BackupList{Items: i} },
		Now: func() time.Time { return now }}
}

func restoreGet() GetCommand[arkv1.Restore, *arkv1.Restore] {
	list, get := fixture[arkv1.Restore]("Restore", restores)
	return GetCommand[arkv1.Restore, *arkv1.Restore]{Kind: "Restore", Plural: "restores", List: list, Get: get,
		Columns: func(time.Time) Columns[arkv1.Restore] { return RestoreColumns() },
		ToList:  func(i []arkv1.Restore) runtime.Object { return &arkv1.RestoreList{Items: i} },
		Now:     func() time.Time { return now }}
}

func scheduleGet() GetCommand[arkv1.Schedule, *arkv1.Schedule] {
	list, get := fixture[arkv1.Schedule]("Schedule", schedules)
	return GetCommand[arkv1.Schedule, *arkv1.Schedule]{Kind: "Schedule", Plural: "schedules", List: list, Get: get,
		Columns: ScheduleColumns, ToList: func(i []arkv1.Schedule) runtime.Object { return &arkv1.ScheduleList{Items: i} },
		Now: func() time.Time { return now }}
}

// TestGetGolden runs `get` of each kind in each output format and compares stdout and
// stderr with testdata/<name>.golden (go test -update rewrites them).
func TestGetGolden(t *testing.T) {
	kinds := map[string]func() interface {
		run(args []string) (string, string, error)
	}{
		"backup": func() interface {
			run([]string) (string, string, error)
		} {
			return runner[arkv1.Backup]{backupGet()}
		},
		"restore": func() interface {
			run([]string) (string, string, error)
		} {
			return runner[arkv1.Restore]{restoreGet()}
		},
		"schedule": func() interface {
			run([]string) (string, string, error)
		} {
			return runner[arkv1.Schedule]{scheduleGet()}
		},
	}
	tests := []struct {
		name    string
		kind    string
		args    []string
		wantErr string
	}{
		{name: "backups-table", kind: "backup"},
		{name: "backups-wide", kind: "backup", args: []string{"-o", "wide"}},
		{name: "backups-show-labels", kind: "backup", args: []string{"--show-labels"}},
		{name: "backups-label-columns", kind: "backup", args: []string{"-L", "app,tier", "-L", format.ScheduleNameLabel}},
		{name: "backups-no-headers", kind: "backup", args: []string{"--no-headers"}},
		{name: "backups-name", kind: "backup", args: []string{"-o", "name"}},
		{name: "backups-json-list", kind: "backup", args: []string{"-o", "json"}},
		{name: "backups-yaml-two", kind: "backup", args: []string{"nginx-backup", "fresh", "-o", "yaml"}},
		{name: "backup-json-one", kind: "backup", args: []string{"nginx-backup", "-o", "json"}},
		{name: "backup-yaml-one", kind: "backup", args: []string{"nginx-backup", "-o", "yaml"}},
		{name: "backup-table-one", kind: "backup", args: []string{"fresh"}},
		{name: "backups-jsonpath", kind: "backup", args: []string{"-o", "jsonpath={range .items[*]}{.metadata.name}={.status.phase}{\"\\n\"}{end}"}},
		{name: "backup-jsonpath-one", kind: "backup", args: []string{"nginx-backup", "-o", "jsonpath={.status.expiration}"}},
		{name: "backups-go-template", kind: "backup", args: []string{"-o", "go-template={{range .items}}{{.metadata.name}} {{end}}"}},
		{name: "backups-empty-table", kind: "backup", args: []string{"-l", "a=b"}},
		{name: "backups-empty-json", kind: "backup", args: []string{"-l", "a=b", "-o", "json"}},
		{name: "backups-one-bad", kind: "backup", args: []string{"-l", "one-bad"}},
		{name: "backups-not-found", kind: "backup", args: []string{"nginx-backup", "nope"}, wantErr: "backup nope not found"},
		{name: "restores-table", kind: "restore"},
		{name: "restores-wide", kind: "restore", args: []string{"-o", "wide", "--show-labels"}},
		{name: "restore-json-one", kind: "restore", args: []string{"old", "-o", "json"}},
		{name: "restores-name", kind: "restore", args: []string{"-o", "name"}},
		{name: "restores-empty", kind: "restore", args: []string{"-l", "a=b"}},
		{name: "schedules-table", kind: "schedule"},
		{name: "schedules-wide-labels", kind: "schedule", args: []string{"-o", "wide", "-L", "env"}},
		{name: "schedule-yaml-one", kind: "schedule", args: []string{"hourly", "-o", "yaml"}},
		{name: "schedules-empty", kind: "schedule", args: []string{"-l", "a=b", "-o", "name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, err := kinds[tt.kind]().run(tt.args)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			got := stdout
			if stderr != "" {
				got += "--- stderr\n" + stderr
			}
			path := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("%s differs:\n%s\nwant:\n%s", path, got, want)
			}
		})
	}
}

type runner[T any] struct {
	g interface {
		Command(func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective)) *cobra.Command
	}
}

func (r runner[T]) run(args []string) (string, string, error) {
	c := r.g.Command(nil)
	var out, errOut bytes.Buffer
	c.SetOut(&out)
	c.SetErr(&errOut)
	c.SilenceErrors = true
	c.SilenceUsage = true
	c.SetArgs(append([]string{}, args...)) // nil would mean os.Args
	err := c.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func TestGetRejects(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
	}{
		{args: []string{"nginx-backup", "-l", "app=nginx"}, wantErr: "names and --selector (-l) cannot be used together"},
		{args: []string{"-o", "xml"}, wantErr: `invalid --output "xml"`},
		{args: []string{"-o", "jsonpath={.items[}"}, wantErr: "jsonpath"},
		{args: []string{"-l", "fail"}, wantErr: "listing backups: server down"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			stdout, _, err := runner[arkv1.Backup]{backupGet()}.run(tt.args)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if stdout != "" {
				t.Errorf("printed %q with an error", stdout)
			}
		})
	}
}

// `get NAME -o json` prints the object itself, not a one-item list (kubectl's behaviour).
func TestGetOneNameIsTheObject(t *testing.T) {
	stdout, _, err := runner[arkv1.Backup]{backupGet()}.run([]string{"nginx-backup", "-o", "json"})
	if err != nil {
		t.Fatal(err)
	}
	var b arkv1.Backup
	if err := json.Unmarshal([]byte(stdout), &b); err != nil {
		t.Fatal(err)
	}
	if b.Kind != "Backup" || b.APIVersion != "ark.heptio.com/v1" || b.Name != "nginx-backup" || b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Errorf("got %s %s %s %s, want the Backup nginx-backup", b.APIVersion, b.Kind, b.Name, b.Status.Phase)
	}
}
