package volume

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"k8s.io/client-go/dynamic"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/backup"
	"github.com/heptio/ark/pkg/cloudprovider"
	"github.com/heptio/ark/pkg/cloudprovider/aws"
	"github.com/heptio/ark/pkg/cloudprovider/azure"
	"github.com/heptio/ark/pkg/cloudprovider/csi"
	"github.com/heptio/ark/pkg/cloudprovider/gcp"
	"github.com/heptio/ark/pkg/redact"
	"github.com/heptio/ark/pkg/restore"
)

type blockStoreConstructor func(ctx context.Context, config map[string]string) (cloudprovider.BlockStore, error)

var blockStores = map[string]blockStoreConstructor{
	"aws": func(ctx context.Context, c map[string]string) (cloudprovider.BlockStore, error) {
		return aws.NewBlockStoreFromConfig(ctx, c)
	},
	"gcp": func(ctx context.Context, c map[string]string) (cloudprovider.BlockStore, error) {
		return gcp.NewBlockStoreFromConfig(ctx, c)
	},
	"azure": func(ctx context.Context, c map[string]string) (cloudprovider.BlockStore, error) {
		return azure.NewBlockStoreFromConfig(ctx, c)
	},
}

// CSIProvider is the name of the CSI persistentVolumeProvider.
const CSIProvider = "csi"

// Names returns the persistentVolumeProvider names New accepts, sorted.
func Names() []string {
	names := []string{CSIProvider}
	for n := range blockStores {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// NewBlockStore returns the BlockStore of cloud provider name (aws, gcp or azure) configured
// by config (Config.persistentVolumeProvider.config). Errors for an unknown name or config key
// match cloudprovider.ErrInvalidConfig.
func NewBlockStore(ctx context.Context, name string, config map[string]string) (cloudprovider.BlockStore, error) {
	c, ok := blockStores[name]
	if !ok {
		return nil, fmt.Errorf("%w: unknown persistentVolumeProvider %q for disk snapshots (valid: aws, azure, gcp)", cloudprovider.ErrInvalidConfig, name)
	}
	s, err := c(ctx, config)
	return s, redact.Error(err) // an SDK may quote its endpoint with credentials

}

// Options are what New needs besides the Config.
type Options struct {
	// Dynamic is the cluster's dynamic client (for csi).
	Dynamic dynamic.Interface
	// ReadyTimeout bounds the wait for a restored disk to be ready (0: DefaultReadyTimeout).
	ReadyTimeout time.Duration
}

// Provider is a persistentVolumeProvider ready for the server: one object per engine.
type Provider struct {
	Name        string
	Snapshotter backup.VolumeSnapshotter
	Restorer    restore.VolumeRestorer
	Deleter     SnapshotDeleter
}

// New builds the Provider that cfg (Config.persistentVolumeProvider) names: aws, gcp, azure
// or csi. A nil cfg gives a nil Provider and no error: volumes are then not snapshotted.
func New(ctx context.Context, cfg *arkv1.CloudProviderConfig, o Options) (*Provider, error) {
	if cfg == nil {
		return nil, nil
	}
	if cfg.Name == CSIProvider {
		if o.Dynamic == nil {
			return nil, fmt.Errorf("persistentVolumeProvider csi: no dynamic client")
		}
		p, err := csi.NewFromConfig(o.Dynamic, cfg.Config)
		if err != nil {
			return nil, err
		}
		return &Provider{Name: cfg.Name, Snapshotter: p, Restorer: p, Deleter: p}, nil
	}
	if _, known := blockStores[cfg.Name]; !known {
		return nil, fmt.Errorf("%w: unknown persistentVolumeProvider %q (valid: %s)", cloudprovider.ErrInvalidConfig, cfg.Name, strings.Join(Names(), ", "))
	}
	store, err := NewBlockStore(ctx, cfg.Name, cfg.Config)
	if err != nil {
		return nil, err
	}
	return &Provider{
		Name:        cfg.Name,
		Snapshotter: NewSnapshotter(store),
		Restorer:    NewRestorer(store, o.ReadyTimeout),
		Deleter:     NewDeleter(store),
	}, nil
}
