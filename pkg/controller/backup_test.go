package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/backup"
	"github.com/heptio/ark/pkg/generated/clientset/versioned/fake"
	arkinformers "github.com/heptio/ark/pkg/generated/informers/externalversions"
	"github.com/heptio/ark/pkg/metrics"
	"github.com/heptio/ark/pkg/persistence"
)

// fakeBackupper writes size bytes of tarball and one log line.
type fakeBackupper struct {
	size   int
	errs   []string
	failed error
	// snapshotsFailed is the Result's count of failed volume snapshots.
	snapshotsFailed int
	// denied is what Authorize answers (the requester may not have the backup).
	denied []string
}

func (f *fakeBackupper) Authorize(context.Context, *arkv1.Backup) []string { return f.denied }

func (f *fakeBackupper) Backup(ctx context.Context, b *arkv1.Backup, contents, log io.Writer, progress func(arkv1.BackupProgress)) (*backup.Result, error) {
	fmt.Fprintf(log, "{\"msg\":\"backing up %s\"}\n", b.Name)
	chunk := make([]byte, 64<<10)
	for written := 0; written < f.size; written += len(chunk) {
		if _, err := contents.Write(chunk); err != nil {
			return &backup.Result{}, err
		}
		progress(arkv1.BackupProgress{TotalItems: 10, ItemsBackedUp: 5})
	}
	return &backup.Result{FormatVersion: 1, ResourceVersion: "42", ItemsBackedUp: 10, Errors: f.errs, VolumeSnapshotsFailed: f.snapshotsFailed}, f.failed
}

type fakeResolver struct{ known map[string]bool }

func (f fakeResolver) Refresh(context.Context) error { return nil }
func (f fakeResolver) ResolveResource(name string) error {
	if f.known[name] {
		return nil
	}
	return errors.New("resource not found")
}
func (f fakeResolver) ResourceNames() []string {
	var out []string
	for n := range f.known {
		out = append(out, n)
	}
	return out
}

// failingUploader breaks the tarball's upload after failAfter bytes.
type failingUploader struct {
	*persistence.BackupStore
	failAfter int64
}

func (f failingUploader) PutBackupContents(ctx context.Context, name string, contents io.Reader) (arkv1.ContentsChecksum, error) {
	return f.BackupStore.PutBackupContents(ctx, name, io.MultiReader(io.LimitReader(contents, f.failAfter), iotest.ErrReader(errors.New("connection reset by the object store"))))
}

func TestBackupController(t *testing.T) {
	start := time.Date(2026, 11, 21, 7, 0, 0, 0, time.UTC)
	tests := []struct {
		name            string
		backup          *arkv1.Backup
		backupper       *fakeBackupper
		restoreOnly     bool
		existingInStore bool
		uploadFailAfter int64
		wantPhase       arkv1.BackupPhase
		wantInErrors    string
		wantMetadata    bool
	}{
		{name: "completed", backupper: &fakeBackupper{size: 1 << 20}, wantPhase: arkv1.BackupPhaseCompleted, wantMetadata: true},
		{name: "item errors give PartiallyFailed", backupper: &fakeBackupper{size: 100, errs: []string{"pods x: boom"}}, wantPhase: arkv1.BackupPhasePartiallyFailed, wantMetadata: true},
		{name: "a failed snapshot gives PartiallyFailed and counts", backupper: &fakeBackupper{size: 100, errs: []string{"Volume snapshot failed: pv1"}, snapshotsFailed: 1}, wantPhase: arkv1.BackupPhasePartiallyFailed, wantMetadata: true},
		{name: "engine failure gives Failed, recorded in the bucket", backupper: &fakeBackupper{size: 1 << 20, failed: errors.New("hook failed")}, wantPhase: arkv1.BackupPhaseFailed, wantInErrors: "hook failed", wantMetadata: true},
		{name: "upload broken midway gives Failed, recorded in the bucket", backupper: &fakeBackupper{size: 4 << 20}, uploadFailAfter: 1 << 20, wantPhase: arkv1.BackupPhaseFailed, wantInErrors: "connection reset", wantMetadata: true},
		{name: "name taken in the bucket", backupper: &fakeBackupper{size: 100}, existingInStore: true, wantPhase: arkv1.BackupPhaseFailed, wantInErrors: "already exists in the bucket"},
		{name: "requester refused: FailedValidation, nothing in the bucket", backupper: &fakeBackupper{size: 100, denied: []string{"alice may not list secrets in namespace team-b"}},
			wantPhase: arkv1.BackupPhaseFailedValidation, wantInErrors: "alice may not list secrets in namespace team-b"},
		{name: "restore-only mode", backupper: &fakeBackupper{}, restoreOnly: true, wantPhase: arkv1.BackupPhaseFailedValidation, wantInErrors: "restore-only mode"},
		{
			name:         "unknown resource",
			backup:       &arkv1.Backup{Spec: arkv1.BackupSpec{IncludedResources: []string{"deploy", "nope"}}},
			backupper:    &fakeBackupper{},
			wantPhase:    arkv1.BackupPhaseFailedValidation,
			wantInErrors: `resource "nope" is not served`,
		},
		{
			name:         "negative ttl",
			backup:       &arkv1.Backup{Spec: arkv1.BackupSpec{TTL: metav1.Duration{Duration: -time.Hour}}},
			backupper:    &fakeBackupper{},
			wantPhase:    arkv1.BackupPhaseFailedValidation,
			wantInErrors: "negative",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			b := tt.backup
			if b == nil {
				b = &arkv1.Backup{}
			}
			b.Namespace, b.Name, b.UID = "heptio-ark", "b1", "uid-1"
			client := fake.NewClientset(b)
			informers := arkinformers.NewSharedInformerFactory(client, 0)
			if err := informers.Ark().V1().Backups().Informer().GetIndexer().Add(b); err != nil {
				t.Fatal(err)
			}
			store, _ := newTestBucket(t)
			if tt.existingInStore {
				other := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "b1", UID: "other-uid"}, Status: arkv1.BackupStatus{Phase: arkv1.BackupPhaseCompleted}}
				if err := store.PutBackupObject(ctx, other, strings.NewReader("old"), nil); err != nil {
					t.Fatal(err)
				}
			}
			var uploader BackupUploader = store
			if tt.uploadFailAfter > 0 {
				uploader = failingUploader{store, tt.uploadFailAfter}
			}
			clk := clocktesting.NewFakeClock(start)
			events := record.NewFakeRecorder(10)
			m := metrics.New()
			c := NewBackupController(informers.Ark().V1().Backups().Lister(), client.ArkV1(), tt.backupper,
				fakeResolver{known: map[string]bool{"deploy": true}}, uploader, clk, tt.restoreOnly,
				WithEventRecorder(events), WithMetrics(m), WithClusterID("cluster-a"))

			if _, err := c.Sync(ctx, "heptio-ark/b1"); err != nil {
				t.Fatal(err)
			}
			got, err := client.ArkV1().Backups("heptio-ark").Get(ctx, "b1", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got.Status.Phase != tt.wantPhase {
				t.Fatalf("phase = %s (%s %v), want %s", got.Status.Phase, got.Status.FailureReason, got.Status.ValidationErrors, tt.wantPhase)
			}
			// The last Event names the final phase, and the metrics count the outcome.
			var last string
			for len(events.Events) > 0 {
				last = <-events.Events
			}
			if !strings.Contains(last, " "+string(tt.wantPhase)+" ") {
				t.Errorf("last event %q does not name %s", last, tt.wantPhase)
			}
			counter := map[arkv1.BackupPhase]string{arkv1.BackupPhaseCompleted: "ark_backup_success_total",
				arkv1.BackupPhasePartiallyFailed: "ark_backup_partial_failure_total"}[tt.wantPhase]
			if counter == "" {
				counter = "ark_backup_failure_total"
			}
			if n, err := testutil.GatherAndCount(m.Registry(), counter); err != nil || n != 1 {
				t.Errorf("%s series: %d, %v", counter, n, err)
			}
			// ark_volume_snapshot_failure_total counts the backup's failed snapshots.
			if got, want := counterSum(t, m, "ark_volume_snapshot_failure_total"), float64(tt.backupper.snapshotsFailed); got != want {
				t.Errorf("ark_volume_snapshot_failure_total = %v, want %v", got, want)
			}
			all := got.Status.FailureReason + strings.Join(got.Status.ValidationErrors, ";")
			if tt.wantInErrors != "" && !strings.Contains(all, tt.wantInErrors) {
				t.Errorf("errors %q lack %q", all, tt.wantInErrors)
			}
			metadata, err := store.GetBackupMetadata(ctx, "b1")
			if tt.existingInStore {
				kept, err := store.GetBackup(ctx, "b1")
				if err != nil || kept.UID != "other-uid" || kept.Status.Phase != arkv1.BackupPhaseCompleted {
					t.Errorf("the existing backup's metadata was changed: %+v, %v", kept, err)
				}
				rc, err := store.GetBackupContents(ctx, "b1")
				if err != nil {
					t.Fatal(err)
				}
				data, _ := io.ReadAll(rc)
				rc.Close()
				if string(data) != "old" {
					t.Errorf("the existing backup's tarball was changed")
				}
				return
			}
			if (err == nil) != tt.wantMetadata {
				t.Fatalf("metadata in the bucket: %v, want it there: %v", err, tt.wantMetadata)
			}
			if !tt.wantMetadata {
				return
			}
			if got.Status.Expiration == nil || !got.Status.Expiration.Time.Equal(start.Add(720*time.Hour)) {
				t.Errorf("expiration = %v, want start + 720h", got.Status.Expiration)
			}
			if tt.wantPhase != arkv1.BackupPhaseFailed && (got.Status.ResourceVersion != "42" || got.Status.Progress.ItemsBackedUp != 10) || got.Status.CompletionTimestamp == nil {
				t.Errorf("status = %+v", got.Status)
			}
			var stored arkv1.Backup
			if err := json.Unmarshal(metadata, &stored); err != nil {
				t.Fatal(err)
			}
			if stored.Status.Phase != tt.wantPhase || stored.Kind != "Backup" || stored.UID != b.UID || stored.Status.ClusterID != "cluster-a" {
				t.Errorf("stored metadata phase %q kind %q uid %q cluster %q", stored.Status.Phase, stored.Kind, stored.UID, stored.Status.ClusterID)
			}
			if tt.wantPhase == arkv1.BackupPhaseFailed {
				return
			}
			if stored.Status.Contents == nil || got.Status.Contents == nil || *stored.Status.Contents != *got.Status.Contents || stored.Status.Contents.Size != int64(tt.backupper.size+(64<<10)-1)/(64<<10)*(64<<10) {
				t.Errorf("contents checksum: stored %+v, object %+v", stored.Status.Contents, got.Status.Contents)
			}
		})
	}
}

func TestBackupControllerRecoversInterrupted(t *testing.T) {
	ctx := context.Background()
	obj := func(name, uid string, phase arkv1.BackupPhase) *arkv1.Backup {
		return &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID(uid)}, Status: arkv1.BackupStatus{Phase: phase}}
	}
	whole := obj("whole", "u1", arkv1.BackupPhaseInProgress)
	partial := obj("partial", "u2", arkv1.BackupPhaseInProgress)
	claimed := obj("claimed", "u3", arkv1.BackupPhaseInProgress)
	lost := obj("lost", "u4", arkv1.BackupPhaseInProgress)
	done := obj("done", "u5", arkv1.BackupPhaseCompleted)
	client := fake.NewClientset(whole, partial, claimed, lost, done)
	informers := arkinformers.NewSharedInformerFactory(client, 0)
	for _, b := range []*arkv1.Backup{whole, partial, claimed, lost, done} {
		_ = informers.Ark().V1().Backups().Informer().GetIndexer().Add(b)
	}
	store, _ := newTestBucket(t)
	// whole: its final metadata reached the bucket (the status update was lost).
	m := whole.DeepCopy()
	m.Status.Phase, m.Status.Errors = arkv1.BackupPhasePartiallyFailed, 2
	if err := store.PutBackupObject(ctx, m, strings.NewReader("t"), nil); err != nil {
		t.Fatal(err)
	}
	// claimed: only the InProgress claim is in the bucket.
	if err := store.CreateBackupMetadata(ctx, claimed); err != nil {
		t.Fatal(err)
	}
	// lost: the bucket's backup of that name is another object's.
	if err := store.PutBackupObject(ctx, obj("lost", "someone-else", arkv1.BackupPhaseCompleted), strings.NewReader("t"), nil); err != nil {
		t.Fatal(err)
	}
	backupper := &fakeBackupper{}
	c := NewBackupController(informers.Ark().V1().Backups().Lister(), client.ArkV1(), backupper, fakeResolver{}, store, clocktesting.NewFakeClock(time.Now()), false)
	for _, key := range []string{"ns/whole", "ns/done", "ns/missing"} {
		if _, err := c.Sync(ctx, key); err != nil {
			t.Errorf("sync %s: %v", key, err)
		}
	}
	interrupted, err := c.InterruptedBackups()
	if err != nil || len(interrupted) != 4 {
		t.Fatalf("InterruptedBackups = %d, %v", len(interrupted), err)
	}
	if left, err := c.RecoverInterrupted(ctx, interrupted); err != nil || len(left) != 0 {
		t.Fatalf("RecoverInterrupted: left %d, %v", len(left), err)
	}
	for name, want := range map[string]arkv1.BackupPhase{"whole": arkv1.BackupPhasePartiallyFailed, "partial": arkv1.BackupPhaseFailed,
		"claimed": arkv1.BackupPhaseFailed, "lost": arkv1.BackupPhaseFailed, "done": arkv1.BackupPhaseCompleted} {
		got, _ := client.ArkV1().Backups("ns").Get(ctx, name, metav1.GetOptions{})
		if got.Status.Phase != want {
			t.Errorf("%s: %s (%q), want %s", name, got.Status.Phase, got.Status.FailureReason, want)
		}
	}
	if got, _ := store.GetBackup(ctx, "claimed"); got.Status.Phase != arkv1.BackupPhaseFailed {
		t.Errorf("the bucket's claim of an interrupted backup says %s, want Failed", got.Status.Phase)
	}
	if got, _ := store.GetBackup(ctx, "lost"); got.UID != "someone-else" || got.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Errorf("another object's backup was changed: %+v", got.Status)
	}
}

// TestBackupControllerRetriesFinalStatus: a backup written whole whose final status
// update fails is not lost: the next Sync of its key writes the status again.
func TestBackupControllerRetriesFinalStatus(t *testing.T) {
	ctx := context.Background()
	b := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "b", UID: "u"}}
	client := fake.NewClientset(b)
	informers := arkinformers.NewSharedInformerFactory(client, 0)
	_ = informers.Ark().V1().Backups().Informer().GetIndexer().Add(b)
	updates := 0
	client.PrependReactor("update", "backups", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "status" {
			return false, nil, nil
		}
		updates++
		if updates == 2 { // the first is the claim, the second the final status
			return true, nil, errors.New("etcd is down")
		}
		return false, nil, nil
	})
	store, _ := newTestBucket(t)
	c := NewBackupController(informers.Ark().V1().Backups().Lister(), client.ArkV1(), &fakeBackupper{size: 10}, fakeResolver{}, store, clocktesting.NewFakeClock(time.Now()), false)
	if _, err := c.Sync(ctx, "ns/b"); err == nil {
		t.Fatal("Sync hid the failed status update")
	}
	got, _ := client.ArkV1().Backups("ns").Get(ctx, "b", metav1.GetOptions{})
	if got.Status.Phase != arkv1.BackupPhaseInProgress {
		t.Fatalf("phase after the failed update: %s", got.Status.Phase)
	}
	_ = informers.Ark().V1().Backups().Informer().GetIndexer().Update(got)
	if _, err := c.Sync(ctx, "ns/b"); err != nil {
		t.Fatal(err)
	}
	got, _ = client.ArkV1().Backups("ns").Get(ctx, "b", metav1.GetOptions{})
	if got.Status.Phase != arkv1.BackupPhaseCompleted || got.Status.Contents == nil {
		t.Fatalf("after the retry: %s %+v", got.Status.Phase, got.Status.Contents)
	}
}

// unreachableStore is a bucket that does not answer. Only BackupExists is
// implemented: a backup waiting for the bucket must call nothing else.
type unreachableStore struct{ BackupUploader }

func (unreachableStore) BackupExists(context.Context, string) (bool, error) {
	return false, errors.New("dial tcp 127.0.0.1:9000: connect: connection refused")
}

// A backup created while the bucket does not answer waits, New, and is tried
// again: it is never Failed for want of a retry.
func TestBackupWaitsForAnUnreachableBucket(t *testing.T) {
	ctx := context.Background()
	b := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "b"}}
	client := fake.NewClientset(b)
	informers := arkinformers.NewSharedInformerFactory(client, 0)
	_ = informers.Ark().V1().Backups().Informer().GetIndexer().Add(b)
	backupper := &fakeBackupper{}
	c := NewBackupController(informers.Ark().V1().Backups().Lister(), client.ArkV1(), backupper, fakeResolver{}, unreachableStore{}, clocktesting.NewFakeClock(time.Now()), false)
	after, err := c.Sync(ctx, "ns/b")
	if err != nil || after != BucketRetryInterval {
		t.Fatalf("Sync = %s, %v; want a retry after %s", after, err, BucketRetryInterval)
	}
	got, _ := client.ArkV1().Backups("ns").Get(ctx, "b", metav1.GetOptions{})
	if got.Status.Phase != "" {
		t.Errorf("phase = %q, want the backup left New", got.Status.Phase)
	}
}

// counterSum is the sum of a counter's series in the server's registry (0 when it has none).
func counterSum(t *testing.T, m *metrics.Metrics, name string) float64 {
	t.Helper()
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, f := range families {
		if f.GetName() == name {
			for _, metric := range f.GetMetric() {
				sum += metric.GetCounter().GetValue()
			}
		}
	}
	return sum
}
