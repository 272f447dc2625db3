package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/backup"
	"github.com/heptio/ark/pkg/cloudprovider/filesystem"
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
}

func (f *fakeBackupper) Backup(ctx context.Context, b *arkv1.Backup, contents, log io.Writer, progress func(arkv1.BackupProgress)) (*backup.Result, error) {
	fmt.Fprintf(log, "{\"msg\":\"backing up %s\"}\n", b.Name)
	chunk := make([]byte, 64<<10)
	for written := 0; written < f.size; written += len(chunk) {
		if _, err := contents.Write(chunk); err != nil {
			return &backup.Result{}, err
		}
		progress(arkv1.BackupProgress{TotalItems: 10, ItemsBackedUp: 5})
	}
	return &backup.Result{FormatVersion: 1, ResourceVersion: "42", ItemsBackedUp: 10, Errors: f.errs}, f.failed
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

func (f failingUploader) PutBackup(ctx context.Context, name string, metadata, contents, log io.Reader) error {
	return f.BackupStore.PutBackup(ctx, name, metadata, &failingReader{r: contents, left: f.failAfter}, log)
}

type failingReader struct {
	r    io.Reader
	left int64
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.left <= 0 {
		return 0, errors.New("connection reset by the object store")
	}
	if int64(len(p)) > f.left {
		p = p[:f.left]
	}
	n, err := f.r.Read(p)
	f.left -= int64(n)
	return n, err
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
		{name: "engine failure gives Failed and no metadata", backupper: &fakeBackupper{size: 1 << 20, failed: errors.New("hook failed")}, wantPhase: arkv1.BackupPhaseFailed, wantInErrors: "hook failed"},
		{name: "upload broken midway gives Failed and no metadata", backupper: &fakeBackupper{size: 4 << 20}, uploadFailAfter: 1 << 20, wantPhase: arkv1.BackupPhaseFailed, wantInErrors: "connection reset"},
		{name: "name taken in the bucket", backupper: &fakeBackupper{size: 100}, existingInStore: true, wantPhase: arkv1.BackupPhaseFailed, wantInErrors: "already exists in the bucket"},
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
			b.Namespace, b.Name = "heptio-ark", "b1"
			client := fake.NewSimpleClientset(b)
			informers := arkinformers.NewSharedInformerFactory(client, 0)
			if err := informers.Ark().V1().Backups().Informer().GetIndexer().Add(b); err != nil {
				t.Fatal(err)
			}
			root := t.TempDir()
			fs, err := filesystem.New(filesystem.Options{Root: root})
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(root, "ark"), 0o700); err != nil {
				t.Fatal(err)
			}
			store, err := persistence.NewBackupStore(fs, "ark", "")
			if err != nil {
				t.Fatal(err)
			}
			if tt.existingInStore {
				if err := store.PutBackup(ctx, "b1", strings.NewReader("{}"), strings.NewReader("old"), nil); err != nil {
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
				WithEventRecorder(events), WithMetrics(m))

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
			all := got.Status.FailureReason + strings.Join(got.Status.ValidationErrors, ";")
			if tt.wantInErrors != "" && !strings.Contains(all, tt.wantInErrors) {
				t.Errorf("errors %q lack %q", all, tt.wantInErrors)
			}
			metadata, err := store.GetBackupMetadata(ctx, "b1")
			if tt.existingInStore {
				if string(metadata) != "{}" {
					t.Errorf("the existing backup's metadata was changed to %q", metadata)
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
			if got.Status.ResourceVersion != "42" || got.Status.Progress.ItemsBackedUp != 10 || got.Status.CompletionTimestamp == nil {
				t.Errorf("status = %+v", got.Status)
			}
			var stored arkv1.Backup
			if err := json.Unmarshal(metadata, &stored); err != nil {
				t.Fatal(err)
			}
			if stored.Status.Phase != tt.wantPhase || stored.Kind != "Backup" {
				t.Errorf("stored metadata phase %q kind %q", stored.Status.Phase, stored.Kind)
			}
		})
	}
}

func TestBackupControllerIgnoresAndFailsInterrupted(t *testing.T) {
	ctx := context.Background()
	inProgress := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "running"}, Status: arkv1.BackupStatus{Phase: arkv1.BackupPhaseInProgress}}
	done := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "done"}, Status: arkv1.BackupStatus{Phase: arkv1.BackupPhaseCompleted}}
	client := fake.NewSimpleClientset(inProgress, done)
	informers := arkinformers.NewSharedInformerFactory(client, 0)
	for _, b := range []*arkv1.Backup{inProgress, done} {
		_ = informers.Ark().V1().Backups().Informer().GetIndexer().Add(b)
	}
	backupper := &fakeBackupper{}
	c := NewBackupController(informers.Ark().V1().Backups().Lister(), client.ArkV1(), backupper, fakeResolver{}, nil, clocktesting.NewFakeClock(time.Now()), false)
	for _, key := range []string{"ns/running", "ns/done", "ns/missing"} {
		if _, err := c.Sync(ctx, key); err != nil {
			t.Errorf("sync %s: %v", key, err)
		}
	}
	if err := c.FailInterrupted(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := client.ArkV1().Backups("ns").Get(ctx, "running", metav1.GetOptions{})
	if got.Status.Phase != arkv1.BackupPhaseFailed || !strings.Contains(got.Status.FailureReason, "stopped") {
		t.Errorf("interrupted backup: %s %q", got.Status.Phase, got.Status.FailureReason)
	}
	got, _ = client.ArkV1().Backups("ns").Get(ctx, "done", metav1.GetOptions{})
	if got.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Errorf("completed backup changed to %s", got.Status.Phase)
	}
}

// unreachableStore is a bucket that does not answer.
type unreachableStore struct{}

func (unreachableStore) ListBackups(context.Context) ([]string, error) {
	return nil, errors.New("dial tcp 127.0.0.1:9000: connect: connection refused")
}
func (unreachableStore) GetBackupMetadata(context.Context, string) ([]byte, error) {
	return nil, errors.New("connection refused")
}
func (unreachableStore) PutBackup(context.Context, string, io.Reader, io.Reader, io.Reader) error {
	return errors.New("connection refused")
}

// A backup created while the bucket does not answer waits, New, and is tried
// again: it is never Failed for want of a retry.
func TestBackupWaitsForAnUnreachableBucket(t *testing.T) {
	ctx := context.Background()
	b := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "b"}}
	client := fake.NewSimpleClientset(b)
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
