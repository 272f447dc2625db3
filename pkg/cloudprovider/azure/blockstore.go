package azure

// BlockStore: Azure managed-disk snapshots with armcompute/v6. Creating and deleting are
// long-running operations, waited for with the SDK's pollers.
//
// Config keys (Config.persistentVolumeProvider.config): subscriptionId (required),
// resourceGroup (where snapshots and restored disks go; default: the disk's, resp. the
// snapshot's, resource group), resourceManagerEndpoint (another ARM endpoint, e.g. Azure Stack
// or a test server; https only, the token is sent to it), pollInterval (how often a
// long-running operation is polled when the service gives no Retry-After; default 5s).
// Credentials: azidentity's default chain (environment, workload identity, managed identity,
// Azure CLI).
//
// Volumes: spec.azureDisk.diskURI and CSI volumes of the Azure disk driver (spec.csi.driver
// disk.csi.azure.com): both hold the disk's ARM ID,
// /subscriptions/S/resourceGroups/RG/providers/Microsoft.Compute/disks/NAME, which is the
// volume ID. Snapshot IDs are ARM IDs of snapshots too. Zones are Azure's zone numbers ("1").

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v6"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/heptio/ark/pkg/cloudprovider"
	"github.com/heptio/ark/pkg/format"
)

// DiskCSIDriver is the name of the Azure disk CSI driver.
const DiskCSIDriver = "disk.csi.azure.com"

// BlockStoreConfigKeys are the Config.persistentVolumeProvider.config keys of this provider.
var BlockStoreConfigKeys = []string{"subscriptionId", "resourceGroup", "resourceManagerEndpoint", "pollInterval"}

const defaultPollInterval = 5 * time.Second

// BlockStoreOptions configures a BlockStore.
type BlockStoreOptions struct {
	SubscriptionID string
	ResourceGroup  string
	// Endpoint of Azure Resource Manager; empty for the public cloud.
	Endpoint string
	// PollInterval between polls of a long-running operation (default 5s).
	PollInterval time.Duration
	// Credential overrides azidentity's default chain (tests).
	Credential azcore.TokenCredential
	// Transport overrides the HTTP client (tests).
	Transport policy.Transporter
	// MaxRetries of one request (0: 3).
	MaxRetries int32
}

// BlockStore is the Azure implementation of cloudprovider.BlockStore.
type BlockStore struct {
	subscription  string
	resourceGroup string
	poll          time.Duration
	disks         *armcompute.DisksClient
	snapshots     *armcompute.SnapshotsClient
}

var _ cloudprovider.BlockStore = (*BlockStore)(nil)

// NewBlockStoreFromConfig builds a BlockStore from Config.persistentVolumeProvider.config.
func NewBlockStoreFromConfig(ctx context.Context, config map[string]string) (*BlockStore, error) {
	if err := cloudprovider.CheckBlockStoreConfigKeys(provider, config, BlockStoreConfigKeys...); err != nil {
		return nil, err
	}
	o := BlockStoreOptions{
		SubscriptionID: config["subscriptionId"],
		ResourceGroup:  config["resourceGroup"],
		Endpoint:       config["resourceManagerEndpoint"],
	}
	if s := config["pollInterval"]; s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < time.Second {
			return nil, cloudprovider.ConfigError(provider, "persistentVolumeProvider: config key \"pollInterval\": %q is not a duration of at least 1s", s)
		}
		o.PollInterval = d
	}
	return NewBlockStore(ctx, o)
}

// NewBlockStore builds a BlockStore.
func NewBlockStore(_ context.Context, o BlockStoreOptions) (*BlockStore, error) {
	if o.SubscriptionID == "" {
		return nil, cloudprovider.ConfigError(provider, "persistentVolumeProvider: config key \"subscriptionId\" is required")
	}
	clientOpts := &arm.ClientOptions{ClientOptions: azcore.ClientOptions{
		Retry:     policy.RetryOptions{MaxRetries: o.MaxRetries, RetryDelay: 500 * time.Millisecond, MaxRetryDelay: 10 * time.Second},
		Transport: o.Transport,
	}}
	if o.MaxRetries == 0 {
		clientOpts.Retry.MaxRetries = 3
	}
	if o.Endpoint != "" {
		u, err := url.Parse(o.Endpoint)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return nil, cloudprovider.ConfigError(provider, "persistentVolumeProvider: config key \"resourceManagerEndpoint\": %q is not an https URL", o.Endpoint)
		}
		clientOpts.Cloud = cloud.Configuration{
			ActiveDirectoryAuthorityHost: cloud.AzurePublic.ActiveDirectoryAuthorityHost,
			Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
				cloud.ResourceManager: {Endpoint: strings.TrimSuffix(o.Endpoint, "/"), Audience: strings.TrimSuffix(o.Endpoint, "/")},
			},
		}
	}
	cred := o.Credential
	if cred == nil {
		c, err := DefaultCredential()
		if err != nil {
			return nil, fmt.Errorf("%s: no Azure AD identity for the managed-disk API: %w", provider, err)
		}
		cred = c
	}
	disks, err := armcompute.NewDisksClient(o.SubscriptionID, cred, clientOpts)
	if err != nil {
		return nil, fmt.Errorf("%s: creating disks client: %w", provider, err)
	}
	snapshots, err := armcompute.NewSnapshotsClient(o.SubscriptionID, cred, clientOpts)
	if err != nil {
		return nil, fmt.Errorf("%s: creating snapshots client: %w", provider, err)
	}
	poll := o.PollInterval
	if poll == 0 {
		poll = defaultPollInterval
	}
	return &BlockStore{subscription: o.SubscriptionID, resourceGroup: o.ResourceGroup, poll: poll, disks: disks, snapshots: snapshots}, nil
}

func (b *BlockStore) wrap(op, id string, notFound, err error) error {
	if err == nil {
		return nil
	}
	cause := err
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		// ResponseError's own text spans many lines with the whole request; keep the status
		// and the service's error code.
		short := fmt.Errorf("HTTP %d %s", re.StatusCode, re.ErrorCode)
		switch {
		case re.StatusCode == http.StatusNotFound || re.ErrorCode == "ResourceNotFound" || re.ErrorCode == "NotFound":
			if notFound != nil {
				cause = fmt.Errorf("%w: %v", notFound, short)
			} else {
				cause = short
			}
		case re.StatusCode == http.StatusTooManyRequests || re.ErrorCode == "OperationNotAllowed" && strings.Contains(strings.ToLower(err.Error()), "throttl"):
			cause = fmt.Errorf("%w: %v", cloudprovider.ErrThrottled, short)
		case re.StatusCode == http.StatusForbidden || re.StatusCode == http.StatusUnauthorized ||
			re.ErrorCode == "AuthorizationFailed" || re.ErrorCode == "InvalidAuthenticationToken":
			cause = fmt.Errorf("%w: %v", cloudprovider.ErrAccessDenied, short)
		default:
			cause = short
		}
	}
	return &cloudprovider.BlockStoreError{Provider: provider, Op: op, ID: id, Err: cause}
}

// resourceID is a parsed ARM ID of a disk or snapshot.
type resourceID struct{ subscription, group, kind, name string }

func (r resourceID) String() string {
	return "/subscriptions/" + r.subscription + "/resourceGroups/" + r.group + "/providers/Microsoft.Compute/" + r.kind + "/" + r.name
}

// parseID parses /subscriptions/S/resourceGroups/RG/providers/Microsoft.Compute/<kind>/NAME
// (ARM IDs are case-insensitive but for the names).
func parseID(id, kind string) (resourceID, error) {
	p := strings.Split(strings.TrimPrefix(id, "/"), "/")
	if len(p) != 8 || !strings.EqualFold(p[0], "subscriptions") || !strings.EqualFold(p[2], "resourceGroups") ||
		!strings.EqualFold(p[4], "providers") || !strings.EqualFold(p[5], "Microsoft.Compute") ||
		!strings.EqualFold(p[6], kind) || p[1] == "" || p[3] == "" || p[7] == "" {
		return resourceID{}, fmt.Errorf("%q is not the ARM ID of a managed %s (/subscriptions/S/resourceGroups/RG/providers/Microsoft.Compute/%s/NAME)", id, strings.TrimSuffix(kind, "s"), kind)
	}
	return resourceID{subscription: p[1], group: p[3], kind: kind, name: p[7]}, nil
}

// GetVolumeID returns the disk ID of an in-tree azureDisk or Azure disk CSI PV.
func (b *BlockStore) GetVolumeID(pv *unstructured.Unstructured) (string, error) {
	if uri, ok, _ := unstructured.NestedString(pv.Object, "spec", "azureDisk", "diskURI"); ok {
		if kind, _, _ := unstructured.NestedString(pv.Object, "spec", "azureDisk", "kind"); kind != "" && kind != "Managed" {
			return "", fmt.Errorf("%s: PV %s: azureDisk of kind %s: only managed disks can be snapshotted", provider, pv.GetName(), kind)
		}
		if uri == "" {
			return "", fmt.Errorf("%s: PV %s: spec.azureDisk.diskURI is empty", provider, pv.GetName())
		}
		return uri, nil
	}
	return cloudprovider.CSIVolumeHandle(pv, DiskCSIDriver), nil
}

// SetVolumeID points the PV at the disk volumeID.
func (b *BlockStore) SetVolumeID(pv *unstructured.Unstructured, volumeID string) (*unstructured.Unstructured, error) {
	id, err := parseID(volumeID, "disks")
	if err != nil {
		return nil, fmt.Errorf("%s: PV %s: %w", provider, pv.GetName(), err)
	}
	out := pv.DeepCopy()
	if _, ok, _ := unstructured.NestedString(out.Object, "spec", "azureDisk", "diskURI"); ok {
		if err := unstructured.SetNestedField(out.Object, volumeID, "spec", "azureDisk", "diskURI"); err != nil {
			return nil, err
		}
		return out, unstructured.SetNestedField(out.Object, id.name, "spec", "azureDisk", "diskName")
	}
	if cloudprovider.CSIVolumeHandle(out, DiskCSIDriver) != "" {
		return out, unstructured.SetNestedField(out.Object, volumeID, "spec", "csi", "volumeHandle")
	}
	return nil, fmt.Errorf("%s: PV %s is not an Azure managed disk", provider, pv.GetName())
}

// iopsTypes are the disk SKUs whose IOPS are provisioned.
func iopsType(t string) bool { return t == "UltraSSD_LRS" || t == "PremiumV2_LRS" }

func (b *BlockStore) getDisk(ctx context.Context, op, volumeID string) (resourceID, *armcompute.Disk, error) {
	id, err := parseID(volumeID, "disks")
	if err != nil {
		return id, nil, b.wrap(op, volumeID, nil, err)
	}
	if !strings.EqualFold(id.subscription, b.subscription) {
		return id, nil, b.wrap(op, volumeID, nil, fmt.Errorf("the disk is in subscription %s, not in the configured subscriptionId", id.subscription))
	}
	resp, err := b.disks.Get(ctx, id.group, id.name, nil)
	if err != nil {
		return id, nil, b.wrap(op, volumeID, cloudprovider.ErrVolumeNotFound, err)
	}
	return id, &resp.Disk, nil
}

// GetVolumeInfo reads the disk's SKU, provisioned IOPS and zone. zone is ignored.
func (b *BlockStore) GetVolumeInfo(ctx context.Context, volumeID, _ string) (cloudprovider.VolumeInfo, error) {
	_, d, err := b.getDisk(ctx, "get volume", volumeID)
	if err != nil {
		return cloudprovider.VolumeInfo{}, err
	}
	var info cloudprovider.VolumeInfo
	if d.SKU != nil && d.SKU.Name != nil {
		info.Type = string(*d.SKU.Name)
	}
	if len(d.Zones) > 0 && d.Zones[0] != nil {
		info.Zone = *d.Zones[0]
	}
	if iopsType(info.Type) && d.Properties != nil && d.Properties.DiskIOPSReadWrite != nil {
		iops := *d.Properties.DiskIOPSReadWrite
		info.IOPS = &iops
	}
	return info, nil
}

// azureTags turns tags into Azure tags: names may not hold <>%&\?/ ("ark.heptio.com/backup"
// becomes "ark.heptio.com-backup"); values are cut at 256 characters.
func azureTags(tags map[string]string) map[string]*string {
	out := map[string]*string{}
	for k, v := range tags {
		k = azureTagName(k)
		if len(v) > 256 {
			v = v[:256]
		}
		out[k] = &v
	}
	return out
}

// azureTagName is the Azure tag name of an ark tag.
func azureTagName(k string) string {
	k = strings.Map(func(r rune) rune {
		if strings.ContainsRune(`<>%&\?/`, r) {
			return '-'
		}
		return r
	}, k)
	if len(k) > 512 {
		k = k[:512]
	}
	return k
}

// resourceName makes an Azure resource name (at most 80 characters of letters, digits, "_",
// "-" and ".") from base and a random suffix.
func resourceName(base string) string {
	buf := make([]byte, 4)
	_, _ = rand.Read(buf)
	suffix := "-" + hex.EncodeToString(buf)
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.' {
			return r
		}
		return '-'
	}, base)
	if max := 80 - len(suffix); len(name) > max {
		name = name[:max]
	}
	return name + suffix
}

// CreateSnapshot makes an incremental snapshot of the disk, in the disk's location, tagged
// with tags, and waits for the long-running operation to succeed.
func (b *BlockStore) CreateSnapshot(ctx context.Context, volumeID, _ string, tags map[string]string) (string, error) {
	id, d, err := b.getDisk(ctx, "create snapshot", volumeID)
	if err != nil {
		return "", err
	}
	snap := resourceID{subscription: b.subscription, group: b.resourceGroup, kind: "snapshots", name: resourceName(id.name)}
	if snap.group == "" {
		snap.group = id.group
	}
	poller, err := b.snapshots.BeginCreateOrUpdate(ctx, snap.group, snap.name, armcompute.Snapshot{
		Location: d.Location,
		Tags:     azureTags(tags),
		Properties: &armcompute.SnapshotProperties{
			CreationData: &armcompute.CreationData{
				CreateOption:     ptr(armcompute.DiskCreateOptionCopy),
				SourceResourceID: ptr(id.String()),
			},
			Incremental: ptr(true),
		},
	}, nil)
	if err == nil {
		_, err = poller.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: b.poll})
	}
	if err != nil {
		return "", b.wrap("create snapshot", volumeID, cloudprovider.ErrVolumeNotFound, err)
	}
	return snap.String(), nil
}

func ptr[T any](v T) *T { return &v }

// CreateVolumeFromSnapshot creates a disk of SKU volumeType with iops in zone from the
// snapshot, in the snapshot's location, and waits for it.
func (b *BlockStore) CreateVolumeFromSnapshot(ctx context.Context, snapshotID, volumeType, zone string, iops *int64) (string, error) {
	sid, err := parseID(snapshotID, "snapshots")
	if err != nil {
		return "", b.wrap("create volume", snapshotID, nil, err)
	}
	s, err := b.snapshots.Get(ctx, sid.group, sid.name, nil)
	if err != nil {
		return "", b.wrap("create volume", snapshotID, cloudprovider.ErrSnapshotNotFound, err)
	}
	disk := resourceID{subscription: b.subscription, group: b.resourceGroup, kind: "disks", name: resourceName("restore-" + sid.name)}
	if disk.group == "" {
		disk.group = sid.group
	}
	res := armcompute.Disk{
		Location: s.Location,
		Tags:     azureTags(map[string]string{format.RestoredFromTag: sid.name}),
		Properties: &armcompute.DiskProperties{CreationData: &armcompute.CreationData{
			CreateOption:     ptr(armcompute.DiskCreateOptionCopy),
			SourceResourceID: ptr(sid.String()),
		}},
	}
	if volumeType != "" {
		res.SKU = &armcompute.DiskSKU{Name: ptr(armcompute.DiskStorageAccountTypes(volumeType))}
	}
	if zone != "" {
		res.Zones = []*string{ptr(zone)}
	}
	if iops != nil && iopsType(volumeType) {
		res.Properties.DiskIOPSReadWrite = iops
	}
	poller, err := b.disks.BeginCreateOrUpdate(ctx, disk.group, disk.name, res, nil)
	if err == nil {
		_, err = poller.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: b.poll})
	}
	if err != nil {
		return "", b.wrap("create volume", snapshotID, cloudprovider.ErrSnapshotNotFound, err)
	}
	return disk.String(), nil
}

// IsVolumeReady says whether the disk's provisioning succeeded.
func (b *BlockStore) IsVolumeReady(ctx context.Context, volumeID, _ string) (bool, error) {
	_, d, err := b.getDisk(ctx, "volume ready", volumeID)
	if err != nil {
		return false, err
	}
	state := ""
	if d.Properties != nil && d.Properties.ProvisioningState != nil {
		state = *d.Properties.ProvisioningState
	}
	switch state {
	case "Succeeded":
		return true, nil
	case "Failed", "Canceled":
		return false, b.wrap("volume ready", volumeID, nil, fmt.Errorf("provisioning state %s", state))
	}
	return false, nil
}

// SnapshotTags reads the snapshot's tags; the ark tags (format.BackupTag) are given
// under their own names again.
func (b *BlockStore) SnapshotTags(ctx context.Context, snapshotID string) (map[string]string, error) {
	sid, err := parseID(snapshotID, "snapshots")
	if err != nil {
		return nil, b.wrap("read snapshot tags", snapshotID, nil, err)
	}
	s, err := b.snapshots.Get(ctx, sid.group, sid.name, nil)
	if err != nil {
		return nil, b.wrap("read snapshot tags", snapshotID, cloudprovider.ErrSnapshotNotFound, err)
	}
	tags := map[string]string{}
	for k, v := range s.Tags {
		if v != nil {
			tags[k] = *v
		}
	}
	if v, ok := tags[azureTagName(format.BackupTag)]; ok {
		tags[format.BackupTag] = v
	}
	return tags, nil
}

// DeleteSnapshot deletes the snapshot and waits for it; a missing one is not an error.
func (b *BlockStore) DeleteSnapshot(ctx context.Context, snapshotID string) error {
	sid, err := parseID(snapshotID, "snapshots")
	if err != nil {
		return b.wrap("delete snapshot", snapshotID, nil, err)
	}
	poller, err := b.snapshots.BeginDelete(ctx, sid.group, sid.name, nil)
	if err == nil {
		_, err = poller.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: b.poll})
	}
	err = b.wrap("delete snapshot", snapshotID, cloudprovider.ErrSnapshotNotFound, err)
	if errors.Is(err, cloudprovider.ErrSnapshotNotFound) {
		return nil
	}
	return err
}
