package volume

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/client-go/dynamic"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/backup"
	"github.com/heptio/ark/pkg/cloudprovider"
	"github.com/heptio/ark/pkg/cloudprovider/factory"
	"github.com/heptio/ark/pkg/restore"
	"github.com/heptio/ark/pkg/volume/csi"
)

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

// New builds the Provider that cfg (Config.persistentVolumeProvider) names: a block store of
// the provider registry (pkg/cloudprovider/factory) or csi. A nil cfg gives a nil Provider and no error: volumes are then not snapshotted.
func New(ctx context.Context, cfg *arkv1.CloudProviderConfig, o Options) (*Provider, error) {
	if cfg == nil {
		return nil, nil
	}
	if cfg.Name == factory.CSI {
		if o.Dynamic == nil {
			return nil, fmt.Errorf("persistentVolumeProvider csi: no dynamic client")
		}
		p, err := csi.NewFromConfig(o.Dynamic, cfg.Config)
		if err != nil {
			return nil, err
		}
		return &Provider{Name: cfg.Name, Snapshotter: p, Restorer: p, Deleter: p}, nil
	}
	if !slices.Contains(factory.BlockStoreNames(), cfg.Name) {
		return nil, fmt.Errorf("%w: unknown persistentVolumeProvider %q (valid: %s)", cloudprovider.ErrInvalidConfig, cfg.Name, strings.Join(factory.VolumeProviderNames(), ", "))
	}
	store, err := factory.NewBlockStore(ctx, cfg.Name, cfg.Config)
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
