package controller

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/format"
	"github.com/heptio/ark/pkg/persistence"
)

// flakyStore is a bucket whose listing can be made to fail or come back empty.
type flakyStore struct {
	*persistence.BackupStore
	listErr   error
	listEmpty bool
	listDrop  map[string]bool // names left out of the listing (a glitch)
}

func (s *flakyStore) ListBackups(ctx context.Context) ([]string, error) {
	if s.listErr != nil {
		return nil, s.listErr
	}
	if s.listEmpty {
		return nil, nil
	}
	names, err := s.BackupStore.ListBackups(ctx)
	return slices.DeleteFunc(names, func(n string) bool { return s.listDrop[n] }), err
}

func bucketBackup(name string, phase arkv1.BackupPhase) *arkv1.Backup {
	b := completedBackup(name, "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z")
	b.Labels = map[string]string{"app": "shop", format.ScheduleNameLabel: "daily"}
	b.Spec.IncludedNamespaces = []string{"shop"}
	b.Status.Phase = phase
	b.Status.Warnings = 2
	return b
}

func TestBackupSyncImports(t *testing.T) {
	store, bucketDir := newTestBucket(t)
	for _, b := range []*arkv1.Backup{
		bucketBackup("completed", arkv1.BackupPhaseCompleted),
		bucketBackup("partial", arkv1.BackupPhasePartiallyFailed),
		bucketBackup("failed", arkv1.BackupPhaseFailed),
		bucketBackup("inprogress", arkv1.BackupPhaseInProgress),
		bucketBackup("new", arkv1.BackupPhaseNew),
		bucketBackup("already", arkv1.BackupPhaseCompleted),
	} {
		putBackup(t, store, b)
	}
	// A folder whose metadata names another backup (a copy, junk) is not imported.
	putBackup(t, store, bucketBackup("copy", arkv1.BackupPhaseCompleted))
	meta, _ := json.Marshal(bucketBackup("original", arkv1.BackupPhaseCompleted))
	if err := os.WriteFile(filepath.Join(bucketDir, "copy", format.MetadataFile), meta, 0o600); err != nil {
		t.Fatal(err)
	}
	existing := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: lcNS, Name: "already"}, Status: arkv1.BackupStatus{Phase: arkv1.BackupPhaseCompleted}}
	e := newLCEnv(t, utc("2026-01-02T00:00:00Z"), existing)
	c := NewBackupSyncController(e.informers.Ark().V1().Backups().Lister(), e.client.ArkV1(), store, lcNS, time.Hour)

	if d := c.pass(context.Background()); d != time.Hour {
		t.Fatalf("pass = %v; want 1h", d)
	}
	got := e.backups()
	if len(got) != 4 {
		t.Fatalf("backups = %v, want already, completed, partial, failed", keys(got))
	}
	for name, phase := range map[string]arkv1.BackupPhase{"completed": arkv1.BackupPhaseCompleted, "partial": arkv1.BackupPhasePartiallyFailed, "failed": arkv1.BackupPhaseFailed} {
		b := got[name]
		if b == nil {
			t.Errorf("%s not imported", name)
			continue
		}
		if b.Status.Phase != phase || b.Status.Warnings != 2 || b.Status.Expiration == nil {
			t.Errorf("%s status = %+v", name, b.Status)
		}
		if b.Labels["app"] != "shop" || b.Labels[format.ScheduleNameLabel] != "daily" || b.Annotations[format.SyncedFromBucketAnnotation] != "true" {
			t.Errorf("%s labels %v annotations %v", name, b.Labels, b.Annotations)
		}
		if !slices.Equal(b.Spec.IncludedNamespaces, []string{"shop"}) {
			t.Errorf("%s spec = %+v", name, b.Spec)
		}
	}
	if got["already"].Annotations[format.SyncedFromBucketAnnotation] != "" {
		t.Error("an existing object was overwritten")
	}
	// A second pass imports nothing more.
	e.refresh()
	creates := e.countActions("create", "backups")
	if res := c.SyncOnce(context.Background()); res.Imported != 0 || res.Removed != 0 {
		t.Errorf("second pass = %+v", res)
	}
	if n := e.countActions("create", "backups"); n != creates {
		t.Errorf("creates went from %d to %d", creates, n)
	}
}

// TestBackupSyncFinishesInterruptedImport: an imported object left New by a
// server that stopped before setting its status gets it on the next pass.
func TestBackupSyncFinishesInterruptedImport(t *testing.T) {
	store, _ := newTestBucket(t)
	putBackup(t, store, bucketBackup("completed", arkv1.BackupPhaseCompleted))
	left := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: lcNS, Name: "completed",
		Annotations: map[string]string{format.SyncedFromBucketAnnotation: "true"}}}
	e := newLCEnv(t, utc("2026-01-02T00:00:00Z"), left)
	c := NewBackupSyncController(e.informers.Ark().V1().Backups().Lister(), e.client.ArkV1(), store, lcNS, time.Hour)
	c.SyncOnce(context.Background())
	if got := e.backups()["completed"]; got.Status.Phase != arkv1.BackupPhaseCompleted || got.Status.Warnings != 2 {
		t.Fatalf("status = %+v", got.Status)
	}
}

// TestBackupSyncImportNeverLeavesNew: if the status of an imported object
// cannot be set, the object is deleted rather than left New (new work).
func TestBackupSyncImportNeverLeavesNew(t *testing.T) {
	store, _ := newTestBucket(t)
	putBackup(t, store, bucketBackup("completed", arkv1.BackupPhaseCompleted))
	e := newLCEnv(t, utc("2026-01-02T00:00:00Z"))
	e.client.PrependReactor("update", "backups", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() == "status" {
			return true, nil, errors.New("apiserver unavailable")
		}
		return false, nil, nil
	})
	c := NewBackupSyncController(e.informers.Ark().V1().Backups().Lister(), e.client.ArkV1(), store, lcNS, time.Hour)
	if res := c.SyncOnce(context.Background()); res.Imported != 0 {
		t.Fatalf("result %+v", res)
	}
	if got := e.backups(); len(got) != 0 {
		t.Fatalf("backups left = %v", keys(got))
	}
}

func TestBackupSyncRemoval(t *testing.T) {
	type pass struct {
		deleteFromBucket []string
		listErr          error
		listEmpty        bool
		listDrop         []string
		wantRemoved      []string // removed by this pass
	}
	tests := []struct {
		name   string
		passes []pass
	}{
		{
			name: "a backup whose files vanished is removed on the next pass",
			passes: []pass{
				{},
				{deleteFromBucket: []string{"a"}, wantRemoved: []string{"a"}},
			},
		},
		{
			name: "the first pass after a start removes nothing",
			passes: []pass{
				{deleteFromBucket: []string{"a"}},
				{},
			},
		},
		{
			name: "a failed listing removes nothing",
			passes: []pass{
				{},
				{deleteFromBucket: []string{"a", "b"}, listErr: errors.New("503 slow down")},
			},
		},
		{
			name: "an empty listing removes nothing, nor does the pass after it",
			passes: []pass{
				{},
				{listEmpty: true},
				{deleteFromBucket: []string{"a"}},
			},
		},
		{
			name: "a backup left out of the listing but whose metadata still reads is kept",
			passes: []pass{
				{},
				{listDrop: []string{"a"}},
			},
		},
		{
			name: "only Completed and PartiallyFailed objects are removed",
			passes: []pass{
				{},
				{deleteFromBucket: []string{"a", "failed"}, wantRemoved: []string{"a"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, _ := newTestBucket(t)
			store := &flakyStore{BackupStore: base}
			var objs []runtime.Object
			for _, name := range []string{"a", "b", "c", "failed"} {
				phase := arkv1.BackupPhaseCompleted
				if name == "failed" {
					phase = arkv1.BackupPhaseFailed
				}
				b := bucketBackup(name, phase)
				putBackup(t, base, b)
				objs = append(objs, b.DeepCopy())
			}
			e := newLCEnv(t, utc("2026-01-02T00:00:00Z"), objs...)
			c := NewBackupSyncController(e.informers.Ark().V1().Backups().Lister(), e.client.ArkV1(), store, lcNS, time.Hour)
			present := map[string]bool{"a": true, "b": true, "c": true, "failed": true}
			for i, p := range tt.passes {
				for _, n := range p.deleteFromBucket {
					if err := base.DeleteBackup(context.Background(), n); err != nil {
						t.Fatal(err)
					}
				}
				store.listErr, store.listEmpty = p.listErr, p.listEmpty
				store.listDrop = map[string]bool{}
				for _, n := range p.listDrop {
					store.listDrop[n] = true
				}
				e.refresh()
				d := c.pass(context.Background())
				if p.listErr != nil && d != time.Minute {
					t.Errorf("pass %d: requeue after a failed listing = %v, want 1m", i, d)
				}
				for _, n := range p.wantRemoved {
					delete(present, n)
				}
				got := e.backups()
				for n := range present {
					if _, ok := got[n]; !ok {
						t.Errorf("pass %d: %s removed", i, n)
					}
				}
				for n := range got {
					if !present[n] {
						t.Errorf("pass %d: %s not removed", i, n)
					}
				}
			}
		})
	}
}

// TestBackupSyncRemovalDeletesNoSnapshot: an object whose files vanished is
// removed, and nothing else: no snapshot, no request.
func TestBackupSyncRemovalDeletesNoSnapshot(t *testing.T) {
	base, _ := newTestBucket(t)
	b := bucketBackup("a", arkv1.BackupPhaseCompleted)
	b.Status.VolumeBackups = map[string]*arkv1.VolumeBackupInfo{"pv": {SnapshotID: "snap-a"}}
	putBackup(t, base, b)
	putBackup(t, base, bucketBackup("keep", arkv1.BackupPhaseCompleted))
	e := newLCEnv(t, utc("2026-01-02T00:00:00Z"), b.DeepCopy())
	c := NewBackupSyncController(e.informers.Ark().V1().Backups().Lister(), e.client.ArkV1(), base, lcNS, time.Hour)
	c.SyncOnce(context.Background())
	if err := base.DeleteBackup(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	e.refresh()
	if res := c.SyncOnce(context.Background()); res.Removed != 1 {
		t.Fatalf("result %+v", res)
	}
	if _, ok := e.backups()["a"]; ok {
		t.Fatal("object not removed")
	}
	if len(e.requests()) != 0 {
		t.Fatal("the sync requested a deletion")
	}
}
