//go:build integration

package volume

import (
	"bytes"
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	clientdiscovery "k8s.io/client-go/discovery"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/backup"
	"github.com/heptio/ark/pkg/discovery"
	"github.com/heptio/ark/pkg/restore"
	"github.com/heptio/ark/pkg/volume/csi"
)

func TestIntegrationCSIBackupRestoreMapped(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dyn := testCluster.Dynamic()
	ns := testCluster.NewNamespace(t)
	ns2 := testCluster.NewNamespace(t)
	pvName := "pv-csi-" + ns
	pv := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "PersistentVolume",
		"metadata": map[string]any{"name": pvName}, "spec": map[string]any{
			"capacity": map[string]any{"storage": "1Gi"}, "accessModes": []any{"ReadWriteOnce"},
			"persistentVolumeReclaimPolicy": "Delete", "storageClassName": "sc",
			"claimRef": map[string]any{"namespace": ns, "name": "data"},
			"csi":      map[string]any{"driver": testDriver, "volumeHandle": "vol-1"}}}}
	if _, err := dyn.Resource(gvrPVs).Create(ctx, pv, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pvc := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "PersistentVolumeClaim",
		"metadata": map[string]any{"name": "data", "namespace": ns},
		"spec": map[string]any{"accessModes": []any{"ReadWriteOnce"}, "storageClassName": "sc", "volumeName": pvName,
			"resources": map[string]any{"requests": map[string]any{"storage": "1Gi"}}}}}
	created, err := dyn.Resource(gvrPVCs).Namespace(ns).Create(ctx, pvc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_ = unstructured.SetNestedField(created.Object, "Bound", "status", "phase")
	if _, err := dyn.Resource(gvrPVCs).Namespace(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	p, err := New(ctx, &arkv1.CloudProviderConfig{Name: "csi"}, Options{Dynamic: dyn})
	if err != nil {
		t.Fatal(err)
	}
	dc, err := clientdiscovery.NewDiscoveryClientForConfig(testCluster.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	helper := discovery.NewHelper(dc)
	var contents, log bytes.Buffer
	bk := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: "heptio-ark", Name: "csi-e2e"},
		Spec: arkv1.BackupSpec{IncludedNamespaces: []string{ns}}}
	res, err := backup.NewBackupper(helper, dyn, nil, p.Snapshotter, nil).Backup(ctx, bk, &contents, &log, nil)
	if err != nil {
		t.Fatal(err)
	}
	bk.Status.VolumeBackups = res.VolumeBackups
	if bk.Status.VolumeBackups[pvName] == nil {
		t.Fatalf("no snapshot: %v", res.VolumeBackups)
	}

	// The cluster lost the PV.
	_, _ = dyn.Resource(gvrPVs).Patch(ctx, pvName, types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
	if err := dyn.Resource(gvrPVs).Delete(ctx, pvName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	rs := &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Namespace: "heptio-ark", Name: "csi-e2e-r"},
		Spec: arkv1.RestoreSpec{BackupName: "csi-e2e", IncludedNamespaces: []string{ns}, NamespaceMapping: map[string]string{ns: ns2}}}
	var rlog bytes.Buffer
	rres, err := restore.NewRestorer(helper, dyn, restore.Options{VolumeRestorer: p.Restorer}).Restore(ctx, rs, bk, bytes.NewReader(contents.Bytes()), &rlog, nil)
	if err != nil {
		t.Fatalf("restore: %v\n%s", err, rlog.String())
	}
	t.Logf("restore result: %+v\n%s", rres.Results, rlog.String())
	got, err := dyn.Resource(gvrPVCs).Namespace(ns2).Get(ctx, "data", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ds, _, _ := unstructured.NestedMap(got.Object, "spec", "dataSource")
	vol, _, _ := unstructured.NestedString(got.Object, "spec", "volumeName")
	ref, _ := csi.ParseSnapshotID(bk.Status.VolumeBackups[pvName].SnapshotID)
	if ds["kind"] != "VolumeSnapshot" || ds["name"] != ref.Name || vol != "" {
		t.Errorf("restored claim spec %v", got.Object["spec"])
	}
	if _, err := dyn.Resource(csi.VolumeSnapshots).Namespace(ns2).Get(ctx, ref.Name, metav1.GetOptions{}); err != nil {
		t.Errorf("VolumeSnapshot in %s: %v", ns2, err)
	}
	if _, err := dyn.Resource(gvrPVs).Get(ctx, pvName, metav1.GetOptions{}); err == nil {
		t.Error("the PV was restored")
	}
	if rres.Failed != 0 || rres.Skipped != 1 {
		t.Errorf("failed items: %+v", rres.Results)
	}
}
