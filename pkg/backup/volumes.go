package backup

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// snapshotPodVolumes snapshots the volumes of the pod's backed-up bound
// claims, between the pod's pre and post hooks.
func (r *run) snapshotPodVolumes(pod *unstructured.Unstructured) error {
	if r.pvResource == nil {
		return nil // persistent volumes are excluded
	}
	volumes, _, _ := unstructured.NestedSlice(pod.Object, "spec", "volumes")
	for _, v := range volumes {
		m, ok := v.(map[string]interface{})
		if !ok {
			continue
		}
		claim, _, _ := unstructured.NestedString(m, "persistentVolumeClaim", "claimName")
		if claim == "" {
			continue
		}
		pvName, ok := r.pvcVolumes[pod.GetNamespace()+"/"+claim]
		if !ok || r.snapshotted.Has(pvName) {
			continue
		}
		var pv *unstructured.Unstructured
		if ok, lerr := r.mayList(*r.pvResource, ""); lerr != nil || !ok {
			// A requester who may not list volumes: read theirs, if they may;
			// the volume pass says what was left out.
			got, gerr := r.client.Resource(r.pvResource.GVR).Get(r.ctx, pvName, metav1.GetOptions{})
			if gerr != nil {
				continue
			}
			if err := r.snapshotVolume(got); err != nil {
				return err
			}
			continue
		}
		err := r.list(*r.pvResource, "", "", "metadata.name="+pvName, func(o *unstructured.Unstructured) error {
			if o.GetName() == pvName {
				pv = o.DeepCopy()
			}
			return nil
		})
		if err != nil {
			return err
		}
		if pv == nil {
			continue // not there at the backup's resourceVersion; the volume pass says so
		}
		if err := r.snapshotVolume(pv); err != nil {
			return err
		}
	}
	return nil
}

// snapshotVolume snapshots a backed-up volume once, if the backup asks for
// snapshots. Only a done context is returned as an error.
func (r *run) snapshotVolume(pv *unstructured.Unstructured) error {
	name := pv.GetName()
	if r.snapshotted.Has(name) {
		return nil
	}
	r.snapshotted.Insert(name)
	gr := pvsGR.String()
	if !r.snapshots {
		r.info("Volume not snapshotted", gr, "", name, "snapshotVolumes is false")
		return nil
	}
	if r.b.snapshotter == nil {
		r.warn("Volume not snapshotted", gr, "", name, "no persistentVolumeProvider is configured", nil)
		return nil
	}
	tags := map[string]string{BackupNameTag: r.backup.Name, PVNameTag: name}
	info, err := r.b.snapshotter.SnapshotVolume(r.ctx, pv.DeepCopy(), tags)
	if err != nil {
		if ctxErr := r.ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		r.fail("Volume snapshot failed", gr, "", name, "", err)
		r.result.VolumeSnapshotsFailed++
		return nil
	}
	if info == nil {
		r.warn("Volume not snapshotted", gr, "", name, "the persistentVolumeProvider does not handle this volume", nil)
		return nil
	}
	r.result.VolumeBackups[name] = info.DeepCopy()
	r.info("Volume snapshotted", gr, "", name, fmt.Sprintf("snapshot %s", info.SnapshotID))
	return nil
}
