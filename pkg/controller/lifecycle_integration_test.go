//go:build integration

// Integration tests of the schedule, gc and backup sync controllers and of
// leader election against a real kube-apiserver (see pkg/test/cluster):
//
//	go test -tags integration ./pkg/controller/ -run Integration -v
//
// Set ARK_TEST_KUBECONFIG to reuse a running cluster
// (eval "$(hack/local-cluster.sh up)"; ARK_TEST_KUBECONFIG=$KUBECONFIG ...).
// This file holds the package's TestMain: other integration tests of
// pkg/controller use its testCluster.
package controller

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/format"
	arkclient "github.com/heptio/ark/pkg/generated/clientset/versioned"
	arkinformers "github.com/heptio/ark/pkg/generated/informers/externalversions"
	"github.com/heptio/ark/pkg/leaderelection"
	"github.com/heptio/ark/pkg/test/cluster"
)

var testCluster *cluster.Cluster

const prereqs = "../../examples/common/00-prereqs.yaml"

func TestMain(m *testing.M) {
	os.Exit(cluster.Main(m, func(ctx context.Context, c *cluster.Cluster) (func(), error) {
		testCluster = c
		if err := c.ApplyYAML(ctx, prereqs); err != nil {
			return nil, fmt.Errorf("installing the ark CRDs: %w", err)
		}
		return nil, nil
	}))
}

func arkClientOf(t *testing.T, c *cluster.Cluster) arkclient.Interface {
	t.Helper()
	client, err := arkclient.NewForConfig(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// runControllers starts the informers and runs the runners until the test ends.
func runControllers(t *testing.T, informers arkinformers.SharedInformerFactory, runners ...*Runner) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	informers.Start(ctx.Done())
	var wg sync.WaitGroup
	for _, r := range runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.Run(ctx, 2); err != nil {
				t.Errorf("%s: %v", r.Name(), err)
			}
		}()
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		informers.Shutdown()
	})
}

func poll(t *testing.T, timeout time.Duration, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, timeout, true, cond)
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func TestScheduleIntegration(t *testing.T) {
	ctx := t.Context()
	ns := testCluster.NewNamespace(t)
	ark := arkClientOf(t, testCluster)
	informers := arkinformers.NewSharedInformerFactoryWithOptions(ark, 0, arkinformers.WithNamespace(ns))
	v1 := informers.Ark().V1()
	sc := NewScheduleController(v1.Schedules().Lister(), ark.ArkV1(), clock.RealClock{}, time.Minute, false)
	r, err := NewRunnerFor("schedule", sc, v1)
	if err != nil {
		t.Fatal(err)
	}
	runControllers(t, informers, r)

	schedules := ark.ArkV1().Schedules(ns)
	start := time.Now()
	nightly, err := schedules.Create(ctx, &arkv1.Schedule{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly"},
		Spec: arkv1.ScheduleSpec{Schedule: "0 3 * * *", Template: arkv1.BackupSpec{
			IncludedNamespaces: []string{ns}, TTL: metav1.Duration{Duration: 48 * time.Hour},
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := schedules.Create(ctx, &arkv1.Schedule{
		ObjectMeta: metav1.ObjectMeta{Name: "broken"},
		Spec:       arkv1.ScheduleSpec{Schedule: "99 * * * *"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	wantName := ScheduledBackupName("nightly", nightly.CreationTimestamp.Time)
	var backup *arkv1.Backup
	poll(t, 30*time.Second, "the schedule's first backup", func(ctx context.Context) (bool, error) {
		backup, err = ark.ArkV1().Backups(ns).Get(ctx, wantName, metav1.GetOptions{})
		return err == nil, nil
	})
	t.Logf("first backup %s created %v after the schedule", backup.Name, time.Since(start).Round(time.Millisecond))
	if backup.Labels[format.ScheduleNameLabel] != "nightly" || !slices.Equal(backup.Spec.IncludedNamespaces, []string{ns}) || backup.Spec.TTL.Duration != 48*time.Hour {
		t.Errorf("backup = labels %v spec %+v", backup.Labels, backup.Spec)
	}
	poll(t, 30*time.Second, "the schedule's status", func(ctx context.Context) (bool, error) {
		s, err := schedules.Get(ctx, "nightly", metav1.GetOptions{})
		return err == nil && s.Status.Phase == arkv1.SchedulePhaseEnabled && s.Status.LastBackup != nil &&
			s.Status.LastBackup.Unix() == nightly.CreationTimestamp.Unix(), nil
	})
	poll(t, 30*time.Second, "the broken schedule's FailedValidation", func(ctx context.Context) (bool, error) {
		s, err := schedules.Get(ctx, "broken", metav1.GetOptions{})
		return err == nil && s.Status.Phase == arkv1.SchedulePhaseFailedValidation &&
			strings.Contains(strings.Join(s.Status.ValidationErrors, ";"), "above maximum"), nil
	})
	// A restart: a second controller, with its own informers, syncs the
	// schedule again; nothing more is created.
	informers2 := arkinformers.NewSharedInformerFactoryWithOptions(ark, 0, arkinformers.WithNamespace(ns))
	sc2 := NewScheduleController(informers2.Ark().V1().Schedules().Lister(), ark.ArkV1(), clock.RealClock{}, time.Minute, false)
	r2, err := NewRunnerFor("schedule-restarted", sc2, informers2.Ark().V1())
	if err != nil {
		t.Fatal(err)
	}
	runControllers(t, informers2, r2)
	r.EnqueueKey(ns + "/nightly")
	time.Sleep(2 * time.Second)
	l, err := ark.ArkV1().Backups(ns).List(ctx, metav1.ListOptions{LabelSelector: labels.Set{format.ScheduleNameLabel: "nightly"}.String()})
	if err != nil || len(l.Items) != 1 {
		t.Fatalf("backups of the schedule after a restart: %d, %v", len(l.Items), err)
	}
}

// createBackupObject creates b in the cluster and sets its status.
func createBackupObject(t *testing.T, ark arkclient.Interface, b *arkv1.Backup) *arkv1.Backup {
	t.Helper()
	ctx := t.Context()
	status := b.Status
	created, err := ark.ArkV1().Backups(b.Namespace).Create(ctx, b, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var updated *arkv1.Backup
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := ark.ArkV1().Backups(b.Namespace).Get(ctx, created.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Status = status
		updated, err = ark.ArkV1().Backups(b.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return updated
}

func itBackup(ns, name string, phase arkv1.BackupPhase, started time.Time, ttl time.Duration) *arkv1.Backup {
	return &arkv1.Backup{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"it": "yes"}},
		Spec:       arkv1.BackupSpec{IncludedNamespaces: []string{"app"}, TTL: metav1.Duration{Duration: ttl}},
		Status: arkv1.BackupStatus{
			Phase:               phase,
			StartTimestamp:      ptr.To(metav1.NewTime(started)),
			CompletionTimestamp: ptr.To(metav1.NewTime(started)),
			Expiration:          ptr.To(metav1.NewTime(started.Add(ttl))),
		},
	}
}

func TestGCIntegration(t *testing.T) {
	ctx := t.Context()
	ns := testCluster.NewNamespace(t)
	ark := arkClientOf(t, testCluster)
	root := t.TempDir()
	store := newBucketAt(t, root)
	bucketDir := filepath.Join(root, "bucket")

	now := time.Now().Truncate(time.Second)
	// One backup expired a minute ago, one that expires in 3s, one kept, and
	// one in progress; each with its files in the bucket.
	expired := createBackupObject(t, ark, itBackup(ns, "expired", arkv1.BackupPhaseCompleted, now.Add(-time.Hour), 59*time.Minute))
	soon := createBackupObject(t, ark, itBackup(ns, "soon", arkv1.BackupPhaseCompleted, now, 3*time.Second))
	kept := createBackupObject(t, ark, itBackup(ns, "kept", arkv1.BackupPhaseCompleted, now, time.Hour))
	running := createBackupObject(t, ark, itBackup(ns, "running", arkv1.BackupPhaseInProgress, now, time.Hour))
	for _, b := range []*arkv1.Backup{expired, soon, kept, running} {
		putBackup(t, store, b)
	}
	for _, r := range []*arkv1.Restore{restoreOf("expired-r", "expired", ""), restoreOf("kept-r", "kept", "")} {
		r.Namespace, r.UID = ns, ""
		if _, err := ark.ArkV1().Restores(ns).Create(ctx, r, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	informers := arkinformers.NewSharedInformerFactoryWithOptions(ark, 0, arkinformers.WithNamespace(ns))
	v1 := informers.Ark().V1()
	gc := NewGCController(v1.Backups().Lister(), v1.DeleteBackupRequests().Lister(), ark.ArkV1(), clock.RealClock{}, time.Hour, false)
	r, err := NewRunnerFor("gc", gc, v1)
	if err != nil {
		t.Fatal(err)
	}
	deletion := NewDeletionController(v1.DeleteBackupRequests().Lister(), v1.Backups().Lister(), v1.Restores().Lister(), ark.ArkV1(), store, nil, time.Hour)
	dr, err := NewRunnerFor("backup-deletion", deletion, v1)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	runControllers(t, informers, r, dr)

	gone := func(name string) func(ctx context.Context) (bool, error) {
		return func(ctx context.Context) (bool, error) {
			_, err := ark.ArkV1().Backups(ns).Get(ctx, name, metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		}
	}
	poll(t, 30*time.Second, "the expired backup to be deleted", gone("expired"))
	t.Logf("expired backup deleted %v after the gc started", time.Since(start).Round(time.Millisecond))
	if f := filesOf(t, bucketDir, "expired"); len(f) != 0 {
		t.Errorf("files of the expired backup left: %v", f)
	}
	if _, err := ark.ArkV1().Restores(ns).Get(ctx, "expired-r", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("restore of the expired backup: %v, want NotFound", err)
	}

	// Expiry on time, from the requeue: no gc period passes.
	poll(t, 30*time.Second, "the backup expiring in 3s to be deleted", gone("soon"))
	t.Logf("backup with a 3s TTL deleted %v after it was created", time.Since(now).Round(time.Millisecond))
	if f := filesOf(t, bucketDir, "soon"); len(f) != 0 {
		t.Errorf("files of the expired backup left: %v", f)
	}

	// Deleting the object removes the object only; the files stay.
	if err := ark.ArkV1().Backups(ns).Delete(ctx, "kept", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, 30*time.Second, "the deleted object to be gone", gone("kept"))
	if f := filesOf(t, bucketDir, "kept"); len(f) != 4 {
		t.Errorf("files of a backup whose object was deleted: %v, want all 4", f)
	}

	// A request deletes a backup in progress once it ends.
	req := &arkv1.DeleteBackupRequest{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "del-running"}, Spec: arkv1.DeleteBackupRequestSpec{BackupName: "running"}}
	if _, err := ark.ArkV1().DeleteBackupRequests(ns).Create(ctx, req, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, 30*time.Second, "the request to wait", func(ctx context.Context) (bool, error) {
		r, err := ark.ArkV1().DeleteBackupRequests(ns).Get(ctx, "del-running", metav1.GetOptions{})
		return err == nil && r.Status.Phase == arkv1.DeleteBackupRequestPhaseInProgress, nil
	})
	if len(filesOf(t, bucketDir, "running")) == 0 {
		t.Fatal("files of a running backup deleted")
	}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		b, err := ark.ArkV1().Backups(ns).Get(ctx, "running", metav1.GetOptions{})
		if err != nil {
			return err
		}
		b.Status.Phase = arkv1.BackupPhaseCompleted
		_, err = ark.ArkV1().Backups(ns).UpdateStatus(ctx, b, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// The request is looked at again after deletionWaitInterval.
	poll(t, 2*deletionWaitInterval, "the finished backup to be deleted", gone("running"))
	if f := filesOf(t, bucketDir, "running"); len(f) != 0 {
		t.Errorf("files left: %v", f)
	}
}

// TestBackupSyncIntoSecondClusterIntegration: a second, fresh control plane
// pointed at the same bucket directory sees the first one's backups.
func TestBackupSyncIntoSecondClusterIntegration(t *testing.T) {
	ctx := t.Context()
	root := t.TempDir()
	storeA := newBucketAt(t, root)
	nsA := testCluster.NewNamespace(t)
	arkA := arkClientOf(t, testCluster)
	now := time.Now().Truncate(time.Second)
	for _, b := range []*arkv1.Backup{
		itBackup(nsA, "mig-1", arkv1.BackupPhaseCompleted, now, time.Hour),
		itBackup(nsA, "mig-2", arkv1.BackupPhasePartiallyFailed, now, time.Hour),
		itBackup(nsA, "mig-wip", arkv1.BackupPhaseInProgress, now, time.Hour),
	} {
		putBackup(t, storeA, createBackupObject(t, arkA, b))
	}

	start := time.Now()
	b, err := cluster.Start(ctx, cluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Stop(); err != nil {
			t.Error(err)
		}
	})
	if err := b.ApplyYAML(ctx, prereqs); err != nil {
		t.Fatal(err)
	}
	t.Logf("second control plane up with the ark CRDs in %v", time.Since(start).Round(time.Millisecond))
	nsB := b.NewNamespace(t) // a fresh namespace even if ARK_TEST_KUBECONFIG reuses one cluster
	arkB := arkClientOf(t, b)
	storeB := newBucketAt(t, root)

	informers := arkinformers.NewSharedInformerFactoryWithOptions(arkB, 0, arkinformers.WithNamespace(nsB))
	v1 := informers.Ark().V1()
	syncer := NewBackupSyncController(v1.Backups().Lister(), arkB.ArkV1(), storeB, nsB, time.Second)
	r, err := NewRunnerFor("backup-sync", syncer, v1)
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	runControllers(t, informers, r)

	poll(t, 30*time.Second, "the bucket's backups in the second cluster", func(ctx context.Context) (bool, error) {
		l, err := arkB.ArkV1().Backups(nsB).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		phases := map[string]arkv1.BackupPhase{}
		for _, b := range l.Items {
			phases[b.Name] = b.Status.Phase
		}
		return phases["mig-1"] == arkv1.BackupPhaseCompleted && phases["mig-2"] == arkv1.BackupPhasePartiallyFailed, nil
	})
	t.Logf("backups synced into the second cluster %v after its sync controller started", time.Since(start).Round(time.Millisecond))
	mig1, err := arkB.ArkV1().Backups(nsB).Get(ctx, "mig-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if mig1.Labels["it"] != "yes" || mig1.Status.Expiration == nil || !slices.Equal(mig1.Spec.IncludedNamespaces, []string{"app"}) {
		t.Errorf("imported backup = %+v", mig1)
	}
	if _, err := arkB.ArkV1().Backups(nsB).Get(ctx, "mig-wip", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("backup in progress in the bucket imported: %v", err)
	}

	// Its files vanish from the bucket (the first cluster's gc deleted it):
	// the object goes too.
	if err := storeA.DeleteBackup(ctx, "mig-1"); err != nil {
		t.Fatal(err)
	}
	poll(t, 30*time.Second, "the vanished backup removed from the second cluster", func(ctx context.Context) (bool, error) {
		_, err := arkB.ArkV1().Backups(nsB).Get(ctx, "mig-1", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if _, err := arkB.ArkV1().Backups(nsB).Get(ctx, "mig-2", metav1.GetOptions{}); err != nil {
		t.Errorf("mig-2: %v", err)
	}
}

// TestLeaderElectionIntegration: of two servers, one runs its controllers;
// the other takes over when the first stops, and a leader whose lease is
// taken from it stops with ErrLostLease.
func TestLeaderElectionIntegration(t *testing.T) {
	ns := testCluster.NewNamespace(t)
	kube := testCluster.Client()
	var active, maxActive, leads atomic.Int32
	leading := make(chan string, 4)
	type server struct {
		id     string
		cancel context.CancelFunc
		done   chan error
	}
	startServer := func(id string) *server {
		ctx, cancel := context.WithCancel(context.Background())
		s := &server{id: id, cancel: cancel, done: make(chan error, 1)}
		go func() {
			s.done <- leaderelection.Run(ctx, leaderelection.Config{
				Client: kube, Namespace: ns, Identity: id,
				LeaseDuration: 4 * time.Second, RenewDeadline: 3 * time.Second, RetryPeriod: 500 * time.Millisecond,
			}, func(ctx context.Context) error {
				n := active.Add(1)
				for m := maxActive.Load(); n > m && !maxActive.CompareAndSwap(m, n); m = maxActive.Load() {
				}
				leads.Add(1)
				leading <- id
				<-ctx.Done()
				time.Sleep(200 * time.Millisecond) // controllers take a moment to stop
				active.Add(-1)
				return nil
			})
		}()
		t.Cleanup(cancel)
		return s
	}
	servers := map[string]*server{"a": startServer("a"), "b": startServer("b")}
	var first string
	select {
	case first = <-leading:
	case <-time.After(30 * time.Second):
		t.Fatal("no server leads")
	}
	time.Sleep(6 * time.Second) // longer than a lease: the other must stay a standby
	if leads.Load() != 1 {
		t.Fatalf("%d servers led", leads.Load())
	}
	second := "a"
	if first == "a" {
		second = "b"
	}

	// The leader stops (SIGTERM): it releases the lease after its
	// controllers stopped, and the standby takes over.
	stopped := time.Now()
	servers[first].cancel()
	if err := <-servers[first].done; err != nil {
		t.Fatalf("leader stopped with %v, want nil", err)
	}
	select {
	case id := <-leading:
		if id != second {
			t.Fatalf("%s leads, want %s", id, second)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the standby never took over")
	}
	t.Logf("failover after a clean stop: %v", time.Since(stopped).Round(time.Millisecond))
	if m := maxActive.Load(); m != 1 {
		t.Fatalf("%d servers ran their controllers at once", m)
	}

	// Someone else takes the lease: the leader stops with ErrLostLease.
	taken := time.Now()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		l, err := kube.CoordinationV1().Leases(ns).Get(t.Context(), leaderelection.DefaultLeaseName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		l.Spec = coordinationv1.LeaseSpec{
			HolderIdentity:       ptr.To("thief"),
			LeaseDurationSeconds: ptr.To(int32(3600)),
			AcquireTime:          ptr.To(metav1.NewMicroTime(time.Now())),
			RenewTime:            ptr.To(metav1.NewMicroTime(time.Now())),
		}
		_, err = kube.CoordinationV1().Leases(ns).Update(t.Context(), l, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-servers[second].done:
		if !errors.Is(err, leaderelection.ErrLostLease) {
			t.Fatalf("leader stopped with %v, want ErrLostLease", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the leader did not stop after losing its lease")
	}
	t.Logf("a leader whose lease was taken stopped after %v", time.Since(taken).Round(time.Millisecond))
	if active.Load() != 0 {
		t.Errorf("%d controllers still running", active.Load())
	}
}
