//go:build integration

// Integration tests of the CSI provider on a real kube-apiserver (pkg/test/cluster), with
// small VolumeSnapshot CRDs (testdata) and a stand-in for the snapshot controller and the
// CSI driver that marks VolumeSnapshots ready to use:
//
//	go test -tags integration ./pkg/cloudprovider/csi/ -v
package csi

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/cloudprovider"
	"github.com/heptio/ark/pkg/cloudprovider/csi/csitest"
	"github.com/heptio/ark/pkg/format"
	"github.com/heptio/ark/pkg/test/cluster"
)

const (
	testDriver = "hostpath.csi.k8s.io"
	testClass  = "ark-test-snapclass"
	// slowClass is a class the stand-in never makes ready.
	slowClass = "ark-test-never-ready"
)

var (
	testCluster *cluster.Cluster
	pvsGVR      = schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumes"}
	classesGVR  = schema.GroupVersionResource{Group: Group, Version: "v1", Resource: "volumesnapshotclasses"}
)

func TestMain(m *testing.M) {
	os.Exit(cluster.Main(m, func(ctx context.Context, c *cluster.Cluster) (func(), error) {
		testCluster = c
		if err := c.ApplyCRDs(ctx, csitest.CRDs()); err != nil {
			return nil, fmt.Errorf("installing the VolumeSnapshot CRDs: %w", err)
		}
		for _, name := range []string{testClass, slowClass} {
			class := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": Group + "/v1", "kind": "VolumeSnapshotClass",
				"metadata": map[string]any{"name": name}, "driver": testDriver, "deletionPolicy": "Delete",
			}}
			if _, err := c.Dynamic().Resource(classesGVR).Create(ctx, class, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
				return nil, fmt.Errorf("creating the VolumeSnapshotClass: %w", err)
			}
		}
		standIn, stop := context.WithCancel(context.Background())
		go csitest.RunSnapshotStandIn(standIn, c.Dynamic(), testDriver, slowClass)
		return stop, nil
	}))
}

// makeClaim creates a CSI PV and its claim "data" in ns, bound to each other by name (there
// is no PV controller in the test cluster, so they stay Pending/Available).
func makeClaim(t *testing.T, ctx context.Context, dyn dynamic.Interface, ns string) *unstructured.Unstructured {
	t.Helper()
	pvName := "pv-" + ns
	pv := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "PersistentVolume",
		"metadata": map[string]any{"name": pvName, "labels": map[string]any{"topology.kubernetes.io/zone": "zone-a"}},
		"spec": map[string]any{
			"capacity":                      map[string]any{"storage": "1Gi"},
			"accessModes":                   []any{"ReadWriteOnce"},
			"persistentVolumeReclaimPolicy": "Delete",
			"storageClassName":              "csi-hostpath",
			"csi":                           map[string]any{"driver": testDriver, "volumeHandle": "vol-" + ns},
			"claimRef":                      map[string]any{"namespace": ns, "name": "data"},
		},
	}}
	created, err := dyn.Resource(pvsGVR).Create(ctx, pv, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		_, _ = dyn.Resource(pvsGVR).Patch(ctx, pvName, types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
		_ = dyn.Resource(pvsGVR).Delete(ctx, pvName, metav1.DeleteOptions{})
	})
	pvc := claim(ns, pvName)
	if _, err := dyn.Resource(pvcs).Namespace(ns).Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return created
}

func claim(ns, volumeName string) *unstructured.Unstructured {
	spec := map[string]any{
		"accessModes":      []any{"ReadWriteOnce"},
		"storageClassName": "csi-hostpath",
		"resources":        map[string]any{"requests": map[string]any{"storage": "1Gi"}},
	}
	if volumeName != "" {
		spec["volumeName"] = volumeName
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "PersistentVolumeClaim",
		"metadata": map[string]any{"name": "data", "namespace": ns},
		"spec":     spec,
	}}
}

func TestIntegrationSnapshotRestoreDelete(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dyn := testCluster.Dynamic()
	ns := testCluster.NewNamespace(t)
	pv := makeClaim(t, ctx, dyn, ns)
	p := New(dyn, Options{SnapshotClass: testClass, ReadyTimeout: 30 * time.Second, PollInterval: 100 * time.Millisecond})

	// A volume that is not CSI is not this provider's.
	nfs := pv.DeepCopy()
	unstructured.RemoveNestedField(nfs.Object, "spec", "csi")
	if info, err := p.SnapshotVolume(ctx, nfs, nil); info != nil || err != nil {
		t.Fatalf("NFS PV: %v, %v; want nil, nil", info, err)
	}

	// Backup.
	tags := map[string]string{format.BackupTag: "nightly-20261122", "ark.heptio.com/pv": pv.GetName()}
	info, err := p.SnapshotVolume(ctx, pv, tags)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := ParseSnapshotID(info.SnapshotID)
	if err != nil {
		t.Fatal(err)
	}
	if tag, err := p.SnapshotBackupTag(ctx, info.SnapshotID); err != nil || tag != "nightly-20261122" {
		t.Errorf("SnapshotBackupTag = %q, %v", tag, err)
	}
	if ref.Namespace != ns || ref.Name != "ark-nightly-20261122-data" || !strings.HasPrefix(ref.Handle, "snap-") || info.Type != testDriver || info.AvailabilityZone != "zone-a" {
		t.Errorf("info %+v, ref %+v", info, ref)
	}
	vs, err := dyn.Resource(VolumeSnapshots).Namespace(ns).Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if class, _, _ := unstructured.NestedString(vs.Object, "spec", "volumeSnapshotClassName"); class != testClass {
		t.Errorf("VolumeSnapshot class %q", class)
	}
	if src, _, _ := unstructured.NestedString(vs.Object, "spec", "source", "persistentVolumeClaimName"); src != "data" {
		t.Errorf("VolumeSnapshot source %q", src)
	}
	if vs.GetLabels()[format.BackupTag] != "nightly-20261122" {
		t.Errorf("VolumeSnapshot labels %v", vs.GetLabels())
	}
	vsc, err := dyn.Resource(VolumeSnapshotContents).Get(ctx, ref.Content, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if policy, _, _ := unstructured.NestedString(vsc.Object, "spec", "deletionPolicy"); policy != "Retain" {
		t.Errorf("content deletionPolicy %q, want Retain", policy)
	}
	// The same backup again (a retry) takes the same snapshot.
	if again, err := p.SnapshotVolume(ctx, pv, tags); err != nil || again.SnapshotID != info.SnapshotID {
		t.Errorf("retry: %v, %v", again, err)
	}

	// Restore: the PV is skipped, the claim gets a dataSource.
	if out, err := p.RestoreVolume(ctx, pv, info); out != nil || err != nil {
		t.Fatalf("RestoreVolume = %v, %v; want nil, nil", out, err)
	}
	restoreClaim := func(target string) *unstructured.Unstructured {
		t.Helper()
		in := claim(target, pv.GetName())
		out, err := p.RestoreClaim(ctx, in, pv.GetName(), info)
		if err != nil {
			t.Fatal(err)
		}
		created, err := dyn.Resource(pvcs).Namespace(target).Create(ctx, out, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("creating the restored claim: %v", err)
		}
		if vol, _, _ := unstructured.NestedString(created.Object, "spec", "volumeName"); vol != "" {
			t.Errorf("restored claim keeps volumeName %q", vol)
		}
		for _, f := range []string{"dataSource", "dataSourceRef"} {
			ds, _, _ := unstructured.NestedMap(created.Object, "spec", f)
			if ds["apiGroup"] != Group || ds["kind"] != "VolumeSnapshot" || ds["name"] != ref.Name {
				t.Errorf("restored claim %s %v", f, ds)
			}
		}
		return created
	}

	// Into the same namespace (the claim was lost): the original VolumeSnapshot is used.
	deleteClaim(t, ctx, dyn, ns)
	restoreClaim(ns)
	contents, err := dyn.Resource(VolumeSnapshotContents).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range contents.Items {
		if strings.HasPrefix(c.GetName(), "ark-restore-") {
			if r, _, _ := unstructured.NestedString(c.Object, "spec", "volumeSnapshotRef", "namespace"); r == ns {
				t.Errorf("a restore into the original namespace made content %s", c.GetName())
			}
		}
	}

	// Into a mapped namespace: a pre-provisioned content and snapshot are made there.
	ns2 := testCluster.NewNamespace(t)
	restoreClaim(ns2)
	vs2 := waitReady(t, ctx, dyn, ns2, ref.Name)
	content2, _, _ := unstructured.NestedString(vs2.Object, "spec", "source", "volumeSnapshotContentName")
	vsc2, err := dyn.Resource(VolumeSnapshotContents).Get(ctx, content2, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = dyn.Resource(VolumeSnapshotContents).Delete(context.Background(), content2, metav1.DeleteOptions{})
	})
	h, _, _ := unstructured.NestedString(vsc2.Object, "spec", "source", "snapshotHandle")
	policy, _, _ := unstructured.NestedString(vsc2.Object, "spec", "deletionPolicy")
	driver, _, _ := unstructured.NestedString(vsc2.Object, "spec", "driver")
	refNS, _, _ := unstructured.NestedString(vsc2.Object, "spec", "volumeSnapshotRef", "namespace")
	if h != ref.Handle || policy != "Retain" || driver != testDriver || refNS != ns2 {
		t.Errorf("pre-provisioned content %v", vsc2.Object["spec"])
	}
	// Restoring there again reuses them.
	if _, err := p.RestoreClaim(ctx, claim(ns2, pv.GetName()), pv.GetName(), info); err != nil {
		t.Errorf("second restore into %s: %v", ns2, err)
	}

	// The original VolumeSnapshot lost with its namespace: restoring into a namespace of the
	// same name works from the handle alone.
	if err := dyn.Resource(VolumeSnapshots).Namespace(ns).Delete(ctx, ref.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, ctx, dyn.Resource(VolumeSnapshots).Namespace(ns), ref.Name)
	deleteClaim(t, ctx, dyn, ns)
	restoreClaim(ns)
	waitReady(t, ctx, dyn, ns, ref.Name)

	// GC: the snapshot's content (Delete again) and snapshot are deleted; twice is fine.
	orig := &arkv1.VolumeBackupInfo{SnapshotID: info.SnapshotID}
	if err := p.DeleteSnapshot(ctx, orig.SnapshotID); err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(VolumeSnapshotContents).Get(ctx, ref.Content, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("content %s after DeleteSnapshot: %v", ref.Content, err)
	}
	if err := p.DeleteSnapshot(ctx, orig.SnapshotID); err != nil {
		t.Errorf("second DeleteSnapshot: %v", err)
	}
	if _, err := p.SnapshotBackupTag(ctx, orig.SnapshotID); !errors.Is(err, cloudprovider.ErrSnapshotNotFound) {
		t.Errorf("SnapshotBackupTag of a deleted snapshot: %v", err)
	}
}

func TestIntegrationSnapshotNeverReady(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dyn := testCluster.Dynamic()
	ns := testCluster.NewNamespace(t)
	pv := makeClaim(t, ctx, dyn, ns)
	p := New(dyn, Options{SnapshotClass: slowClass, ReadyTimeout: time.Second, PollInterval: 100 * time.Millisecond})
	_, err := p.SnapshotVolume(ctx, pv, map[string]string{format.BackupTag: "slow"})
	if err == nil || !strings.Contains(err.Error(), "not ready to use within 1s") {
		t.Fatalf("error %v", err)
	}
	// The VolumeSnapshot that no backup records is deleted.
	waitGone(t, ctx, dyn.Resource(VolumeSnapshots).Namespace(ns), "ark-slow-data")

	// A PV whose claim is bound elsewhere is refused.
	other := pv.DeepCopy()
	other.SetName("not-the-claims-volume")
	if _, err := p.SnapshotVolume(ctx, other, nil); err == nil || !strings.Contains(err.Error(), "bound to volume") {
		t.Errorf("claim bound to another volume: %v", err)
	}
}

// deleteClaim deletes the claim "data" of ns and waits until it is gone. Without the
// pvc-protection controller, its finalizer is removed by hand.
func deleteClaim(t *testing.T, ctx context.Context, dyn dynamic.Interface, ns string) {
	t.Helper()
	c := dyn.Resource(pvcs).Namespace(ns)
	if _, err := c.Patch(ctx, "data", types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, "data", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, ctx, c, "data")
}

func waitGone(t *testing.T, ctx context.Context, c dynamic.ResourceInterface, name string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := c.Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Fatalf("%s still there: %v", name, err)
	}
}

func waitReady(t *testing.T, ctx context.Context, dyn dynamic.Interface, ns, name string) *unstructured.Unstructured {
	t.Helper()
	var got *unstructured.Unstructured
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		vs, err := dyn.Resource(VolumeSnapshots).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		got = vs
		ready, _, _ := unstructured.NestedBool(vs.Object, "status", "readyToUse")
		return ready, nil
	})
	if err != nil {
		t.Fatalf("VolumeSnapshot %s/%s not ready: %v", ns, name, err)
	}
	return got
}
