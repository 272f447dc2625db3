package gcp

// BlockStore: GCE persistent-disk snapshots with the cloud.google.com/go/compute/apiv1 REST
// clients.
//
// Config keys (Config.persistentVolumeProvider.config): project (required: the project of the
// snapshots, and of disks named without one), computeEndpoint (another endpoint, for tests; an
// http:// one gets no credentials). Credentials: Application Default Credentials.
//
// Volumes: spec.gcePersistentDisk.pdName (the disk's name; its zone comes from the PV's zone
// label or node affinity) and CSI volumes of the PD driver (spec.csi.driver
// pd.csi.storage.gke.io, volumeHandle "projects/P/zones/Z/disks/D"). Volume IDs are the disk's
// name or that path; CreateVolumeFromSnapshot returns the path. Snapshot IDs are snapshot
// names in the configured project.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/heptio/ark/pkg/cloudprovider"
	"github.com/heptio/ark/pkg/format"
)

// PDCSIDriver is the name of the GCE persistent-disk CSI driver.
const PDCSIDriver = "pd.csi.storage.gke.io"

// BlockStoreConfigKeys are the Config.persistentVolumeProvider.config keys of this provider.
var BlockStoreConfigKeys = []string{"project", "computeEndpoint"}

// BlockStoreOptions configures a BlockStore.
type BlockStoreOptions struct {
	Project string
	// Endpoint of the Compute API, e.g. http://127.0.0.1:8080 (the clients add /compute/v1/);
	// empty for Google's.
	Endpoint string
	// ClientOptions are added to the clients' options (tests).
	ClientOptions []option.ClientOption
	// PollInterval is the first wait between looks at a new snapshot (default 1s; doubles
	// up to 10s).
	PollInterval time.Duration
}

// BlockStore is the GCE implementation of cloudprovider.BlockStore.
type BlockStore struct {
	project     string
	pollInitial time.Duration
	disks       *compute.DisksClient
	snapshots   *compute.SnapshotsClient
}

var _ cloudprovider.BlockStore = (*BlockStore)(nil)

// NewBlockStoreFromConfig builds a BlockStore from Config.persistentVolumeProvider.config.
func NewBlockStoreFromConfig(ctx context.Context, config map[string]string) (*BlockStore, error) {
	if err := cloudprovider.CheckBlockStoreConfigKeys(provider, config, BlockStoreConfigKeys...); err != nil {
		return nil, err
	}
	return NewBlockStore(ctx, BlockStoreOptions{Project: config["project"], Endpoint: config["computeEndpoint"]})
}

// NewBlockStore builds a BlockStore.
func NewBlockStore(ctx context.Context, o BlockStoreOptions) (*BlockStore, error) {
	if o.Project == "" {
		return nil, cloudprovider.ConfigError(provider, "persistentVolumeProvider: config key \"project\" is required")
	}
	var opts []option.ClientOption
	if o.Endpoint != "" {
		u, err := url.Parse(o.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, cloudprovider.ConfigError(provider, "persistentVolumeProvider: config key \"computeEndpoint\": %q is not an http(s) URL", o.Endpoint)
		}
		opts = append(opts, option.WithEndpoint(strings.TrimSuffix(o.Endpoint, "/")))
		if u.Scheme == "http" {
			// Never send Google credentials in clear text: an http endpoint is a test server.
			opts = append(opts, option.WithoutAuthentication())
		}
	}
	opts = append(opts, o.ClientOptions...)
	disks, err := compute.NewDisksRESTClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s: creating compute disks client: %w", provider, err)
	}
	snapshots, err := compute.NewSnapshotsRESTClient(ctx, opts...)
	if err != nil {
		disks.Close()
		return nil, fmt.Errorf("%s: creating compute snapshots client: %w", provider, err)
	}
	poll := o.PollInterval
	if poll <= 0 {
		poll = time.Second
	}
	return &BlockStore{project: o.Project, pollInitial: poll, disks: disks, snapshots: snapshots}, nil
}

// Close releases the clients.
func (b *BlockStore) Close() error {
	return errors.Join(b.disks.Close(), b.snapshots.Close())
}

func (b *BlockStore) wrap(op, id string, notFound error, err error) error {
	if err == nil {
		return nil
	}
	cause := err
	var gErr *googleapi.Error
	if errors.As(err, &gErr) {
		reason := ""
		for _, e := range gErr.Errors {
			reason = e.Reason
		}
		short := fmt.Errorf("HTTP %d: %s", gErr.Code, gErr.Message)
		switch {
		case gErr.Code == http.StatusNotFound && notFound != nil:
			cause = fmt.Errorf("%w: %v", notFound, short)
		case gErr.Code == http.StatusTooManyRequests || reason == "rateLimitExceeded" ||
			reason == "userRateLimitExceeded" || reason == "quotaExceeded" && gErr.Code == http.StatusForbidden:
			cause = fmt.Errorf("%w: %v", cloudprovider.ErrThrottled, short)
		case gErr.Code == http.StatusForbidden || gErr.Code == http.StatusUnauthorized:
			cause = fmt.Errorf("%w: %v", cloudprovider.ErrAccessDenied, short)
		default:
			cause = short
		}
	}
	return &cloudprovider.BlockStoreError{Provider: provider, Op: op, ID: id, Err: cause}
}

// disk is a zonal disk's address.
type disk struct{ project, zone, name string }

func (d disk) path() string {
	return "projects/" + d.project + "/zones/" + d.zone + "/disks/" + d.name
}

// parseDisk reads a volume ID: "projects/P/zones/Z/disks/D" or a disk name (in zone).
func (b *BlockStore) parseDisk(volumeID, zone string) (disk, error) {
	parts := strings.Split(volumeID, "/")
	switch {
	case len(parts) == 1 && volumeID != "":
		if zone == "" {
			return disk{}, fmt.Errorf("the zone of disk %q is unknown (the PV has no zone label nor zone node affinity)", volumeID)
		}
		return disk{project: b.project, zone: zone, name: volumeID}, nil
	case len(parts) == 6 && parts[0] == "projects" && parts[2] == "zones" && parts[4] == "disks" &&
		parts[1] != "" && parts[3] != "" && parts[5] != "":
		return disk{project: parts[1], zone: parts[3], name: parts[5]}, nil
	case len(parts) == 6 && parts[2] == "regions":
		return disk{}, fmt.Errorf("regional disk %q: only zonal disks are supported", volumeID)
	}
	return disk{}, fmt.Errorf("%q is neither a disk name nor projects/P/zones/Z/disks/D", volumeID)
}

// GetVolumeID returns the disk of an in-tree GCE PD or PD CSI PV.
func (b *BlockStore) GetVolumeID(pv *unstructured.Unstructured) (string, error) {
	if name, ok, _ := unstructured.NestedString(pv.Object, "spec", "gcePersistentDisk", "pdName"); ok {
		if name == "" {
			return "", fmt.Errorf("%s: PV %s: spec.gcePersistentDisk.pdName is empty", provider, pv.GetName())
		}
		return name, nil
	}
	return cloudprovider.CSIVolumeHandle(pv, PDCSIDriver), nil
}

// SetVolumeID points the PV at volumeID (a path or a name).
func (b *BlockStore) SetVolumeID(pv *unstructured.Unstructured, volumeID string) (*unstructured.Unstructured, error) {
	out := pv.DeepCopy()
	if _, ok, _ := unstructured.NestedString(out.Object, "spec", "gcePersistentDisk", "pdName"); ok {
		name := volumeID[strings.LastIndex(volumeID, "/")+1:]
		return out, unstructured.SetNestedField(out.Object, name, "spec", "gcePersistentDisk", "pdName")
	}
	if cloudprovider.CSIVolumeHandle(out, PDCSIDriver) != "" {
		if !strings.HasPrefix(volumeID, "projects/") {
			return nil, fmt.Errorf("%s: PV %s: CSI volume handle %q is not projects/P/zones/Z/disks/D", provider, pv.GetName(), volumeID)
		}
		return out, unstructured.SetNestedField(out.Object, volumeID, "spec", "csi", "volumeHandle")
	}
	return nil, fmt.Errorf("%s: PV %s is not a GCE persistent disk", provider, pv.GetName())
}

// lastSegment turns ".../diskTypes/pd-ssd" or ".../zones/us-central1-a" into its last segment.
func lastSegment(s string) string { return s[strings.LastIndex(s, "/")+1:] }

// iopsTypes are the disk types whose IOPS are provisioned.
func iopsType(t string) bool { return t == "pd-extreme" || strings.HasPrefix(t, "hyperdisk-") }

func (b *BlockStore) getDisk(ctx context.Context, op, volumeID, zone string) (disk, *computepb.Disk, error) {
	d, err := b.parseDisk(volumeID, zone)
	if err != nil {
		return disk{}, nil, b.wrap(op, volumeID, nil, err)
	}
	got, err := b.disks.Get(ctx, &computepb.GetDiskRequest{Project: d.project, Zone: d.zone, Disk: d.name})
	if err != nil {
		return disk{}, nil, b.wrap(op, d.path(), cloudprovider.ErrVolumeNotFound, err)
	}
	return d, got, nil
}

// GetVolumeInfo reads the disk's type, provisioned IOPS and zone.
func (b *BlockStore) GetVolumeInfo(ctx context.Context, volumeID, zone string) (cloudprovider.VolumeInfo, error) {
	d, got, err := b.getDisk(ctx, "get volume", volumeID, zone)
	if err != nil {
		return cloudprovider.VolumeInfo{}, err
	}
	info := cloudprovider.VolumeInfo{Type: lastSegment(got.GetType()), Zone: lastSegment(got.GetZone())}
	if info.Zone == "" {
		info.Zone = d.zone
	}
	if iopsType(info.Type) && got.GetProvisionedIops() > 0 {
		iops := got.GetProvisionedIops()
		info.IOPS = &iops
	}
	return info, nil
}

// randomSuffix returns n random hex digits.
func randomSuffix(n int) string {
	buf := make([]byte, (n+1)/2)
	_, _ = rand.Read(buf)
	return hex.EncodeToString(buf)[:n]
}

// resourceName makes a GCE resource name (RFC 1035, at most 63 characters) from base and a
// random suffix.
func resourceName(prefix, base string) string {
	suffix := "-" + randomSuffix(8)
	var sb strings.Builder
	for _, r := range strings.ToLower(base) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			sb.WriteRune(r)
		} else {
			sb.WriteByte('-')
		}
	}
	name := prefix + sb.String()
	if max := 63 - len(suffix); len(name) > max {
		name = name[:max]
	}
	return strings.TrimRight(name, "-") + suffix
}

// gceLabels turns tags into GCE labels: keys and values of lowercase letters, digits, "_" and
// "-", at most 63 characters ("ark.heptio.com/backup" becomes "ark-heptio-com-backup").
func gceLabels(tags map[string]string) map[string]string {
	clean := func(s string) string {
		var sb strings.Builder
		for _, r := range strings.ToLower(s) {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
				sb.WriteRune(r)
			} else {
				sb.WriteByte('-')
			}
		}
		out := sb.String()
		if len(out) > 63 {
			out = out[:63]
		}
		return out
	}
	labels := map[string]string{}
	for k, v := range tags {
		key := clean(k)
		if key == "" || key[0] < 'a' || key[0] > 'z' {
			key = "ark-" + key
		}
		labels[key] = clean(v)
	}
	return labels
}

// snapshotDescription holds the tags unchanged, as JSON, for what labels cannot hold.
func snapshotDescription(tags map[string]string) string {
	data, _ := json.Marshal(tags) // map keys are sorted by encoding/json
	return "ark snapshot " + string(data)
}

// CreateSnapshot snapshots the disk into a global snapshot of the configured project, labelled
// with tags, and waits for the operation to finish.
func (b *BlockStore) CreateSnapshot(ctx context.Context, volumeID, zone string, tags map[string]string) (string, error) {
	d, err := b.parseDisk(volumeID, zone)
	if err != nil {
		return "", b.wrap("create snapshot", volumeID, nil, err)
	}
	name := resourceName("", d.name)
	op, err := b.snapshots.Insert(ctx, &computepb.InsertSnapshotRequest{
		Project: b.project,
		SnapshotResource: &computepb.Snapshot{
			Name:        &name,
			SourceDisk:  ptr(d.path()),
			Labels:      gceLabels(tags),
			Description: ptr(snapshotDescription(tags)),
		},
	})
	if err == nil {
		err = b.waitTaken(ctx, op, name)
	}
	if err != nil {
		return "", b.wrap("create snapshot", d.path(), cloudprovider.ErrVolumeNotFound, err)
	}
	return name, nil
}

// waitTaken returns once the snapshot's point in time is fixed: its status is UPLOADING or
// READY, or its operation is done. The operation ends only when the upload does, which can
// take many minutes, while the backup holds the pod's hooks (an application quiesced for the
// snapshot) until CreateSnapshot returns.
func (b *BlockStore) waitTaken(ctx context.Context, op *compute.Operation, name string) error {
	delay := b.pollInitial
	for {
		if err := op.Poll(ctx); err != nil {
			return err
		}
		if op.Done() {
			return nil
		}
		s, err := b.snapshots.Get(ctx, &computepb.GetSnapshotRequest{Project: b.project, Snapshot: name})
		var gErr *googleapi.Error
		switch {
		case err == nil:
			switch s.GetStatus() {
			case "UPLOADING", "READY":
				return nil
			case "FAILED":
				return fmt.Errorf("snapshot %s failed", name)
			}
		case errors.As(err, &gErr) && gErr.Code == http.StatusNotFound:
			// Not visible yet.
		default:
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		if delay *= 2; delay > 10*time.Second {
			delay = 10 * time.Second
		}
	}
}

func ptr[T any](v T) *T { return &v }

// CreateVolumeFromSnapshot creates a disk from the snapshot in zone and returns its path.
func (b *BlockStore) CreateVolumeFromSnapshot(ctx context.Context, snapshotID, volumeType, zone string, iops *int64) (string, error) {
	if zone == "" {
		return "", b.wrap("create volume", snapshotID, nil, errors.New("no zone to create the disk in"))
	}
	d := disk{project: b.project, zone: zone, name: resourceName("", "restore-"+snapshotID)}
	res := &computepb.Disk{
		Name:           &d.name,
		SourceSnapshot: ptr("projects/" + b.project + "/global/snapshots/" + snapshotID),
		Labels:         gceLabels(map[string]string{format.RestoredFromTag: snapshotID}),
	}
	if volumeType != "" {
		res.Type = ptr("projects/" + b.project + "/zones/" + zone + "/diskTypes/" + volumeType)
	}
	if iops != nil && iopsType(volumeType) {
		res.ProvisionedIops = iops
	}
	op, err := b.disks.Insert(ctx, &computepb.InsertDiskRequest{Project: b.project, Zone: zone, DiskResource: res})
	if err == nil {
		err = op.Wait(ctx)
	}
	if err != nil {
		return "", b.wrap("create volume", snapshotID, cloudprovider.ErrSnapshotNotFound, err)
	}
	return d.path(), nil
}

// IsVolumeReady says whether the disk's status is READY.
func (b *BlockStore) IsVolumeReady(ctx context.Context, volumeID, zone string) (bool, error) {
	d, got, err := b.getDisk(ctx, "volume ready", volumeID, zone)
	if err != nil {
		return false, err
	}
	switch got.GetStatus() {
	case "READY":
		return true, nil
	case "FAILED", "DELETING":
		return false, b.wrap("volume ready", d.path(), nil, fmt.Errorf("disk status is %s", got.GetStatus()))
	}
	return false, nil
}

// SnapshotTags reads the tags CreateSnapshot wrote, unchanged, into the snapshot's
// description (labels cannot hold them as they are). A snapshot whose description holds
// none gives an error matching cloudprovider.ErrTagsUnsupported.
func (b *BlockStore) SnapshotTags(ctx context.Context, snapshotID string) (map[string]string, error) {
	s, err := b.snapshots.Get(ctx, &computepb.GetSnapshotRequest{Project: b.project, Snapshot: snapshotID})
	if err != nil {
		return nil, b.wrap("read snapshot tags", snapshotID, cloudprovider.ErrSnapshotNotFound, err)
	}
	desc, ok := strings.CutPrefix(s.GetDescription(), "ark snapshot ")
	tags := map[string]string{}
	if !ok || json.Unmarshal([]byte(desc), &tags) != nil {
		return nil, b.wrap("read snapshot tags", snapshotID, nil, fmt.Errorf("%w: its description holds no ark tags", cloudprovider.ErrTagsUnsupported))
	}
	return tags, nil
}

// DeleteSnapshot deletes the snapshot; a missing one is not an error.
func (b *BlockStore) DeleteSnapshot(ctx context.Context, snapshotID string) error {
	op, err := b.snapshots.Delete(ctx, &computepb.DeleteSnapshotRequest{Project: b.project, Snapshot: snapshotID})
	if err == nil {
		err = op.Wait(ctx)
	}
	err = b.wrap("delete snapshot", snapshotID, cloudprovider.ErrSnapshotNotFound, err)
	if errors.Is(err, cloudprovider.ErrSnapshotNotFound) {
		return nil
	}
	return err
}
