package cloudprovider

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// BlockStore takes snapshots of a cloud's disks and makes disks from them. The aws, gcp and
// azure subpackages implement it; package volume adapts it to the backup and restore engines
// and chooses one by Config.persistentVolumeProvider.name.
//
// Volume and snapshot IDs are the provider's own (vol-0abc, the disk's name or its
// projects/P/zones/Z/disks/D path, an ARM resource ID). Every method that calls the cloud
// honours ctx.
type BlockStore interface {
	// GetVolumeID returns the ID of the PV's disk, or "" with a nil error when the PV is not
	// a volume of this provider (another cloud, NFS, hostPath...).
	GetVolumeID(pv *unstructured.Unstructured) (string, error)

	// SetVolumeID returns a copy of pv pointing at volumeID instead, in the same form (in-tree
	// or CSI) as before.
	SetVolumeID(pv *unstructured.Unstructured, volumeID string) (*unstructured.Unstructured, error)

	// GetVolumeInfo reads the disk's type, provisioned IOPS (nil when it has none) and zone
	// from the cloud. zone is the PV's zone as far as the PV says (may be ""); providers whose
	// volume IDs are unique per region ignore it. A disk that does not exist gives an error
	// matching ErrVolumeNotFound.
	GetVolumeInfo(ctx context.Context, volumeID, zone string) (VolumeInfo, error)

	// CreateSnapshot starts a snapshot of the disk, tagged (labelled) with tags, and returns
	// its ID once the cloud has accepted it: the point in time is then fixed even if the
	// snapshot's upload goes on.
	CreateSnapshot(ctx context.Context, volumeID, zone string, tags map[string]string) (snapshotID string, err error)

	// CreateVolumeFromSnapshot creates a disk of volumeType (the original's; "" for the
	// cloud's default) with iops (nil for none) in zone from the snapshot and returns its ID.
	// The disk may not be ready yet: see IsVolumeReady.
	CreateVolumeFromSnapshot(ctx context.Context, snapshotID, volumeType, zone string, iops *int64) (volumeID string, err error)

	// IsVolumeReady says whether the disk can be attached. A disk that failed to be created
	// gives an error.
	IsVolumeReady(ctx context.Context, volumeID, zone string) (ready bool, err error)

	// DeleteSnapshot deletes the snapshot. Deleting a snapshot that does not exist is not an
	// error.
	DeleteSnapshot(ctx context.Context, snapshotID string) error
}

// SnapshotTagReader is implemented by the BlockStores that can read a snapshot's tags back
// from the cloud, so that a snapshot is deleted only if the cloud says it is the backup's.
type SnapshotTagReader interface {
	// SnapshotTags returns the snapshot's tags as CreateSnapshot was given them (any
	// provider-specific encoding of their names undone). A snapshot that does not exist
	// gives an error matching ErrSnapshotNotFound.
	SnapshotTags(ctx context.Context, snapshotID string) (map[string]string, error)
}

// ErrTagsUnsupported: the provider cannot read a snapshot's tags, so ark cannot tell
// whose it is and leaves it alone.
var ErrTagsUnsupported = errors.New("the persistentVolumeProvider cannot read snapshot tags")

// VolumeInfo is what a BlockStore reads of a disk.
type VolumeInfo struct {
	// Type is the disk type: gp3, io2, pd-ssd, Premium_LRS...
	Type string
	// IOPS is the provisioned IOPS, nil when the type has none to set.
	IOPS *int64
	// Zone is where the disk lives ("" for a regional disk on Azure).
	Zone string
}

// Errors that BlockStore implementations wrap; check them with errors.Is.
var (
	// ErrVolumeNotFound: the disk does not exist (in that zone).
	ErrVolumeNotFound = errors.New("volume not found")
	// ErrSnapshotNotFound: the snapshot does not exist.
	ErrSnapshotNotFound = errors.New("snapshot not found")
	// ErrThrottled: the cloud refused the call for its rate limits, even after the SDK's
	// retries; the operation may succeed later.
	ErrThrottled = errors.New("request throttled by the cloud provider")
)

// BlockStoreError is the error BlockStore implementations return: it names the provider, the
// operation and its target, and wraps the cause (ErrVolumeNotFound, ErrSnapshotNotFound,
// ErrThrottled, ErrAccessDenied when they apply). It never contains credentials.
type BlockStoreError struct {
	Provider string // aws, gcp, azure
	Op       string // get volume, create snapshot, create volume, volume ready, delete snapshot
	ID       string // volume or snapshot ID
	Err      error
}

func (e *BlockStoreError) Error() string {
	return fmt.Sprintf("%s: %s %q: %v", e.Provider, e.Op, e.ID, e.Err)
}

func (e *BlockStoreError) Unwrap() error { return e.Err }

// CheckBlockStoreConfigKeys returns an ErrInvalidConfig error naming the keys of config (a
// Config.persistentVolumeProvider.config) that are not in known.
func CheckBlockStoreConfigKeys(provider string, config map[string]string, known ...string) error {
	valid := map[string]bool{}
	for _, k := range known {
		valid[k] = true
	}
	var unknown []string
	for k := range config {
		if !valid[k] {
			unknown = append(unknown, strconv.Quote(k))
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	k := append([]string(nil), known...)
	sort.Strings(k)
	return ConfigError(provider, "persistentVolumeProvider: unknown config key(s) %s (valid keys: %s)",
		strings.Join(unknown, ", "), strings.Join(k, ", "))
}

// Labels that name a PV's zone, newest first.
var zoneLabels = []string{
	"topology.kubernetes.io/zone",
	"failure-domain.beta.kubernetes.io/zone",
}

// Node-affinity keys that name a zone: the well-known one and the CSI drivers' own.
var zoneAffinityKeys = map[string]bool{
	"topology.kubernetes.io/zone":            true,
	"failure-domain.beta.kubernetes.io/zone": true,
	"topology.ebs.csi.aws.com/zone":          true,
	"topology.gke.io/zone":                   true,
	"topology.disk.csi.azure.com/zone":       true,
}

// PVZone returns the zone a PV says its volume is in: its zone label, or else the single zone
// its required node affinity allows. "" when it says nothing (or allows several zones).
func PVZone(pv *unstructured.Unstructured) string {
	labels := pv.GetLabels()
	for _, l := range zoneLabels {
		if z := labels[l]; z != "" {
			// Regional disks carry "zone1__zone2".
			if !strings.Contains(z, "__") {
				return z
			}
		}
	}
	terms, _, _ := unstructured.NestedSlice(pv.Object, "spec", "nodeAffinity", "required", "nodeSelectorTerms")
	zone := ""
	for _, t := range terms {
		tm, _ := t.(map[string]any)
		exprs, _, _ := unstructured.NestedSlice(tm, "matchExpressions")
		for _, e := range exprs {
			em, _ := e.(map[string]any)
			key, _, _ := unstructured.NestedString(em, "key")
			op, _, _ := unstructured.NestedString(em, "operator")
			values, _, _ := unstructured.NestedStringSlice(em, "values")
			if !zoneAffinityKeys[key] || op != "In" || len(values) != 1 {
				continue
			}
			if zone != "" && zone != values[0] {
				return ""
			}
			zone = values[0]
		}
	}
	return zone
}

// CSIVolumeHandle returns spec.csi.volumeHandle of a PV whose spec.csi.driver is driver, or "".
func CSIVolumeHandle(pv *unstructured.Unstructured, driver string) string {
	d, _, _ := unstructured.NestedString(pv.Object, "spec", "csi", "driver")
	if d != driver {
		return ""
	}
	h, _, _ := unstructured.NestedString(pv.Object, "spec", "csi", "volumeHandle")
	return h
}
