//go:build integration

package controller

import (
	"context"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/cloudprovider/factory"
	arkinformers "github.com/heptio/ark/pkg/generated/informers/externalversions"
	"github.com/heptio/ark/pkg/persistence"
	"github.com/heptio/ark/pkg/test/objectstores"
)

// breakAfterMark is a store whose object store goes away right after the
// deletion's first step (the deletion marker): every later call fails as
// against a stopped server.
type breakAfterMark struct {
	*persistence.BackupStore
	proxy *objectstores.Proxy
}

func (s breakAfterMark) MarkDeleting(ctx context.Context, b *arkv1.Backup) error {
	err := s.BackupStore.MarkDeleting(ctx, b)
	s.proxy.Break()
	return err
}

// TestDeletionInterruptedByObjectStoreIntegration: MinIO goes away (a proxy that
// stops forwarding) right after the deletion marker is written. The request stays
// InProgress with the error; the bucket holds no backup the sync would import as
// whole, in this cluster or a new one; the snapshot IDs survive in the marker (the
// snapshot itself, in another API, may be gone already); once the store answers
// again (a server restarted) the deletion finishes.
func TestDeletionInterruptedByObjectStoreIntegration(t *testing.T) {
	ctx := t.Context()
	srv := objectstores.StartT(t, objectstores.S3)
	if err := srv.SetEnv(); err != nil {
		t.Fatal(err)
	}
	if err := srv.CreateBucket(ctx, "interrupted"); err != nil {
		t.Fatal(err)
	}
	name, config, _ := srv.Provider()
	direct, err := factory.NewObjectStore(ctx, name, config)
	if err != nil {
		t.Fatal(err)
	}
	directStore, _ := persistence.NewBackupStore(direct, "interrupted", "")
	proxy, err := objectstores.NewProxy(strings.TrimPrefix(srv.Endpoint, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	viaProxy := map[string]string{}
	for k, v := range config {
		viaProxy[k] = v
	}
	viaProxy["s3Url"] = "http://" + proxy.Addr
	proxied, err := factory.NewObjectStore(ctx, name, viaProxy)
	if err != nil {
		t.Fatal(err)
	}
	proxiedStore, _ := persistence.NewBackupStore(proxied, "interrupted", "")

	ns := testCluster.NewNamespace(t)
	ark := arkClientOf(t, testCluster)
	now := time.Now()
	b := itBackup(ns, "b", arkv1.BackupPhaseCompleted, now, time.Hour)
	b.Status.VolumeBackups = map[string]*arkv1.VolumeBackupInfo{"pv": {SnapshotID: "snap-b"}}
	b = createBackupObject(t, ark, b)
	putBackup(t, directStore, b)
	req := &arkv1.DeleteBackupRequest{ObjectMeta: v1.ObjectMeta{Namespace: ns, Name: "del-b"}, Spec: arkv1.DeleteBackupRequestSpec{BackupName: "b"}}
	if _, err := ark.ArkV1().DeleteBackupRequests(ns).Create(ctx, req, v1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	snaps := &fakeSnapshotDeleter{tags: map[string]string{"snap-b": "b"}}

	run := func(store DeletionStore) func() {
		informers := arkinformers.NewSharedInformerFactoryWithOptions(ark, 0, arkinformers.WithNamespace(ns))
		i := informers.Ark().V1()
		c := NewDeletionController(i.DeleteBackupRequests().Lister(), i.Backups().Lister(), i.Restores().Lister(), ark.ArkV1(), store, snaps, time.Hour)
		r, err := NewRunnerFor("backup-deletion", c, i)
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		informers.Start(rctx.Done())
		done := make(chan struct{})
		go func() { defer close(done); _ = r.Run(rctx, 1) }()
		return func() { cancel(); <-done; informers.Shutdown() }
	}
	stop := run(breakAfterMark{proxiedStore, proxy})
	poll(t, 60*time.Second, "the interrupted request to record its error", func(ctx context.Context) (bool, error) {
		r, err := ark.ArkV1().DeleteBackupRequests(ns).Get(ctx, "del-b", v1.GetOptions{})
		return err == nil && r.Status.Phase == arkv1.DeleteBackupRequestPhaseInProgress && len(r.Status.Errors) > 0, nil
	})
	stop()
	r, _ := ark.ArkV1().DeleteBackupRequests(ns).Get(ctx, "del-b", v1.GetOptions{})
	t.Logf("request after the object store went away: %q", r.Status.Errors)

	// Nothing in the bucket looks whole: neither this cluster's sync nor a new
	// cluster's would import it.
	if names, err := directStore.ListBackups(ctx); err != nil || len(names) != 0 {
		t.Fatalf("the half-deleted backup is listed as whole: %v, %v", names, err)
	}
	if _, err := directStore.GetBackup(ctx, "b"); err == nil {
		t.Fatal("ark-backup.json is still there")
	}
	fresh := testCluster.NewNamespace(t)
	informers := arkinformers.NewSharedInformerFactoryWithOptions(ark, 0, arkinformers.WithNamespace(fresh))
	sync := NewBackupSyncController(informers.Ark().V1().Backups().Lister(), ark.ArkV1(), directStore, fresh, time.Hour)
	if res := sync.SyncOnce(ctx); res.Imported != 0 || res.ListingFailed {
		t.Fatalf("a new cluster's sync: %+v", res)
	}
	if l, _ := informers.Ark().V1().Backups().Lister().List(labels.Everything()); len(l) != 0 {
		t.Fatalf("imported: %v", l)
	}
	if m, err := directStore.GetDeletionMarker(ctx, "b"); err != nil || m.Status.VolumeBackups["pv"].SnapshotID != "snap-b" {
		t.Fatalf("deletion marker: %+v, %v", m, err)
	}

	// The store answers again (the server restarted): the deletion finishes.
	stop = run(directStore)
	defer stop()
	poll(t, 60*time.Second, "the request to be Processed", func(ctx context.Context) (bool, error) {
		r, err := ark.ArkV1().DeleteBackupRequests(ns).Get(ctx, "del-b", v1.GetOptions{})
		return err == nil && r.Status.Phase == arkv1.DeleteBackupRequestPhaseProcessed, nil
	})
	keys, err := direct.ListObjects(ctx, "interrupted", "")
	if err != nil || len(keys) != 0 {
		t.Errorf("bucket after the deletion: %v, %v", keys, err)
	}
	if len(snaps.deleted) != 1 {
		t.Errorf("snapshots deleted: %v", snaps.deleted)
	}
	if _, err := ark.ArkV1().Backups(ns).Get(ctx, "b", v1.GetOptions{}); err == nil {
		t.Error("the Backup object is still there")
	}
}
