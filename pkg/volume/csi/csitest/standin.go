// Package csitest helps test the CSI provider on a control plane without a snapshot
// controller nor CSI driver: the VolumeSnapshot CRDs and a stand-in that makes snapshots ready.
package csitest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
)

// The VolumeSnapshot API (package csi is not imported, so that its own tests can use this).
const group = "snapshot.storage.k8s.io"

var (
	volumeSnapshots        = schema.GroupVersionResource{Group: group, Version: "v1", Resource: "volumesnapshots"}
	volumeSnapshotContents = schema.GroupVersionResource{Group: group, Version: "v1", Resource: "volumesnapshotcontents"}
)

// CRDs returns the path of small structural CRDs of the VolumeSnapshot API (v1), for
// cluster.ApplyCRDs.
func CRDs() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata", "snapshot-crds.yaml")
}

// RunSnapshotStandIn does what the snapshot controller and a CSI driver would: it binds each
// VolumeSnapshot to a VolumeSnapshotContent (a new one for a claim's snapshot, the named one
// for a pre-provisioned snapshot) and marks both ready to use.
func RunSnapshotStandIn(ctx context.Context, dyn dynamic.Interface, driver, ignoreClass string) {
	_ = wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		list, err := dyn.Resource(volumeSnapshots).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		for i := range list.Items {
			vs := &list.Items[i]
			if ready, _, _ := unstructured.NestedBool(vs.Object, "status", "readyToUse"); ready {
				continue
			}
			if class, _, _ := unstructured.NestedString(vs.Object, "spec", "volumeSnapshotClassName"); class == ignoreClass && ignoreClass != "" {
				continue
			}
			if err := bindSnapshot(ctx, dyn, vs, driver); err != nil {
				fmt.Fprintln(os.Stderr, "snapshot stand-in:", err)
			}
		}
		return false, nil
	})
}

func bindSnapshot(ctx context.Context, dyn dynamic.Interface, vs *unstructured.Unstructured, driver string) error {
	now := time.Now()
	content, _, _ := unstructured.NestedString(vs.Object, "spec", "source", "volumeSnapshotContentName")
	handle := ""
	if content == "" {
		// Dynamic snapshot of a claim: make its content.
		content = "snapcontent-" + string(vs.GetUID())
		handle = "snap-" + string(vs.GetUID())
		vsc := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": group + "/v1", "kind": "VolumeSnapshotContent",
			"metadata": map[string]any{"name": content},
			"spec": map[string]any{
				"deletionPolicy": "Delete", "driver": driver,
				"source":            map[string]any{"volumeHandle": "vol-of-" + vs.GetName()},
				"volumeSnapshotRef": map[string]any{"namespace": vs.GetNamespace(), "name": vs.GetName(), "uid": string(vs.GetUID())},
			},
		}}
		if _, err := dyn.Resource(volumeSnapshotContents).Create(ctx, vsc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	vsc, err := dyn.Resource(volumeSnapshotContents).Get(ctx, content, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if handle == "" {
		handle, _, _ = unstructured.NestedString(vsc.Object, "spec", "source", "snapshotHandle")
	}
	_ = unstructured.SetNestedMap(vsc.Object, map[string]any{
		"snapshotHandle": handle, "readyToUse": true, "creationTime": now.UnixNano(), "restoreSize": int64(1 << 30),
	}, "status")
	if _, err := dyn.Resource(volumeSnapshotContents).UpdateStatus(ctx, vsc, metav1.UpdateOptions{}); err != nil {
		return err
	}
	_ = unstructured.SetNestedMap(vs.Object, map[string]any{
		"boundVolumeSnapshotContentName": content, "readyToUse": true,
		"creationTime": now.UTC().Format(time.RFC3339), "restoreSize": "1Gi",
	}, "status")
	_, err = dyn.Resource(volumeSnapshots).Namespace(vs.GetNamespace()).UpdateStatus(ctx, vs, metav1.UpdateOptions{})
	return err
}
