package output

import (
	"bytes"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
)

func TestRestoresTable(t *testing.T) {
	created := metav1.NewTime(time.Date(2017, 7, 27, 20, 5, 24, 0, time.UTC))
	older := metav1.NewTime(created.Add(-time.Hour))
	list := &arkv1.RestoreList{Items: []arkv1.Restore{
		{ObjectMeta: metav1.ObjectMeta{Name: "old", CreationTimestamp: older}, Spec: arkv1.RestoreSpec{BackupName: "b"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "nginx-backup-20170727200524", CreationTimestamp: created},
			Spec:   arkv1.RestoreSpec{BackupName: "nginx-backup"},
			Status: arkv1.RestoreStatus{Phase: arkv1.RestorePhaseCompleted}},
	}}
	var buf bytes.Buffer
	if err := Restores(&buf, list, "table"); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{
		"NAME                          BACKUP         STATUS      WARNINGS   ERRORS   CREATED                         SELECTOR",
		"nginx-backup-20170727200524   nginx-backup   Completed   0          0        2017-07-27 20:05:24 +0000 UTC   <none>",
		"old                           b              New         0          0        2017-07-27 19:05:24 +0000 UTC   <none>",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("table:\n%s\nwant:\n%s", buf.String(), strings.Join(want, "\n"))
	}
}

func TestBackupsYAMLHasKind(t *testing.T) {
	list := &arkv1.BackupList{Items: []arkv1.Backup{{ObjectMeta: metav1.ObjectMeta{Name: "b"}}}}
	var buf bytes.Buffer
	if err := Backups(&buf, list, "yaml", time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"kind: BackupList", "kind: Backup\n", "apiVersion: ark.heptio.com/v1", "name: b"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("yaml lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestExpires(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		in   *metav1.Time
		want string
	}{
		{nil, "n/a"},
		{&metav1.Time{Time: now.Add(-time.Second)}, "<expired>"},
		{&metav1.Time{Time: now.Add(720 * time.Hour)}, "30d"},
		{&metav1.Time{Time: now.Add(5 * time.Hour)}, "5h"},
		{&metav1.Time{Time: now.Add(90 * time.Second)}, "90s"},
	}
	for _, tt := range tests {
		if got := Expires(tt.in, now); got != tt.want {
			t.Errorf("Expires(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
