package aws

// BlockStore: EBS snapshots with aws-sdk-go-v2's EC2 client.
//
// Config keys (Config.persistentVolumeProvider.config): region (required), ec2Url (endpoint
// of an EC2-compatible server, for tests). Credentials come from the SDK's default chain, as
// for the ObjectStore.
//
// Volumes: spec.awsElasticBlockStore.volumeID ("vol-0abc" or "aws://us-east-1a/vol-0abc") and
// CSI volumes of the EBS driver (spec.csi.driver ebs.csi.aws.com, volumeHandle "vol-0abc").

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/heptio/ark/pkg/cloudprovider"
	"github.com/heptio/ark/pkg/format"
)

// EBSCSIDriver is the name of the EBS CSI driver.
const EBSCSIDriver = "ebs.csi.aws.com"

// BlockStoreConfigKeys are the Config.persistentVolumeProvider.config keys of this provider.
var BlockStoreConfigKeys = []string{"region", "ec2Url"}

// BlockStoreOptions configures a BlockStore.
type BlockStoreOptions struct {
	Region   string
	Endpoint string // ec2Url; empty for AWS itself
	// Credentials overrides the default chain (tests); nil uses the default chain.
	Credentials aws.CredentialsProvider
	// MaxAttempts bounds the SDK's tries of one call (0: the SDK's default, 3).
	MaxAttempts int
	// HTTPClient overrides the SDK's HTTP client (tests).
	HTTPClient *http.Client
}

// BlockStore is the EBS implementation of cloudprovider.BlockStore.
type BlockStore struct {
	ec2 *ec2.Client
}

var (
	_ cloudprovider.BlockStore        = (*BlockStore)(nil)
	_ cloudprovider.SnapshotTagReader = (*BlockStore)(nil)
)

// NewBlockStoreFromConfig builds a BlockStore from Config.persistentVolumeProvider.config.
func NewBlockStoreFromConfig(ctx context.Context, config map[string]string) (*BlockStore, error) {
	if err := cloudprovider.CheckBlockStoreConfigKeys(provider, config, BlockStoreConfigKeys...); err != nil {
		return nil, err
	}
	return NewBlockStore(ctx, BlockStoreOptions{Region: config["region"], Endpoint: config["ec2Url"]})
}

// NewBlockStore builds a BlockStore.
func NewBlockStore(ctx context.Context, o BlockStoreOptions) (*BlockStore, error) {
	if o.Region == "" {
		// EBS volumes and snapshots are regional: the region cannot be guessed.
		return nil, cloudprovider.ConfigError(provider, "persistentVolumeProvider: config key \"region\" is required")
	}
	if o.Endpoint != "" {
		if err := checkURL(o.Endpoint); err != nil {
			return nil, cloudprovider.ConfigError(provider, "persistentVolumeProvider: config key \"ec2Url\": %v", err)
		}
	}
	loadOpts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(o.Region)}
	if o.Credentials != nil {
		loadOpts = append(loadOpts, awsconfig.WithCredentialsProvider(o.Credentials))
	}
	if o.HTTPClient != nil {
		loadOpts = append(loadOpts, awsconfig.WithHTTPClient(o.HTTPClient))
	}
	if o.MaxAttempts > 0 {
		loadOpts = append(loadOpts, awsconfig.WithRetryMaxAttempts(o.MaxAttempts))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("%s: loading AWS configuration and credentials: %w", provider, err)
	}
	client := ec2.NewFromConfig(cfg, func(eo *ec2.Options) {
		if o.Endpoint != "" {
			eo.BaseEndpoint = aws.String(o.Endpoint)
		}
	})
	return &BlockStore{ec2: client}, nil
}

func (b *BlockStore) wrap(op, id string, err error) error {
	if err == nil {
		return nil
	}
	cause := err
	var apiErr smithy.APIError
	code := ""
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	var respErr *smithyhttp.ResponseError
	switch {
	case code == "InvalidVolume.NotFound" || code == "InvalidVolumeID.Malformed":
		cause = fmt.Errorf("%w: %v", cloudprovider.ErrVolumeNotFound, err)
	case code == "InvalidSnapshot.NotFound" || code == "InvalidSnapshotID.Malformed":
		cause = fmt.Errorf("%w: %v", cloudprovider.ErrSnapshotNotFound, err)
	case code == "RequestLimitExceeded" || code == "Throttling" || code == "ThrottlingException" ||
		code == "SnapshotCreationPerVolumeRateExceeded":
		cause = fmt.Errorf("%w: %v", cloudprovider.ErrThrottled, err)
	case code == "UnauthorizedOperation" || code == "AuthFailure" || code == "Blocked" ||
		code == "OptInRequired" || code == "InvalidClientTokenId" || code == "SignatureDoesNotMatch":
		cause = fmt.Errorf("%w: %v", cloudprovider.ErrAccessDenied, err)
	case errors.As(err, &respErr) && respErr.HTTPStatusCode() == http.StatusForbidden:
		cause = fmt.Errorf("%w: %v", cloudprovider.ErrAccessDenied, err)
	}
	return &cloudprovider.BlockStoreError{Provider: provider, Op: op, ID: id, Err: cause}
}

// ebsVolumeID turns "aws://us-east-1a/vol-0abc" or "vol-0abc" into "vol-0abc".
func ebsVolumeID(s string) string {
	if strings.HasPrefix(s, "aws://") {
		return s[strings.LastIndex(s, "/")+1:]
	}
	return s
}

// GetVolumeID returns the EBS volume ID of an in-tree EBS or EBS CSI PV.
func (b *BlockStore) GetVolumeID(pv *unstructured.Unstructured) (string, error) {
	if id, ok, _ := unstructured.NestedString(pv.Object, "spec", "awsElasticBlockStore", "volumeID"); ok {
		if id == "" {
			return "", fmt.Errorf("%s: PV %s: spec.awsElasticBlockStore.volumeID is empty", provider, pv.GetName())
		}
		return ebsVolumeID(id), nil
	}
	return ebsVolumeID(cloudprovider.CSIVolumeHandle(pv, EBSCSIDriver)), nil
}

// SetVolumeID points the PV at volumeID.
func (b *BlockStore) SetVolumeID(pv *unstructured.Unstructured, volumeID string) (*unstructured.Unstructured, error) {
	out := pv.DeepCopy()
	if old, ok, _ := unstructured.NestedString(out.Object, "spec", "awsElasticBlockStore", "volumeID"); ok {
		if strings.HasPrefix(old, "aws://") {
			// Keep the aws://<zone>/ form; the disk was made in the same zone.
			volumeID = old[:strings.LastIndex(old, "/")+1] + volumeID
		}
		return out, unstructured.SetNestedField(out.Object, volumeID, "spec", "awsElasticBlockStore", "volumeID")
	}
	if cloudprovider.CSIVolumeHandle(out, EBSCSIDriver) != "" {
		return out, unstructured.SetNestedField(out.Object, volumeID, "spec", "csi", "volumeHandle")
	}
	return nil, fmt.Errorf("%s: PV %s is not an EBS volume", provider, pv.GetName())
}

// iopsTypes are the volume types whose IOPS are provisioned (and can be set on create).
var iopsTypes = map[ec2types.VolumeType]bool{
	ec2types.VolumeTypeIo1: true,
	ec2types.VolumeTypeIo2: true,
	ec2types.VolumeTypeGp3: true,
}

func (b *BlockStore) describe(ctx context.Context, op, volumeID string) (*ec2types.Volume, error) {
	out, err := b.ec2.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{volumeID}})
	if err != nil {
		return nil, b.wrap(op, volumeID, err)
	}
	for i := range out.Volumes {
		if aws.ToString(out.Volumes[i].VolumeId) == volumeID {
			return &out.Volumes[i], nil
		}
	}
	return nil, b.wrap(op, volumeID, fmt.Errorf("%w: not in DescribeVolumes' answer", cloudprovider.ErrVolumeNotFound))
}

// GetVolumeInfo describes the volume. zone is ignored: volume IDs are unique in a region.
func (b *BlockStore) GetVolumeInfo(ctx context.Context, volumeID, _ string) (cloudprovider.VolumeInfo, error) {
	v, err := b.describe(ctx, "get volume", volumeID)
	if err != nil {
		return cloudprovider.VolumeInfo{}, err
	}
	info := cloudprovider.VolumeInfo{Type: string(v.VolumeType), Zone: aws.ToString(v.AvailabilityZone)}
	if iopsTypes[v.VolumeType] && v.Iops != nil {
		iops := int64(*v.Iops)
		info.IOPS = &iops
	}
	return info, nil
}

func ec2Tags(tags map[string]string) []ec2types.Tag {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]ec2types.Tag, 0, len(keys))
	for _, k := range keys {
		out = append(out, ec2types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	return out
}

// CreateSnapshot snapshots the volume. The tags are set by the CreateSnapshot call itself, so
// no snapshot ever exists untagged (one that could not be found to be cleaned up).
func (b *BlockStore) CreateSnapshot(ctx context.Context, volumeID, _ string, tags map[string]string) (string, error) {
	in := &ec2.CreateSnapshotInput{
		VolumeId:    aws.String(volumeID),
		Description: aws.String(snapshotDescription(tags)),
	}
	if len(tags) > 0 {
		in.TagSpecifications = []ec2types.TagSpecification{{
			ResourceType: ec2types.ResourceTypeSnapshot,
			Tags:         ec2Tags(tags),
		}}
	}
	out, err := b.ec2.CreateSnapshot(ctx, in)
	if err != nil {
		return "", b.wrap("create snapshot", volumeID, err)
	}
	if aws.ToString(out.SnapshotId) == "" {
		return "", b.wrap("create snapshot", volumeID, errors.New("the answer holds no snapshot ID"))
	}
	return aws.ToString(out.SnapshotId), nil
}

func snapshotDescription(tags map[string]string) string {
	if b := tags[format.BackupTag]; b != "" {
		return "ark backup " + b
	}
	return "ark snapshot"
}

// CreateVolumeFromSnapshot creates a volume of volumeType with iops in zone from the snapshot.
// It copies the snapshot's ark tags to the volume.
func (b *BlockStore) CreateVolumeFromSnapshot(ctx context.Context, snapshotID, volumeType, zone string, iops *int64) (string, error) {
	if zone == "" {
		return "", b.wrap("create volume", snapshotID, errors.New("no availability zone to create the volume in"))
	}
	in := &ec2.CreateVolumeInput{
		SnapshotId:       aws.String(snapshotID),
		AvailabilityZone: aws.String(zone),
		TagSpecifications: []ec2types.TagSpecification{{
			ResourceType: ec2types.ResourceTypeVolume,
			Tags:         []ec2types.Tag{{Key: aws.String(format.RestoredFromTag), Value: aws.String(snapshotID)}},
		}},
	}
	if volumeType != "" {
		in.VolumeType = ec2types.VolumeType(volumeType)
	}
	// IOPS only go with a type that takes them (gp2, the default type, refuses them).
	if iops != nil && iopsTypes[ec2types.VolumeType(volumeType)] {
		if *iops <= 0 || *iops > 1<<31-1 {
			return "", b.wrap("create volume", snapshotID, fmt.Errorf("IOPS %d out of range", *iops))
		}
		in.Iops = aws.Int32(int32(*iops))
	}
	out, err := b.ec2.CreateVolume(ctx, in)
	if err != nil {
		return "", b.wrap("create volume", snapshotID, err)
	}
	if aws.ToString(out.VolumeId) == "" {
		return "", b.wrap("create volume", snapshotID, errors.New("the answer holds no volume ID"))
	}
	return aws.ToString(out.VolumeId), nil
}

// IsVolumeReady says whether the volume is available (or already in use).
func (b *BlockStore) IsVolumeReady(ctx context.Context, volumeID, _ string) (bool, error) {
	v, err := b.describe(ctx, "volume ready", volumeID)
	if err != nil {
		return false, err
	}
	switch v.State {
	case ec2types.VolumeStateAvailable, ec2types.VolumeStateInUse:
		return true, nil
	case ec2types.VolumeStateCreating:
		return false, nil
	default:
		return false, b.wrap("volume ready", volumeID, fmt.Errorf("volume is %s", v.State))
	}
}

// SnapshotTags reads the snapshot's tags with DescribeSnapshots.
func (b *BlockStore) SnapshotTags(ctx context.Context, snapshotID string) (map[string]string, error) {
	out, err := b.ec2.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{snapshotID}})
	if err != nil {
		return nil, b.wrap("read snapshot tags", snapshotID, err)
	}
	for _, s := range out.Snapshots {
		if aws.ToString(s.SnapshotId) != snapshotID {
			continue
		}
		tags := map[string]string{}
		for _, t := range s.Tags {
			tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
		return tags, nil
	}
	return nil, b.wrap("read snapshot tags", snapshotID, fmt.Errorf("%w: not in DescribeSnapshots' answer", cloudprovider.ErrSnapshotNotFound))
}

// DeleteSnapshot deletes the snapshot; a missing one is not an error.
func (b *BlockStore) DeleteSnapshot(ctx context.Context, snapshotID string) error {
	_, err := b.ec2.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(snapshotID)})
	if err = b.wrap("delete snapshot", snapshotID, err); errors.Is(err, cloudprovider.ErrSnapshotNotFound) {
		return nil
	}
	return err
}
