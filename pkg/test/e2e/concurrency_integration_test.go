//go:build integration

package e2e

import (
	"context"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
)

// Two backups of different namespaces run at the same time, at the server's
// default flags (--backup-workers above one), without interfering: while the
// upload of the first one's tarball is held at the bucket (a slow backup),
// the second one is taken, completes, and is restored; then the first one
// completes too. The overlap is shown by the phases seen, not by times: the
// second backup is Completed while the first is InProgress. Each backup holds
// exactly its own namespace's objects (checked by restoring both).
func TestConcurrentBackupsOfDifferentNamespaces(t *testing.T) {
	_, proxy, opts := s3Env(t)
	e := startArk(t, testCluster, opts)
	nsA, namesA := fixture(t, 30)
	nsB, namesB := fixture(t, 20)

	held := proxy.holdRequests("/slow/slow.tar.gz")
	e.createBackup("slow", nsA)
	select {
	case <-held:
	case <-time.After(2 * time.Minute):
		t.Fatalf("the first backup never uploaded its tarball\n%s", e.server.LogTail(60))
	}
	e.createBackup("quick", nsB)
	quick := e.waitBackupPhaseWithin("quick", 2*time.Minute, arkv1.BackupPhaseCompleted, arkv1.BackupPhaseFailed, arkv1.BackupPhasePartiallyFailed)
	if quick.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("quick: %s %q", quick.Status.Phase, quick.Status.FailureReason)
	}
	slow, err := e.ark.ArkV1().Backups(e.namespace).Get(context.Background(), "slow", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if slow.Status.Phase != arkv1.BackupPhaseInProgress {
		t.Fatalf("slow is %s once quick completed; want InProgress (its upload is held)", slow.Status.Phase)
	}
	// A restore runs meanwhile too.
	dstB := nsB + "-r"
	t.Cleanup(func() { _ = testCluster.DeleteNamespaceAndWait(context.Background(), dstB, time.Minute) })
	e.createRestore("quick", "quick", map[string]string{nsB: dstB})
	if r := e.waitRestorePhase("quick", 2*time.Minute, arkv1.RestorePhaseCompleted, arkv1.RestorePhaseFailed, arkv1.RestorePhasePartiallyFailed, arkv1.RestorePhaseFailedValidation); r.Status.Phase != arkv1.RestorePhaseCompleted {
		t.Fatalf("restore of quick: %s %q %v", r.Status.Phase, r.Status.FailureReason, r.Status.ValidationErrors)
	}
	if slow, err := e.ark.ArkV1().Backups(e.namespace).Get(context.Background(), "slow", metav1.GetOptions{}); err != nil || slow.Status.Phase != arkv1.BackupPhaseInProgress {
		t.Fatalf("slow after the restore of quick: %v %v; want InProgress", slow.Status.Phase, err)
	}

	proxy.releaseRequests()
	slow = e.waitBackupPhaseWithin("slow", 2*time.Minute, arkv1.BackupPhaseCompleted, arkv1.BackupPhaseFailed, arkv1.BackupPhasePartiallyFailed)
	if slow.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("slow: %s %q", slow.Status.Phase, slow.Status.FailureReason)
	}
	// The status timestamps agree: quick started no earlier and ended no later
	// than slow (seconds, as the API stores them).
	if quick.Status.StartTimestamp.Before(slow.Status.StartTimestamp) || slow.Status.CompletionTimestamp.Before(quick.Status.CompletionTimestamp) {
		t.Errorf("timestamps: slow %v-%v, quick %v-%v; want quick within slow", slow.Status.StartTimestamp, slow.Status.CompletionTimestamp, quick.Status.StartTimestamp, quick.Status.CompletionTimestamp)
	}

	dstA := nsA + "-r"
	t.Cleanup(func() { _ = testCluster.DeleteNamespaceAndWait(context.Background(), dstA, time.Minute) })
	e.createRestore("slow", "slow", map[string]string{nsA: dstA})
	if r := e.waitRestorePhase("slow", 2*time.Minute, arkv1.RestorePhaseCompleted, arkv1.RestorePhaseFailed, arkv1.RestorePhasePartiallyFailed, arkv1.RestorePhaseFailedValidation); r.Status.Phase != arkv1.RestorePhaseCompleted {
		t.Fatalf("restore of slow: %s %q %v", r.Status.Phase, r.Status.FailureReason, r.Status.ValidationErrors)
	}
	for _, c := range []struct {
		ns    string
		names []string
	}{{dstA, namesA}, {dstB, namesB}} {
		if got := fixtureConfigMaps(t, c.ns); !slices.Equal(got, c.names) {
			t.Errorf("%s holds %v, want %v", c.ns, got, c.names)
		}
	}
}

// fixtureConfigMaps lists the names of the fixture's ConfigMaps (cm-NNNN) in ns, sorted.
func fixtureConfigMaps(t *testing.T, ns string) []string {
	list, err := testCluster.Client().CoreV1().ConfigMaps(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, cm := range list.Items {
		if len(cm.Name) == 7 && cm.Name[:3] == "cm-" {
			out = append(out, cm.Name)
		}
	}
	slices.Sort(out)
	return out
}
