package controller

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/format"
	"github.com/heptio/ark/pkg/generated/clientset/versioned/fake"
	arkinformers "github.com/heptio/ark/pkg/generated/informers/externalversions"
	"github.com/heptio/ark/pkg/restore"
)

// fakeRestorer reads the tarball and reports what it was told to.
type fakeRestorer struct {
	results format.RestoreResults
	err     error
	gotData string
}

func (f *fakeRestorer) Authorize(context.Context, *arkv1.Restore) []string { return nil }

func (f *fakeRestorer) Restore(ctx context.Context, r *arkv1.Restore, b *arkv1.Backup, contents io.Reader, log io.Writer, progress func(arkv1.RestoreProgress)) (*restore.Result, error) {
	data, _ := io.ReadAll(contents)
	f.gotData = string(data)
	progress(arkv1.RestoreProgress{TotalItems: 2, ItemsRestored: 1})
	return &restore.Result{Results: f.results, TotalItems: 2, Restored: 2}, f.err
}

func TestRestoreController(t *testing.T) {
	completed := arkv1.BackupStatus{Phase: arkv1.BackupPhaseCompleted}
	tests := []struct {
		name          string
		inCluster     *arkv1.BackupStatus // nil: no Backup object
		syncing       bool                // the Backup object is being imported by the sync controller
		inBucket      *arkv1.BackupStatus // nil: not in the bucket
		spec          arkv1.RestoreSpec
		restorer      *fakeRestorer
		tamper        string // replaces the tarball after the backup was written
		wantPhase     arkv1.RestorePhase
		wantInReasons string
	}{
		{name: "completed", inCluster: &completed, inBucket: &completed, restorer: &fakeRestorer{}, wantPhase: arkv1.RestorePhaseCompleted},
		{name: "backup only in the bucket", inBucket: &completed, restorer: &fakeRestorer{}, wantPhase: arkv1.RestorePhaseCompleted},
		{name: "backup being imported", inCluster: &arkv1.BackupStatus{}, syncing: true, inBucket: &completed, restorer: &fakeRestorer{}, wantPhase: arkv1.RestorePhaseCompleted},
		{name: "missing backup", restorer: &fakeRestorer{}, wantPhase: arkv1.RestorePhaseFailedValidation, wantInReasons: "neither in the cluster nor in the bucket"},
		{name: "failed backup", inCluster: &arkv1.BackupStatus{Phase: arkv1.BackupPhaseFailed}, inBucket: &completed, restorer: &fakeRestorer{}, wantPhase: arkv1.RestorePhaseFailedValidation, wantInReasons: "only Completed or PartiallyFailed"},
		{name: "two namespaces to one", inCluster: &completed, inBucket: &completed, spec: arkv1.RestoreSpec{NamespaceMapping: map[string]string{"a": "x", "b": "x"}}, restorer: &fakeRestorer{}, wantPhase: arkv1.RestorePhaseFailedValidation, wantInReasons: "both map to x"},
		{name: "item errors", inCluster: &completed, inBucket: &completed, restorer: &fakeRestorer{results: format.RestoreResults{Errors: map[string][]string{"ns": {"configmaps ns/a: boom"}}}}, wantPhase: arkv1.RestorePhasePartiallyFailed},
		{name: "corrupted tarball", inCluster: &completed, inBucket: &completed, tamper: "tarbalL", restorer: &fakeRestorer{}, wantPhase: arkv1.RestorePhaseFailed, wantInReasons: "checksum mismatch"},
		{name: "replaced tarball", inCluster: &completed, inBucket: &completed, tamper: "another tarball", restorer: &fakeRestorer{}, wantPhase: arkv1.RestorePhaseFailed, wantInReasons: "checksum mismatch"},
		{name: "unknown resource found by the engine", inCluster: &completed, inBucket: &completed, restorer: &fakeRestorer{err: &restore.InvalidError{Errors: []string{`excluded resource "secrts" is not served by the cluster (did you mean secrets?)`}}}, wantPhase: arkv1.RestorePhaseFailedValidation, wantInReasons: "did you mean secrets?"},
		{name: "engine failure", inCluster: &completed, inBucket: &completed, restorer: &fakeRestorer{err: errors.New("corrupt tarball")}, wantPhase: arkv1.RestorePhaseFailed, wantInReasons: "corrupt tarball"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			store, dir := newTestBucket(t)
			if tt.inBucket != nil {
				b := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Status: *tt.inBucket}
				if err := store.PutBackupObject(ctx, b, strings.NewReader("tarball"), nil); err != nil {
					t.Fatal(err)
				}
				if tt.tamper != "" {
					if err := os.WriteFile(filepath.Join(dir, "b", "b.tar.gz"), []byte(tt.tamper), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			spec := tt.spec
			spec.BackupName = "b"
			r := &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Namespace: "heptio-ark", Name: "r"}, Spec: spec}
			client := fake.NewClientset(r)
			informers := arkinformers.NewSharedInformerFactory(client, 0)
			_ = informers.Ark().V1().Restores().Informer().GetIndexer().Add(r)
			if tt.inCluster != nil {
				b := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: "heptio-ark", Name: "b"}, Status: *tt.inCluster}
				if tt.syncing {
					b.Annotations = map[string]string{format.SyncedFromBucketAnnotation: "true"}
				}
				_ = informers.Ark().V1().Backups().Informer().GetIndexer().Add(b)
			}
			c := NewRestoreController(informers.Ark().V1().Restores().Lister(), informers.Ark().V1().Backups().Lister(),
				client.ArkV1(), tt.restorer, store, clocktesting.NewFakeClock(time.Now()))
			if _, err := c.Sync(ctx, "heptio-ark/r"); err != nil {
				t.Fatal(err)
			}
			got, _ := client.ArkV1().Restores("heptio-ark").Get(ctx, "r", metav1.GetOptions{})
			if got.Status.Phase != tt.wantPhase {
				t.Fatalf("phase = %s (%q %v), want %s", got.Status.Phase, got.Status.FailureReason, got.Status.ValidationErrors, tt.wantPhase)
			}
			reasons := got.Status.FailureReason + strings.Join(got.Status.ValidationErrors, ";")
			if tt.tamper != "" && tt.restorer.gotData != "" {
				t.Errorf("the engine was given the tampered tarball %q", tt.restorer.gotData)
			}
			if tt.wantInReasons != "" && !strings.Contains(reasons, tt.wantInReasons) {
				t.Errorf("reasons %q lack %q", reasons, tt.wantInReasons)
			}
			if tt.wantPhase == arkv1.RestorePhaseCompleted || tt.wantPhase == arkv1.RestorePhasePartiallyFailed {
				if tt.restorer.gotData != "tarball" {
					t.Errorf("the engine read %q", tt.restorer.gotData)
				}
				if _, err := os.Stat(filepath.Join(dir, "b", "restore-r-results.gz")); err != nil {
					t.Errorf("results not uploaded: %v", err)
				}
				if got.Status.Errors != len(tt.restorer.results.Errors["ns"]) || got.Status.CompletionTimestamp == nil {
					t.Errorf("status = %+v", got.Status)
				}
			}
		})
	}
}
