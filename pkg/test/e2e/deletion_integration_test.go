//go:build integration

package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/format"
)

// fastSync makes the server compare the bucket with the cluster every second.
func fastSync(cfg *arkv1.Config) {
	cfg.BackupSyncPeriod = metav1.Duration{Duration: time.Second}
}

// onBucket points a server at another env's bucket, syncing every second.
func onBucket(root string) func(*arkv1.Config) {
	return func(cfg *arkv1.Config) {
		cfg.BackupStorageProvider.Config["root"] = root
		fastSync(cfg)
	}
}

// bucketFiles returns every file of the bucket (relative path -> SHA-256 of its contents).
func bucketFiles(t *testing.T, root string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(filepath.Join(root, "ark"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		rel, _ := filepath.Rel(root, path)
		files[rel] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func (e *arkEnv) waitBackupPhase(name string, phases ...arkv1.BackupPhase) *arkv1.Backup {
	e.t.Helper()
	return e.waitBackupPhaseWithin(name, 90*time.Second, phases...)
}

func (e *arkEnv) waitBackupGone(name string) {
	e.t.Helper()
	waitFor(e.t, "backup "+name+" to be gone", func() bool {
		_, err := e.ark.ArkV1().Backups(e.namespace).Get(context.Background(), name, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
}

// TestDeletingABackupObjectKeepsItsFiles: `kubectl delete backup` removes the object
// only; the sync brings it back from the bucket. An object of an earlier version that
// still carries the gc finalizer loses it, and nothing is deleted.
func TestDeletingABackupObjectKeepsItsFiles(t *testing.T) {
	ctx := context.Background()
	e := startArk(t, testCluster, envOptions{config: fastSync})
	app := testCluster.NewNamespace(t)
	createConfigMaps(t, testCluster, app, "settings")
	e.mustRun("backup", "create", "keep1", "--include-namespaces", app, "--wait")
	before := bucketFiles(t, e.bucket)
	if len(before) != 4 {
		t.Fatalf("bucket files %v, want tarball, log, resource list and metadata", slices.Sorted(maps.Keys(before)))
	}

	if err := e.ark.ArkV1().Backups(e.namespace).Delete(ctx, "keep1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	b := e.waitBackupPhase("keep1", arkv1.BackupPhaseCompleted)
	if b.Annotations[format.SyncedFromBucketAnnotation] == "" {
		t.Fatalf("keep1 came back without the sync's annotation: %v", b.Annotations)
	}
	if after := bucketFiles(t, e.bucket); !maps.Equal(before, after) {
		t.Fatalf("bucket changed by deleting the object:\nbefore %v\nafter  %v", before, after)
	}
	// The synced object restores as the original did.
	e.mustRun("restore", "create", "keep1", "--name", "keep1-check", "--wait")

	// The upgrade: an object that carries the finalizer of earlier versions loses
	// it, and deleting it deletes nothing.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		b, err := e.ark.ArkV1().Backups(e.namespace).Get(ctx, "keep1", metav1.GetOptions{})
		if err != nil {
			return err
		}
		b.Finalizers = append(b.Finalizers, format.LegacyGCFinalizer)
		_, err = e.ark.ArkV1().Backups(e.namespace).Update(ctx, b, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the server to remove the legacy finalizer", func() bool {
		b, err := e.ark.ArkV1().Backups(e.namespace).Get(ctx, "keep1", metav1.GetOptions{})
		return err == nil && !slices.Contains(b.Finalizers, format.LegacyGCFinalizer)
	})
	if err := e.ark.ArkV1().Backups(e.namespace).Delete(ctx, "keep1", metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	e.waitBackupPhase("keep1", arkv1.BackupPhaseCompleted)
	after := bucketFiles(t, e.bucket)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("bucket file %s changed or removed", k)
		}
	}
}

// TestDeletingTheServersNamespaceKeepsTheBucket: `kubectl delete namespace heptio-ark`
// (the quickstart's tear-down) with the server running leaves every file in the bucket,
// and a new server on the same bucket syncs every backup back.
func TestDeletingTheServersNamespaceKeepsTheBucket(t *testing.T) {
	ctx := context.Background()
	e := startArk(t, testCluster, envOptions{config: fastSync})
	app := testCluster.NewNamespace(t)
	createConfigMaps(t, testCluster, app, "settings")
	names := []string{"first", "second", "third"}
	for _, n := range names {
		e.mustRun("backup", "create", n, "--include-namespaces", app, "--wait")
	}
	e.mustRun("restore", "create", "first", "--name", "first-r", "--wait")
	before := bucketFiles(t, e.bucket)
	if len(before) != 4*len(names)+2 { // tarball, log, resource list, metadata; the restore's log and results
		t.Fatalf("bucket files %v", slices.Sorted(maps.Keys(before)))
	}

	e.exitExpected = true // the lease goes with the namespace
	if err := testCluster.DeleteNamespaceAndWait(ctx, e.namespace, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	// Let the server, if still running, see the deletion through.
	time.Sleep(3 * time.Second)
	if after := bucketFiles(t, e.bucket); !maps.Equal(before, after) {
		t.Fatalf("deleting the namespace changed the bucket:\nbefore %v\nafter  %v", slices.Sorted(maps.Keys(before)), slices.Sorted(maps.Keys(after)))
	}
	e.stop()

	fresh := startArk(t, testCluster, envOptions{config: onBucket(e.bucket)})
	for _, n := range names {
		fresh.waitBackupPhase(n, arkv1.BackupPhaseCompleted)
	}
	if after := bucketFiles(t, e.bucket); !maps.Equal(before, after) {
		t.Fatalf("the new server changed the bucket")
	}
}

// TestBackupDeleteCommand: `ark backup delete` removes everything of that backup (files,
// restores' files and objects, the object) and nothing of a backup named with it as prefix.
func TestBackupDeleteCommand(t *testing.T) {
	ctx := context.Background()
	e := startArk(t, testCluster, envOptions{config: fastSync})
	app := testCluster.NewNamespace(t)
	createConfigMaps(t, testCluster, app, "settings")
	for _, n := range []string{"b", "b-2"} {
		e.mustRun("backup", "create", n, "--include-namespaces", app, "--wait")
		e.mustRun("restore", "create", n, "--name", n+"-r", "--namespace-mappings", app+":"+app+"-"+n, "--wait")
	}
	before := bucketFiles(t, e.bucket)

	if out, err := e.run("backup", "delete", "b", "--all"); err == nil {
		t.Fatalf("NAME and --all together were accepted:\n%s", out)
	}

	out := e.mustRun("backup", "delete", "b", "--confirm")
	if !strings.Contains(out, `Request to delete backup "b" submitted`) {
		t.Fatalf("delete:\n%s", out)
	}
	e.waitBackupGone("b")
	waitFor(t, "the request to be Processed", func() bool {
		l, err := e.ark.ArkV1().DeleteBackupRequests(e.namespace).List(ctx, metav1.ListOptions{LabelSelector: format.DeleteBackupRequestBackupLabel + "=b"})
		return err == nil && len(l.Items) == 1 && l.Items[0].Status.Phase == arkv1.DeleteBackupRequestPhaseProcessed && len(l.Items[0].Status.Errors) == 0
	})
	after := bucketFiles(t, e.bucket)
	for k, v := range before {
		_, kept := after[k]
		switch {
		case strings.HasPrefix(k, "ark/b/"):
			if kept {
				t.Errorf("file %s of the deleted backup is still there", k)
			}
		case after[k] != v:
			t.Errorf("file %s of another backup changed or removed", k)
		}
	}
	if _, err := e.ark.ArkV1().Restores(e.namespace).Get(ctx, "b-r", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("restore b-r: %v, want NotFound", err)
	}
	if _, err := e.ark.ArkV1().Restores(e.namespace).Get(ctx, "b-2-r", metav1.GetOptions{}); err != nil {
		t.Errorf("restore b-2-r: %v", err)
	}
	// The sync does not bring the deleted backup back; b-2 stays.
	time.Sleep(3 * time.Second)
	if _, err := e.ark.ArkV1().Backups(e.namespace).Get(ctx, "b", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("deleted backup came back: %v", err)
	}
	e.waitBackupPhase("b-2", arkv1.BackupPhaseCompleted)
}

// TestTwoServersOneBucket: two servers on one bucket create a backup of the same name at
// once: one wins, the other fails with a reason, and deleting the loser's Backup (object
// or request) leaves the winner's files intact.
func TestTwoServersOneBucket(t *testing.T) {
	ctx := context.Background()
	a := startArk(t, testCluster, envOptions{})
	b := startArk(t, testCluster, envOptions{config: func(cfg *arkv1.Config) { cfg.BackupStorageProvider.Config["root"] = a.bucket }})
	app := testCluster.NewNamespace(t)
	createConfigMaps(t, testCluster, app, "settings")
	var wg sync.WaitGroup
	for _, e := range []*arkEnv{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = e.run("backup", "create", "same", "--include-namespaces", app)
		}()
	}
	wg.Wait()
	final := []arkv1.BackupPhase{arkv1.BackupPhaseCompleted, arkv1.BackupPhaseFailed}
	ba, bb := a.waitBackupPhase("same", final...), b.waitBackupPhase("same", final...)
	winner, loser, wb, lb := a, b, ba, bb
	if bb.Status.Phase == arkv1.BackupPhaseCompleted {
		winner, loser, wb, lb = b, a, bb, ba
	}
	if wb.Status.Phase != arkv1.BackupPhaseCompleted || lb.Status.Phase != arkv1.BackupPhaseFailed || !strings.Contains(lb.Status.FailureReason, "already exists in the bucket") {
		t.Fatalf("phases: %s %q / %s %q; want one Completed, one Failed for the name clash",
			wb.Status.Phase, wb.Status.FailureReason, lb.Status.Phase, lb.Status.FailureReason)
	}
	data, err := os.ReadFile(filepath.Join(a.bucket, "ark", "same", "ark-backup.json"))
	if err != nil || !strings.Contains(string(data), string(wb.UID)) {
		t.Fatalf("the bucket's metadata is not the winner's (%s): %v\n%s", wb.UID, err, data)
	}
	winnerFiles := bucketFiles(t, a.bucket)

	// The loser's Backup deleted by request: only its object goes.
	loser.mustRun("backup", "delete", "same", "--confirm")
	loser.waitBackupGone("same")
	var reqs []arkv1.DeleteBackupRequest
	waitFor(t, "the loser's request to be Processed", func() bool {
		l, err := loser.ark.ArkV1().DeleteBackupRequests(loser.namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false
		}
		reqs = l.Items
		return len(reqs) == 1 && reqs[0].Status.Phase == arkv1.DeleteBackupRequestPhaseProcessed
	})
	if !strings.Contains(strings.Join(reqs[0].Status.Errors, ";"), "belongs to another Backup") {
		t.Errorf("the loser's request says %+v, want a note that the bucket's backup is another's", reqs[0].Status)
	}
	if got := bucketFiles(t, a.bucket); !maps.Equal(winnerFiles, got) {
		t.Fatalf("the winner's files changed:\nbefore %v\nafter  %v", winnerFiles, got)
	}
	// The winner's object deleted with kubectl: its files stay too.
	if err := winner.ark.ArkV1().Backups(winner.namespace).Delete(ctx, "same", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	winner.waitBackupGone("same")
	if got := bucketFiles(t, a.bucket); !maps.Equal(winnerFiles, got) {
		t.Fatalf("the winner's files changed after its object was deleted")
	}
	winner.mustRun("restore", "create", "same", "--name", "same-check", "--namespace-mappings", app+":"+app+"-check", "--wait")
}

// TestCorruptTarballIsNotRestored: a flipped byte in a tarball makes the restore fail
// with a checksum error before anything is created, and `ark backup download` refuses it.
func TestCorruptTarballIsNotRestored(t *testing.T) {
	ctx := context.Background()
	e := startArk(t, testCluster, envOptions{})
	app := testCluster.NewNamespace(t)
	createConfigMaps(t, testCluster, app, "settings")
	e.mustRun("backup", "create", "flip", "--include-namespaces", app, "--wait")
	b, err := e.ark.ArkV1().Backups(e.namespace).Get(ctx, "flip", metav1.GetOptions{})
	if err != nil || b.Status.Contents == nil || len(b.Status.Contents.SHA256) != 64 {
		t.Fatalf("backup status records no checksum: %+v, %v", b.Status.Contents, err)
	}
	tarball := filepath.Join(e.bucket, "ark", "flip", "flip.tar.gz")
	data, err := os.ReadFile(tarball)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(data)) != b.Status.Contents.Size {
		t.Fatalf("tarball %d bytes, status says %d", len(data), b.Status.Contents.Size)
	}
	data[len(data)/2] ^= 0x01
	if err := os.WriteFile(tarball, data, 0o644); err != nil {
		t.Fatal(err)
	}
	target := app + "-restored"
	out, err := e.run("restore", "create", "flip", "--name", "flip-r", "--namespace-mappings", app+":"+target, "--wait")
	if err == nil {
		t.Fatalf("restore of a corrupted tarball succeeded:\n%s", out)
	}
	r, gerr := e.ark.ArkV1().Restores(e.namespace).Get(ctx, "flip-r", metav1.GetOptions{})
	if gerr != nil || r.Status.Phase != arkv1.RestorePhaseFailed || !strings.Contains(r.Status.FailureReason, "checksum mismatch") {
		t.Fatalf("restore: %+v, %v\n%s", r.Status, gerr, out)
	}
	if _, err := testCluster.Client().CoreV1().ConfigMaps(target).Get(ctx, "settings", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("an object was restored from the corrupted tarball: %v", err)
	}
	dl := filepath.Join(t.TempDir(), "flip.tar.gz")
	if out, err := e.run("backup", "download", "flip", "-o", dl); err == nil || !strings.Contains(out+err.Error(), "checksum mismatch") {
		t.Errorf("download of a corrupted tarball: %v\n%s", err, out)
	}
	if _, err := os.Stat(dl); !os.IsNotExist(err) {
		t.Errorf("the corrupted download was kept: %v", err)
	}
}
