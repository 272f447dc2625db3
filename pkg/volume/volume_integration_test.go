//go:build integration

// The backup engine with the csi persistentVolumeProvider built by New, on a real
// kube-apiserver with the VolumeSnapshot CRDs and a stand-in snapshot controller:
//
//	go test -tags integration ./pkg/volume/ -v
package volume

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	clientdiscovery "k8s.io/client-go/discovery"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/backup"
	"github.com/heptio/ark/pkg/discovery"
	"github.com/heptio/ark/pkg/test/cluster"
	"github.com/heptio/ark/pkg/volume/csi"
	"github.com/heptio/ark/pkg/volume/csi/csitest"
)

const testDriver = "hostpath.csi.k8s.io"

var testCluster *cluster.Cluster

func TestMain(m *testing.M) {
	os.Exit(cluster.Main(m, func(ctx context.Context, c *cluster.Cluster) (func(), error) {
		testCluster = c
		if err := c.ApplyCRDs(ctx, csitest.CRDs()); err != nil {
			return nil, fmt.Errorf("installing the VolumeSnapshot CRDs: %w", err)
		}
		standIn, stop := context.WithCancel(context.Background())
		go csitest.RunSnapshotStandIn(standIn, c.Dynamic(), testDriver, "")
		return stop, nil
	}))
}

var (
	gvrPVs  = schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumes"}
	gvrPVCs = schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}
)

func TestIntegrationBackupWithCSISnapshots(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dyn := testCluster.Dynamic()
	ns := testCluster.NewNamespace(t)

	// A CSI volume and an NFS volume, both claimed in ns.
	for _, v := range []struct {
		claim, pv string
		source    map[string]any
	}{
		{"data", "pv-csi-" + ns, map[string]any{"csi": map[string]any{"driver": testDriver, "volumeHandle": "vol-1"}}},
		{"shared", "pv-nfs-" + ns, map[string]any{"nfs": map[string]any{"server": "nfs.example.com", "path": "/export"}}},
	} {
		spec := map[string]any{
			"capacity": map[string]any{"storage": "1Gi"}, "accessModes": []any{"ReadWriteOnce"},
			"persistentVolumeReclaimPolicy": "Retain", "storageClassName": "sc",
			"claimRef": map[string]any{"namespace": ns, "name": v.claim},
		}
		for k, val := range v.source {
			spec[k] = val
		}
		pv := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "PersistentVolume",
			"metadata": map[string]any{"name": v.pv}, "spec": spec}}
		if _, err := dyn.Resource(gvrPVs).Create(ctx, pv, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		name := v.pv
		t.Cleanup(func() {
			ctx := context.Background()
			_, _ = dyn.Resource(gvrPVs).Patch(ctx, name, types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
			_ = dyn.Resource(gvrPVs).Delete(ctx, name, metav1.DeleteOptions{})
		})
		pvc := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "PersistentVolumeClaim",
			"metadata": map[string]any{"name": v.claim, "namespace": ns},
			"spec": map[string]any{"accessModes": []any{"ReadWriteOnce"}, "storageClassName": "sc", "volumeName": v.pv,
				"resources": map[string]any{"requests": map[string]any{"storage": "1Gi"}}}}}
		created, err := dyn.Resource(gvrPVCs).Namespace(ns).Create(ctx, pvc, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// No PV controller runs in the test cluster: bind the claim by hand.
		_ = unstructured.SetNestedField(created.Object, "Bound", "status", "phase")
		if _, err := dyn.Resource(gvrPVCs).Namespace(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	p, err := New(ctx, &arkv1.CloudProviderConfig{Name: "csi", Config: map[string]string{"readyTimeout": "30s"}}, Options{Dynamic: dyn})
	if err != nil {
		t.Fatal(err)
	}
	dc, err := clientdiscovery.NewDiscoveryClientForConfig(testCluster.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	b := backup.NewBackupper(discovery.NewHelper(dc), dyn, nil, p.Snapshotter, nil)
	var contents, log bytes.Buffer
	bk := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: "heptio-ark", Name: "csi-it"},
		Spec: arkv1.BackupSpec{IncludedNamespaces: []string{ns}}}
	res, err := b.Backup(ctx, bk, &contents, &log, nil)
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, log.String())
	}
	info := res.VolumeBackups["pv-csi-"+ns]
	if info == nil || info.Type != testDriver {
		t.Fatalf("volume backups %v\nlog:\n%s", res.VolumeBackups, log.String())
	}
	if _, ok := res.VolumeBackups["pv-nfs-"+ns]; ok {
		t.Error("the NFS volume was snapshotted")
	}
	if len(res.Warnings) != 1 {
		t.Errorf("warnings %q, want one for the NFS volume", res.Warnings)
	}
	ref, err := csi.ParseSnapshotID(info.SnapshotID)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := dyn.Resource(csi.VolumeSnapshots).Namespace(ns).Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if vs.GetLabels()["ark.heptio.com/backup"] != "csi-it" || vs.GetLabels()["ark.heptio.com/pv"] != "pv-csi-"+ns {
		t.Errorf("VolumeSnapshot labels %v", vs.GetLabels())
	}

	// gc deletes it.
	if err := p.Deleter.DeleteSnapshot(ctx, info.SnapshotID); err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(csi.VolumeSnapshots).Namespace(ns).Get(ctx, ref.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("VolumeSnapshot after DeleteSnapshot: %v", err)
	}
}
