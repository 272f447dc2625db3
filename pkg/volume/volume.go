// Package volume connects the persistentVolumeProvider to the engines: it adapts a
// cloudprovider.BlockStore (aws, gcp, azure) to backup.VolumeSnapshotter,
// restore.VolumeRestorer and the gc controller's SnapshotDeleter, and New builds all three from
// Config.persistentVolumeProvider, for the clouds and for CSI (package csi).
package volume

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/klog/v2"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/backup"
	"github.com/heptio/ark/pkg/cloudprovider"
	"github.com/heptio/ark/pkg/format"
	"github.com/heptio/ark/pkg/restore"
)

// SnapshotDeleter deletes a snapshot by the ID a backup recorded; deleting one that is gone
// is not an error. SnapshotBackupTag reads the snapshot's backup tag from the cloud (an
// error matching cloudprovider.ErrTagsUnsupported when the provider cannot). It is what
// the deletion controller needs (controller.SnapshotDeleter).
type SnapshotDeleter interface {
	SnapshotBackupTag(ctx context.Context, snapshotID string) (string, error)
	DeleteSnapshot(ctx context.Context, snapshotID string) error
}

// NewDeleter returns the SnapshotDeleter of store.
func NewDeleter(store cloudprovider.BlockStore) SnapshotDeleter { return deleter{store} }

type deleter struct{ cloudprovider.BlockStore }

func (d deleter) SnapshotBackupTag(ctx context.Context, snapshotID string) (string, error) {
	r, ok := d.BlockStore.(cloudprovider.SnapshotTagReader)
	if !ok {
		return "", cloudprovider.ErrTagsUnsupported
	}
	tags, err := r.SnapshotTags(ctx, snapshotID)
	if err != nil {
		return "", err
	}
	return tags[format.BackupTag], nil
}

// Defaults of the restorer.
const (
	DefaultReadyTimeout = 10 * time.Minute
	DefaultPollInterval = 2 * time.Second
)

// NewSnapshotter returns a VolumeSnapshotter that snapshots the PVs store handles: it reads
// the disk's type, IOPS and zone from the cloud, snapshots it with the tags, and records them
// in the VolumeBackupInfo. A PV the store does not handle gives nil, nil.
func NewSnapshotter(store cloudprovider.BlockStore) backup.VolumeSnapshotter {
	return &snapshotter{store: store}
}

type snapshotter struct{ store cloudprovider.BlockStore }

func (s *snapshotter) SnapshotVolume(ctx context.Context, pv *unstructured.Unstructured, tags map[string]string) (*arkv1.VolumeBackupInfo, error) {
	id, err := s.store.GetVolumeID(pv)
	if err != nil {
		return nil, err
	}
	if id == "" {
		return nil, nil
	}
	zone := cloudprovider.PVZone(pv)
	info, err := s.store.GetVolumeInfo(ctx, id, zone)
	if err != nil {
		return nil, err
	}
	if info.Zone != "" {
		zone = info.Zone
	}
	snap, err := s.store.CreateSnapshot(ctx, id, zone, tags)
	if err != nil {
		return nil, err
	}
	klog.FromContext(ctx).V(2).Info("Volume snapshot created", "pv", pv.GetName(), "volumeID", id, "snapshotID", snap, "type", info.Type, "zone", zone)
	return &arkv1.VolumeBackupInfo{SnapshotID: snap, Type: info.Type, AvailabilityZone: zone, Iops: info.IOPS}, nil
}

// RestorerOption configures NewRestorer.
type RestorerOption func(*restorer)

// WithPollInterval sets how often a new volume is checked for readiness (default 2s).
func WithPollInterval(d time.Duration) RestorerOption { return func(r *restorer) { r.poll = d } }

// NewRestorer returns a VolumeRestorer that creates a disk from the PV's snapshot, with the
// original's type and IOPS in its zone, waits up to readyTimeout (0: DefaultReadyTimeout) for
// it to be ready, and returns the PV pointing at it. Everything else of the PV is kept: its
// claimRef (which the engine has stripped of uid and resourceVersion), so that the restored
// claim binds to it again, its zone labels and node affinity (the disk is in the same zone).
func NewRestorer(store cloudprovider.BlockStore, readyTimeout time.Duration, opts ...RestorerOption) restore.VolumeRestorer {
	if readyTimeout <= 0 {
		readyTimeout = DefaultReadyTimeout
	}
	r := &restorer{store: store, timeout: readyTimeout, poll: DefaultPollInterval}
	for _, o := range opts {
		o(r)
	}
	return r
}

type restorer struct {
	store   cloudprovider.BlockStore
	timeout time.Duration
	poll    time.Duration
}

func (r *restorer) RestoreVolume(ctx context.Context, pv *unstructured.Unstructured, info *arkv1.VolumeBackupInfo) (*unstructured.Unstructured, error) {
	if info == nil || info.SnapshotID == "" {
		return nil, errors.New("no snapshot ID in the backup")
	}
	// Check the PV's form first: a snapshot of another provider's volume cannot be restored
	// here, and no disk should be made for nothing.
	id, err := r.store.GetVolumeID(pv)
	if err != nil {
		return nil, err
	}
	if id == "" {
		return nil, fmt.Errorf("PV %s is not a volume of the configured persistentVolumeProvider (was the backup taken on another cloud?)", pv.GetName())
	}
	zone := info.AvailabilityZone
	if zone == "" {
		zone = cloudprovider.PVZone(pv)
	}
	volumeID, err := r.store.CreateVolumeFromSnapshot(ctx, info.SnapshotID, info.Type, zone, info.Iops)
	if err != nil {
		return nil, err
	}
	logger := klog.FromContext(ctx).WithValues("pv", pv.GetName(), "snapshotID", info.SnapshotID, "volumeID", volumeID)
	logger.V(2).Info("Volume created from snapshot; waiting until it is ready")
	var lastErr error
	err = wait.PollUntilContextTimeout(ctx, r.poll, r.timeout, true, func(ctx context.Context) (bool, error) {
		ready, err := r.store.IsVolumeReady(ctx, volumeID, zone)
		if errors.Is(err, cloudprovider.ErrThrottled) || errors.Is(err, cloudprovider.ErrVolumeNotFound) {
			// A new disk may not be visible at once (eventual consistency); try again.
			lastErr = err
			return false, nil
		}
		return ready, err
	})
	if err != nil {
		if lastErr != nil && wait.Interrupted(err) {
			err = fmt.Errorf("%w (last: %v)", err, lastErr)
		}
		// The disk exists: say which, so that it can be found and deleted.
		return nil, fmt.Errorf("volume %s made from snapshot %s is not ready after %s: %w", volumeID, info.SnapshotID, r.timeout, err)
	}
	return r.store.SetVolumeID(pv, volumeID)
}
