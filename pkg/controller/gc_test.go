package controller

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/cloudprovider"
	"github.com/heptio/ark/pkg/cloudprovider/filesystem"
	"github.com/heptio/ark/pkg/format"
	"github.com/heptio/ark/pkg/persistence"
)

// newTestBucket returns a BackupStore on a new directory bucket, and the
// bucket's directory.
func newTestBucket(t *testing.T) (*persistence.BackupStore, string) {
	t.Helper()
	root := t.TempDir()
	return newBucketAt(t, root), filepath.Join(root, "bucket")
}

// newBucketAt returns a BackupStore on the directory bucket "bucket" under
// root, made if missing (another store on the same root sees the same files).
func newBucketAt(t *testing.T, root string) *persistence.BackupStore {
	t.Helper()
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
	return store
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

// fakeSnapshotDeleter is a cloud whose snapshots carry the backup tags in tags
// (a snapshot absent from tags does not exist).
type fakeSnapshotDeleter struct {
	mu      sync.Mutex
	deleted []string
	fail    map[string]error
	tags    map[string]string // snapshot ID -> its backup tag
}

func (f *fakeSnapshotDeleter) SnapshotBackupTag(_ context.Context, id string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	tag, ok := f.tags[id]
	if !ok {
		return "", fmt.Errorf("fake: %w", cloudprovider.ErrSnapshotNotFound)
	}
	return tag, nil
}

func (f *fakeSnapshotDeleter) DeleteSnapshot(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail[id]; err != nil {
		return err
	}
	f.deleted = append(f.deleted, id)
	delete(f.tags, id)
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

// requests returns the DeleteBackupRequests, by name.
func (e *lcEnv) requests() map[string]*arkv1.DeleteBackupRequest {
	e.t.Helper()
	l, err := e.client.ArkV1().DeleteBackupRequests(lcNS).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	m := map[string]*arkv1.DeleteBackupRequest{}
	for i := range l.Items {
		m[l.Items[i].Name] = &l.Items[i]
	}
	return m
}

func TestGCExpiryRequestsDeletion(t *testing.T) {
	store, bucketDir := newTestBucket(t)
	expired := completedBackup("old", "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z")
	live := completedBackup("live", "2026-01-01T00:00:00Z", "2026-01-01T03:00:00Z")
	putBackup(t, store, expired)
	putBackup(t, store, live)
	for _, restoreOnly := range []bool{true, false} {
		e := newLCEnv(t, utc("2026-01-01T02:00:00Z"), expired, live)
		v1 := e.informers.Ark().V1()
		c := NewGCController(v1.Backups().Lister(), v1.DeleteBackupRequests().Lister(), e.client.ArkV1(), e.clock, time.Hour, restoreOnly)
		var queued []string
		c.resync(context.Background(), func(k string) { queued = append(queued, k) })
		slices.Sort(queued)
		if !slices.Equal(queued, []string{lcNS + "/live", lcNS + "/old"}) {
			t.Fatalf("queued %v", queued)
		}
		d, err := c.Sync(context.Background(), lcNS+"/live")
		if err != nil {
			t.Fatal(err)
		}
		if want := time.Hour + time.Second; !restoreOnly && d != want {
			t.Errorf("live requeue = %v, want %v", d, want)
		}
		// Twice: one request only.
		for range 2 {
			if _, err := c.Sync(context.Background(), lcNS+"/old"); err != nil {
				t.Fatal(err)
			}
			e.refresh()
		}
		reqs := e.requests()
		if restoreOnly {
			if len(reqs) != 0 {
				t.Errorf("restore-only mode requested deletions: %v", keys(reqs))
			}
			continue
		}
		if len(reqs) != 1 {
			t.Fatalf("requests = %v, want one for old", keys(reqs))
		}
		for _, r := range reqs {
			if r.Spec.BackupName != "old" || r.Labels[format.DeleteBackupRequestBackupLabel] != "old" {
				t.Errorf("request %+v", r)
			}
		}
		// The gc controller itself deletes nothing.
		if len(e.backups()) != 2 || len(filesOf(t, bucketDir, "old")) != 4 {
			t.Errorf("gc deleted: backups %v, files %v", keys(e.backups()), filesOf(t, bucketDir, "old"))
		}
	}
}

// TestGCRemovesLegacyFinalizer: an object of an earlier version, with the gc
// finalizer, loses it (and goes, if being deleted) without any data deleted.
func TestGCRemovesLegacyFinalizer(t *testing.T) {
	store, bucketDir := newTestBucket(t)
	b := completedBackup("old", "2026-01-01T00:00:00Z", "2027-01-01T01:00:00Z")
	putBackup(t, store, b)
	obj := b.DeepCopy()
	obj.Finalizers = []string{format.LegacyGCFinalizer}
	now := metav1.NewTime(utc("2026-01-01T02:00:00Z"))
	obj.DeletionTimestamp = &now
	kept := completedBackup("kept", "2026-01-01T00:00:00Z", "2027-01-01T01:00:00Z")
	kept.Finalizers = []string{format.LegacyGCFinalizer, "example.com/other"}
	for _, restoreOnly := range []bool{false, true} {
		e := newLCEnv(t, now.Time, obj, kept)
		v1 := e.informers.Ark().V1()
		c := NewGCController(v1.Backups().Lister(), v1.DeleteBackupRequests().Lister(), e.client.ArkV1(), e.clock, time.Hour, restoreOnly)
		for _, key := range []string{lcNS + "/old", lcNS + "/kept"} {
			if _, err := c.Sync(context.Background(), key); err != nil {
				t.Fatal(err)
			}
		}
		got := e.backups()
		if _, ok := got["old"]; ok {
			t.Errorf("restoreOnly=%v: the deleted object kept its finalizer: %v", restoreOnly, got["old"].Finalizers)
		}
		if k := got["kept"]; k == nil || !slices.Equal(k.Finalizers, []string{"example.com/other"}) {
			t.Errorf("restoreOnly=%v: kept = %+v", restoreOnly, k)
		}
		if f := filesOf(t, bucketDir, "old"); len(f) != 4 {
			t.Errorf("files of the backup whose object was deleted: %v, want all 4", f)
		}
	}
}

// failingDeletionStore makes chosen steps of the deletion fail, as an object
// store that stops answering midway would.
type failingDeletionStore struct {
	*persistence.BackupStore
	failFiles bool
}

func (f *failingDeletionStore) DeleteBackupFiles(ctx context.Context, name string) error {
	if f.failFiles {
		return errors.New("connection refused by the object store")
	}
	return f.BackupStore.DeleteBackupFiles(ctx, name)
}

func newRequest(name, backup string) *arkv1.DeleteBackupRequest {
	return &arkv1.DeleteBackupRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: lcNS, Name: name},
		Spec:       arkv1.DeleteBackupRequestSpec{BackupName: backup},
	}
}

func runDeletion(t *testing.T, e *lcEnv, c *DeletionController, key string) (time.Duration, error) {
	t.Helper()
	e.refresh()
	d, err := c.Sync(context.Background(), key)
	e.refresh()
	return d, err
}

func TestDeletionDeletesEverythingOfTheBackupOnly(t *testing.T) {
	store, bucketDir := newTestBucket(t)
	b := completedBackup("b", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z")
	b.Status.VolumeBackups = map[string]*arkv1.VolumeBackupInfo{
		"pv-a": {SnapshotID: "snap-a"}, "pv-b": {SnapshotID: "snap-b"}, "pv-c": {SnapshotID: "snap-gone"},
	}
	prefixed := completedBackup("b-2", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z")
	prefixed.Status.VolumeBackups = map[string]*arkv1.VolumeBackupInfo{"pv": {SnapshotID: "snap-b-2"}}
	putBackup(t, store, b)
	putBackup(t, store, prefixed)
	e := newLCEnv(t, utc("2026-01-02T00:00:00Z"), b, prefixed, newRequest("del-b", "b"),
		restoreOf("b-r1", "b", arkv1.RestorePhaseCompleted), restoreOf("b-2-r1", "b-2", arkv1.RestorePhaseCompleted))
	// snap-b's tag names another backup: its ID in the metadata is not trusted.
	snaps := &fakeSnapshotDeleter{tags: map[string]string{"snap-a": "b", "snap-b": "someone-else", "snap-b-2": "b-2"}}
	v1 := e.informers.Ark().V1()
	c := NewDeletionController(v1.DeleteBackupRequests().Lister(), v1.Backups().Lister(), v1.Restores().Lister(), e.client.ArkV1(), store, snaps, time.Hour)
	if _, err := runDeletion(t, e, c, lcNS+"/del-b"); err != nil {
		t.Fatal(err)
	}
	req := e.requests()["del-b"]
	if req.Status.Phase != arkv1.DeleteBackupRequestPhaseProcessed {
		t.Fatalf("request %+v", req.Status)
	}
	if len(req.Status.Errors) != 1 || !strings.Contains(req.Status.Errors[0], "snap-b") || !strings.Contains(req.Status.Errors[0], "someone-else") {
		t.Errorf("request errors %q, want the untagged snapshot reported", req.Status.Errors)
	}
	if !slices.Equal(snaps.deleted, []string{"snap-a"}) {
		t.Errorf("snapshots deleted = %v, want only snap-a", snaps.deleted)
	}
	if f := filesOf(t, bucketDir, "b"); len(f) != 0 {
		t.Errorf("files left: %v", f)
	}
	if f := filesOf(t, bucketDir, "b-2"); len(f) != 4 {
		t.Errorf("files of b-2 = %v, want all 4", f)
	}
	got := e.backups()
	if _, ok := got["b"]; ok || got["b-2"] == nil {
		t.Errorf("backups left: %v, want only b-2", keys(got))
	}
	rl, _ := e.client.ArkV1().Restores(lcNS).List(context.Background(), metav1.ListOptions{})
	if len(rl.Items) != 1 || rl.Items[0].Name != "b-2-r1" {
		t.Errorf("restores left = %v, want only b-2-r1", rl.Items)
	}
	// Processed requests are not looked at again.
	if _, err := runDeletion(t, e, c, lcNS+"/del-b"); err != nil || len(snaps.deleted) != 1 {
		t.Errorf("second run: %v, %v", err, snaps.deleted)
	}
}

func TestDeletionOwnership(t *testing.T) {
	tests := []struct {
		name       string
		object     func(b *arkv1.Backup) *arkv1.Backup // nil: no object
		wantFiles  bool                                // the bucket's files stay
		wantInNote string
	}{
		{name: "same UID", object: func(b *arkv1.Backup) *arkv1.Backup { return b }},
		{name: "no object: the bucket's backup is deleted", object: nil},
		{
			name: "imported object carries the bucket's UID",
			object: func(b *arkv1.Backup) *arkv1.Backup {
				o := b.DeepCopy()
				o.UID = "uid-in-this-cluster"
				o.Annotations = map[string]string{format.SyncedFromBucketAnnotation: "true", format.BucketUIDAnnotation: string(b.UID)}
				return o
			},
		},
		{
			name: "another object's backup (the loser of a name clash)",
			object: func(b *arkv1.Backup) *arkv1.Backup {
				o := b.DeepCopy()
				o.UID = "loser"
				o.Status.Phase = arkv1.BackupPhaseFailed
				o.Status.VolumeBackups = nil
				return o
			},
			wantFiles: true, wantInNote: "belongs to another Backup",
		},
		{
			name: "same UID, another cluster",
			object: func(b *arkv1.Backup) *arkv1.Backup {
				o := b.DeepCopy()
				o.Status.ClusterID = "cluster-b"
				return o
			},
			wantFiles: true, wantInNote: "belongs to another Backup",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, bucketDir := newTestBucket(t)
			b := completedBackup("b", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z")
			b.Status.ClusterID = "cluster-a"
			b.Status.VolumeBackups = map[string]*arkv1.VolumeBackupInfo{"pv": {SnapshotID: "snap-a"}}
			putBackup(t, store, b)
			objs := []runtime.Object{newRequest("del", "b"), restoreOf("b-r1", "b", arkv1.RestorePhaseCompleted)}
			if tt.object != nil {
				objs = append(objs, tt.object(b.DeepCopy()))
			}
			e := newLCEnv(t, utc("2026-01-02T00:00:00Z"), objs...)
			snaps := &fakeSnapshotDeleter{tags: map[string]string{"snap-a": "b"}}
			v1 := e.informers.Ark().V1()
			c := NewDeletionController(v1.DeleteBackupRequests().Lister(), v1.Backups().Lister(), v1.Restores().Lister(), e.client.ArkV1(), store, snaps, time.Hour)
			if _, err := runDeletion(t, e, c, lcNS+"/del"); err != nil {
				t.Fatal(err)
			}
			req := e.requests()["del"]
			if req.Status.Phase != arkv1.DeleteBackupRequestPhaseProcessed || !strings.Contains(strings.Join(req.Status.Errors, ";"), tt.wantInNote) {
				t.Errorf("request %+v, want a note with %q", req.Status, tt.wantInNote)
			}
			if _, ok := e.backups()["b"]; ok {
				t.Error("the Backup object was not deleted")
			}
			files := filesOf(t, bucketDir, "b")
			if tt.wantFiles != (len(files) == 4) || (!tt.wantFiles && len(files) != 0) {
				t.Errorf("files %v, want them kept: %v", files, tt.wantFiles)
			}
			if tt.wantFiles != (len(snaps.deleted) == 0) {
				t.Errorf("snapshots deleted %v, want them kept: %v", snaps.deleted, tt.wantFiles)
			}
			rl, _ := e.client.ArkV1().Restores(lcNS).List(context.Background(), metav1.ListOptions{})
			if tt.wantFiles != (len(rl.Items) == 1) {
				t.Errorf("restores left %d, want them kept: %v", len(rl.Items), tt.wantFiles)
			}
		})
	}
}

// TestDeletionInterrupted: a deletion whose object store stops answering after
// the first step leaves no backup that the sync would import as whole; the
// retried request finishes it, with the snapshot IDs read from the marker.
func TestDeletionInterrupted(t *testing.T) {
	base, bucketDir := newTestBucket(t)
	store := &failingDeletionStore{BackupStore: base, failFiles: true}
	b := completedBackup("b", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z")
	b.Status.VolumeBackups = map[string]*arkv1.VolumeBackupInfo{"pv": {SnapshotID: "snap-a"}}
	putBackup(t, base, b)
	e := newLCEnv(t, utc("2026-01-02T00:00:00Z"), b, newRequest("del", "b"))
	snaps := &fakeSnapshotDeleter{tags: map[string]string{"snap-a": "b"}, fail: map[string]error{"snap-a": errors.New("throttled")}}
	v1 := e.informers.Ark().V1()
	c := NewDeletionController(v1.DeleteBackupRequests().Lister(), v1.Backups().Lister(), v1.Restores().Lister(), e.client.ArkV1(), store, snaps, time.Hour)
	if _, err := runDeletion(t, e, c, lcNS+"/del"); err == nil {
		t.Fatal("no error from a failed step")
	}
	req := e.requests()["del"]
	if req.Status.Phase != arkv1.DeleteBackupRequestPhaseInProgress || !strings.Contains(strings.Join(req.Status.Errors, ";"), "throttled") {
		t.Errorf("request after the failure: %+v", req.Status)
	}
	if got := e.backups()["b"]; got == nil || got.Status.Phase != arkv1.BackupPhaseDeleting {
		t.Errorf("backup object after the failure: %+v", got)
	}
	// The object is removed behind the controller's back (kubectl, or the sync):
	// the marker still holds the snapshot IDs.
	if err := e.client.ArkV1().Backups(lcNS).Delete(context.Background(), "b", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	assertNotImportable := func() {
		t.Helper()
		names, err := base.ListBackups(context.Background())
		if err != nil || len(names) != 0 {
			t.Fatalf("the half-deleted backup is listed as whole: %v, %v", names, err)
		}
		sync := NewBackupSyncController(v1.Backups().Lister(), e.client.ArkV1(), base, lcNS, time.Hour)
		e.refresh()
		if res := sync.SyncOnce(context.Background()); res.Imported != 0 {
			t.Fatalf("sync imported the half-deleted backup: %+v", res)
		}
	}
	assertNotImportable()
	delete(snaps.fail, "snap-a")
	if _, err := runDeletion(t, e, c, lcNS+"/del"); err == nil {
		t.Fatal("no error from the failing file deletion")
	}
	if !slices.Equal(snaps.deleted, []string{"snap-a"}) {
		t.Errorf("snapshots deleted %v", snaps.deleted)
	}
	assertNotImportable()
	store.failFiles = false
	if _, err := runDeletion(t, e, c, lcNS+"/del"); err != nil {
		t.Fatal(err)
	}
	if req := e.requests()["del"]; req.Status.Phase != arkv1.DeleteBackupRequestPhaseProcessed || len(req.Status.Errors) != 0 {
		t.Errorf("request %+v", req.Status)
	}
	if f := filesOf(t, bucketDir, "b"); len(f) != 0 {
		t.Errorf("files left: %v", f)
	}
}

func TestDeletionWaits(t *testing.T) {
	store, bucketDir := newTestBucket(t)
	running := completedBackup("running", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z")
	running.Status.Phase = arkv1.BackupPhaseInProgress
	restored := completedBackup("restored", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z")
	putBackup(t, store, restored)
	e := newLCEnv(t, utc("2026-01-02T00:00:00Z"), running, restored, newRequest("del-running", "running"), newRequest("del-restored", "restored"),
		restoreOf("r", "restored", arkv1.RestorePhaseInProgress), newRequest("del-none", "none"))
	v1 := e.informers.Ark().V1()
	c := NewDeletionController(v1.DeleteBackupRequests().Lister(), v1.Backups().Lister(), v1.Restores().Lister(), e.client.ArkV1(), store, nil, time.Hour)
	for _, key := range []string{"del-running", "del-restored"} {
		d, err := runDeletion(t, e, c, lcNS+"/"+key)
		if err != nil || d != deletionWaitInterval {
			t.Errorf("%s: %v, %v; want a wait", key, d, err)
		}
		if req := e.requests()[key]; req.Status.Phase != arkv1.DeleteBackupRequestPhaseInProgress || !strings.Contains(strings.Join(req.Status.Errors, ""), "progress") {
			t.Errorf("%s: %+v", key, req.Status)
		}
	}
	if len(e.backups()) != 2 || len(filesOf(t, bucketDir, "restored")) != 4 {
		t.Error("something was deleted while in use")
	}
	if _, err := runDeletion(t, e, c, lcNS+"/del-none"); err != nil {
		t.Fatal(err)
	}
	if req := e.requests()["del-none"]; req.Status.Phase != arkv1.DeleteBackupRequestPhaseProcessed || !strings.Contains(strings.Join(req.Status.Errors, ""), "neither") {
		t.Errorf("request for a missing backup: %+v", req.Status)
	}
}

// TestDeletionRetryKeepsToItsTarget: a request pins at its first pass what it
// deletes. Passed again after the loser's object is gone (a retry, a stale
// cache), it does not take the winner's files of the same name for its own,
// nor a Backup object of that name imported since.
func TestDeletionRetryKeepsToItsTarget(t *testing.T) {
	ctx := context.Background()
	store, bucketDir := newTestBucket(t)
	winner := completedBackup("same", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z")
	putBackup(t, store, winner)
	loser := winner.DeepCopy()
	loser.UID, loser.Status.Phase = "loser", arkv1.BackupPhaseFailed
	e := newLCEnv(t, utc("2026-01-02T00:00:00Z"), loser, newRequest("del", "same"))
	v1 := e.informers.Ark().V1()
	c := NewDeletionController(v1.DeleteBackupRequests().Lister(), v1.Backups().Lister(), v1.Restores().Lister(), e.client.ArkV1(), store, &fakeSnapshotDeleter{}, time.Hour)
	if _, err := runDeletion(t, e, c, lcNS+"/del"); err != nil {
		t.Fatal(err)
	}
	req := e.requests()["del"]
	if req.Annotations[format.TargetObjectAnnotation] != "loser" || req.Annotations[format.TargetBucketAnnotation] != "other:uid-same" {
		t.Fatalf("pinned target %v", req.Annotations)
	}
	// The sync imports the winner's backup under the same name; the request is
	// passed again as if its last status update had been lost.
	imported := winner.DeepCopy()
	imported.UID = "imported"
	imported.Annotations = map[string]string{format.SyncedFromBucketAnnotation: "true", format.BucketUIDAnnotation: string(winner.UID)}
	if _, err := e.client.ArkV1().Backups(lcNS).Create(ctx, imported, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	req.Status.Phase = arkv1.DeleteBackupRequestPhaseInProgress
	if _, err := e.client.ArkV1().DeleteBackupRequests(lcNS).UpdateStatus(ctx, req, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := runDeletion(t, e, c, lcNS+"/del"); err != nil {
		t.Fatal(err)
	}
	if f := filesOf(t, bucketDir, "same"); len(f) != 4 {
		t.Errorf("the winner's files after a retry: %v", f)
	}
	if got := e.backups()["same"]; got == nil || got.UID != "imported" {
		t.Errorf("the object imported since was deleted: %+v", got)
	}
	if req := e.requests()["del"]; req.Status.Phase != arkv1.DeleteBackupRequestPhaseProcessed {
		t.Errorf("request %+v", req.Status)
	}
}
