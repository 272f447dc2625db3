package controller

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/cloudprovider/filesystem"
	"github.com/heptio/ark/pkg/persistence"
)

// newTestBucket returns a BackupStore on a new directory bucket.
func newTestBucket(t *testing.T) (*persistence.BackupStore, string) {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "bucket"), 0o700); err != nil {
		t.Fatal(err)
	}
	fs, err := filesystem.New(filesystem.Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	store, err := persistence.NewBackupStore(fs, "bucket", "")
	if err != nil {
		t.Fatal(err)
	}
	return store, filepath.Join(root, "bucket")
}

// putBackup writes b whole into the bucket, with a restore log beside it.
func putBackup(t *testing.T, store *persistence.BackupStore, b *arkv1.Backup) {
	t.Helper()
	ctx := context.Background()
	if err := store.PutBackupObject(ctx, b, bytes.NewReader([]byte("tarball")), bytes.NewReader([]byte("log"))); err != nil {
		t.Fatal(err)
	}
	if err := store.PutRestoreLog(ctx, b.Name, b.Name+"-r1", bytes.NewReader([]byte("restore log"))); err != nil {
		t.Fatal(err)
	}
}

func filesOf(t *testing.T, bucketDir, backup string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(bucketDir, backup))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

type fakeSnapshotDeleter struct {
	mu      sync.Mutex
	deleted []string
	fail    map[string]error
}

func (f *fakeSnapshotDeleter) DeleteSnapshot(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail[id]; err != nil {
		return err
	}
	f.deleted = append(f.deleted, id)
	return nil
}

func completedBackup(name, started, expires string) *arkv1.Backup {
	return &arkv1.Backup{
		ObjectMeta: metav1.ObjectMeta{Namespace: lcNS, Name: name, UID: types.UID("uid-" + name)},
		Spec:       arkv1.BackupSpec{TTL: metav1.Duration{Duration: time.Hour}},
		Status: arkv1.BackupStatus{
			Phase:               arkv1.BackupPhaseCompleted,
			StartTimestamp:      mtime(started),
			CompletionTimestamp: mtime(started),
			Expiration:          mtime(expires),
		},
	}
}

func restoreOf(name, backup string, phase arkv1.RestorePhase) *arkv1.Restore {
	return &arkv1.Restore{
		ObjectMeta: metav1.ObjectMeta{Namespace: lcNS, Name: name, UID: types.UID("uid-" + name)},
		Spec:       arkv1.RestoreSpec{BackupName: backup},
		Status:     arkv1.RestoreStatus{Phase: phase},
	}
}

// runGC syncs key until it settles (no more requeue for retry), refreshing
// the listers between syncs as informers would; it returns the last result.
func runGC(t *testing.T, e *lcEnv, c *GCController, key string, rounds int) (time.Duration, error) {
	t.Helper()
	var d time.Duration
	var err error
	for i := 0; i < rounds; i++ {
		e.refresh()
		d, err = c.Sync(context.Background(), key)
	}
	e.refresh()
	return d, err
}

func TestGCExpiredBackupRemovedCompletely(t *testing.T) {
	store, bucketDir := newTestBucket(t)
	expired := completedBackup("old", "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z")
	expired.Status.VolumeBackups = map[string]*arkv1.VolumeBackupInfo{
		"pv-a": {SnapshotID: "snap-a"}, "pv-b": {SnapshotID: "snap-b"},
	}
	live := completedBackup("live", "2026-01-01T00:00:00Z", "2026-01-01T03:00:00Z")
	putBackup(t, store, expired)
	putBackup(t, store, live)
	e := newLCEnv(t, utc("2026-01-01T02:00:00Z"), expired, live,
		restoreOf("old-r1", "old", arkv1.RestorePhaseCompleted),
		restoreOf("old-r2", "old", arkv1.RestorePhaseFailed),
		restoreOf("live-r1", "live", arkv1.RestorePhaseCompleted))
	snaps := &fakeSnapshotDeleter{}
	v1 := e.informers.Ark().V1()
	c := NewGCController(v1.Backups().Lister(), v1.Restores().Lister(), e.client.ArkV1(), store, snaps, e.clock, time.Hour)

	// The periodic pass enqueues every backup.
	var queued []string
	c.enqueue = func(k string) { queued = append(queued, k) }
	if d, err := c.Sync(context.Background(), GCResyncKey); err != nil || d != time.Hour {
		t.Fatalf("resync = %v, %v", d, err)
	}
	slices.Sort(queued)
	if !slices.Equal(queued, []string{lcNS + "/live", lcNS + "/old"}) {
		t.Fatalf("queued %v", queued)
	}

	// live: finalizer added, requeued at its expiry.
	d, err := runGC(t, e, c, lcNS+"/live", 1)
	if err != nil {
		t.Fatal(err)
	}
	if d != time.Hour+time.Second {
		t.Errorf("live requeue = %v, want 1h1s", d)
	}
	if b := e.backups()["live"]; !slices.Contains(b.Finalizers, GCFinalizer) {
		t.Errorf("live finalizers = %v", b.Finalizers)
	}

	// old: finalizer, delete, cleanup.
	if _, err := runGC(t, e, c, lcNS+"/old", 3); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.backups()["old"]; ok {
		t.Fatalf("expired backup still present: %+v", e.backups()["old"])
	}
	if f := filesOf(t, bucketDir, "old"); len(f) != 0 {
		t.Errorf("files of the expired backup left in the bucket: %v", f)
	}
	if f := filesOf(t, bucketDir, "live"); len(f) != 4 {
		t.Errorf("files of the live backup = %v, want 4", f)
	}
	slices.Sort(snaps.deleted)
	if !slices.Equal(snaps.deleted, []string{"snap-a", "snap-b"}) {
		t.Errorf("snapshots deleted = %v", snaps.deleted)
	}
	rl, _ := e.client.ArkV1().Restores(lcNS).List(context.Background(), metav1.ListOptions{})
	if len(rl.Items) != 1 || rl.Items[0].Name != "live-r1" {
		t.Errorf("restores left = %v, want only live-r1", rl.Items)
	}
	// The phase went through Deleting.
	sawDeleting := false
	for _, a := range e.client.Actions() {
		if u, ok := a.(interface{ GetObject() runtime.Object }); ok && a.GetSubresource() == "status" {
			if b, ok := u.GetObject().(*arkv1.Backup); ok && b.Status.Phase == arkv1.BackupPhaseDeleting {
				sawDeleting = true
			}
		}
	}
	if !sawDeleting {
		t.Error("the backup was never set to phase Deleting")
	}
}

func TestGCDeletion(t *testing.T) {
	deleting := func(b *arkv1.Backup) *arkv1.Backup {
		now := metav1.NewTime(utc("2026-01-01T00:30:00Z"))
		b.DeletionTimestamp = &now
		b.Finalizers = []string{GCFinalizer}
		return b
	}
	tests := []struct {
		name         string
		backup       *arkv1.Backup
		inBucket     *arkv1.Backup // metadata in the bucket, if any
		restores     []runtime.Object
		snaps        SnapshotDeleter
		wantGone     bool
		wantFiles    bool // the bucket files are still there
		wantErr      string
		wantRequeue  time.Duration
		wantPhase    arkv1.BackupPhase
		wantReasonIn string
	}{
		{
			name:     "ark backup delete: removed completely",
			backup:   deleting(completedBackup("b", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z")),
			inBucket: completedBackup("b", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"),
			restores: []runtime.Object{restoreOf("b-r", "b", arkv1.RestorePhaseCompleted)},
			wantGone: true,
		},
		{
			name: "in progress: never deleted until final",
			backup: func() *arkv1.Backup {
				b := deleting(completedBackup("b", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"))
				b.Status.Phase = arkv1.BackupPhaseInProgress
				return b
			}(),
			inBucket:    completedBackup("b", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"),
			wantFiles:   true,
			wantRequeue: gcWaitInterval,
			wantPhase:   arkv1.BackupPhaseInProgress,
		},
		{
			name:        "a restore of it in progress: waits",
			backup:      deleting(completedBackup("b", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z")),
			inBucket:    completedBackup("b", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"),
			restores:    []runtime.Object{restoreOf("b-r", "b", arkv1.RestorePhaseInProgress)},
			wantFiles:   true,
			wantRequeue: gcWaitInterval,
			wantPhase:   arkv1.BackupPhaseCompleted,
		},
		{
			name: "snapshots and no provider: kept, Deleting with the reason, files kept",
			backup: func() *arkv1.Backup {
				b := deleting(completedBackup("b", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"))
				b.Status.VolumeBackups = map[string]*arkv1.VolumeBackupInfo{"pv": {SnapshotID: "snap-1"}}
				return b
			}(),
			inBucket:     completedBackup("b", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"),
			wantFiles:    true,
			wantErr:      "no persistentVolumeProvider",
			wantPhase:    arkv1.BackupPhaseDeleting,
			wantReasonIn: "snap-1",
		},
		{
			name: "a snapshot that cannot be deleted: kept, retried",
			backup: func() *arkv1.Backup {
				b := deleting(completedBackup("b", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"))
				b.Status.VolumeBackups = map[string]*arkv1.VolumeBackupInfo{"pv": {SnapshotID: "snap-1"}}
				return b
			}(),
			inBucket:     completedBackup("b", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"),
			snaps:        &fakeSnapshotDeleter{fail: map[string]error{"snap-1": errors.New("throttled")}},
			wantFiles:    true,
			wantErr:      "throttled",
			wantPhase:    arkv1.BackupPhaseDeleting,
			wantReasonIn: "throttled",
		},
		{
			name: "name clash: the bucket's backup of that name is another one; its files are left alone",
			backup: func() *arkv1.Backup {
				b := deleting(completedBackup("b", "2026-01-05T00:00:00Z", "2026-02-01T00:00:00Z"))
				b.UID = "uid-this-cluster"
				b.Status.Phase = arkv1.BackupPhaseFailed
				return b
			}(),
			inBucket:  completedBackup("b", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"),
			wantGone:  true,
			wantFiles: true,
		},
		{
			name: "a New backup deleted: nothing in the bucket is touched",
			backup: func() *arkv1.Backup {
				b := deleting(&arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: lcNS, Name: "b", UID: "uid-b"}})
				return b
			}(),
			inBucket:  completedBackup("b", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"),
			wantGone:  true,
			wantFiles: true,
		},
		{
			name: "synced from the bucket (other UID, same start): files deleted",
			backup: func() *arkv1.Backup {
				b := deleting(completedBackup("b", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"))
				b.UID = "another-cluster"
				return b
			}(),
			inBucket: completedBackup("b", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"),
			wantGone: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, bucketDir := newTestBucket(t)
			if tt.inBucket != nil {
				putBackup(t, store, tt.inBucket)
			}
			e := newLCEnv(t, utc("2026-01-01T01:00:00Z"), append([]runtime.Object{tt.backup}, tt.restores...)...)
			v1 := e.informers.Ark().V1()
			c := NewGCController(v1.Backups().Lister(), v1.Restores().Lister(), e.client.ArkV1(), store, tt.snaps, e.clock, time.Hour)
			d, err := runGC(t, e, c, lcNS+"/b", 2)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("Sync: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Sync error = %v, want one containing %q", err, tt.wantErr)
			}
			if d != tt.wantRequeue {
				t.Errorf("requeue = %v, want %v", d, tt.wantRequeue)
			}
			b, present := e.backups()["b"]
			if present == tt.wantGone {
				t.Fatalf("backup present = %v, want %v", present, !tt.wantGone)
			}
			if present {
				if b.Status.Phase != tt.wantPhase {
					t.Errorf("phase = %q, want %q", b.Status.Phase, tt.wantPhase)
				}
				if !strings.Contains(b.Status.FailureReason, tt.wantReasonIn) {
					t.Errorf("failureReason = %q, want it to contain %q", b.Status.FailureReason, tt.wantReasonIn)
				}
				if !slices.Contains(b.Finalizers, GCFinalizer) {
					t.Error("finalizer removed from a backup not deleted")
				}
			}
			if files := filesOf(t, bucketDir, "b"); (len(files) > 0) != tt.wantFiles {
				t.Errorf("files in the bucket = %v, want present=%v", files, tt.wantFiles)
			}
		})
	}
}

// TestGCRetriesAfterFailure: a cleanup that failed on a snapshot finishes
// once the provider recovers.
func TestGCRetriesAfterFailure(t *testing.T) {
	store, bucketDir := newTestBucket(t)
	b := completedBackup("b", "2026-01-01T00:00:00Z", "2026-01-01T00:30:00Z")
	b.Status.VolumeBackups = map[string]*arkv1.VolumeBackupInfo{"pv": {SnapshotID: "snap-1"}}
	putBackup(t, store, b)
	e := newLCEnv(t, utc("2026-01-01T01:00:00Z"), b)
	snaps := &fakeSnapshotDeleter{fail: map[string]error{"snap-1": errors.New("provider down")}}
	v1 := e.informers.Ark().V1()
	c := NewGCController(v1.Backups().Lister(), v1.Restores().Lister(), e.client.ArkV1(), store, snaps, e.clock, time.Hour)
	recorder := record.NewFakeRecorder(100)
	c.SetEventRecorder(recorder)
	if _, err := runGC(t, e, c, lcNS+"/b", 4); err == nil {
		t.Fatal("want an error while the provider is down")
	}
	got := e.backups()["b"]
	if got == nil || got.Status.Phase != arkv1.BackupPhaseDeleting || !strings.Contains(got.Status.FailureReason, "provider down") {
		t.Fatalf("while failing: %+v", got)
	}
	if len(filesOf(t, bucketDir, "b")) == 0 {
		t.Fatal("files deleted while snapshots remain")
	}
	var events []string
	for len(recorder.Events) > 0 {
		events = append(events, <-recorder.Events)
	}
	if len(events) < 2 || !strings.HasPrefix(events[0], "Normal Expired") || !strings.Contains(events[1], "Warning DeletionFailed") || !strings.Contains(events[1], "provider down") {
		t.Errorf("events = %q", events)
	}
	snaps.fail = nil
	if _, err := runGC(t, e, c, lcNS+"/b", 1); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.backups()["b"]; ok {
		t.Fatal("backup still present after the retry")
	}
	if f := filesOf(t, bucketDir, "b"); len(f) > 0 {
		t.Fatalf("files left: %v", f)
	}
}
