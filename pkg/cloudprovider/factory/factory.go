// Package factory is the one registry of ark's cloud providers: for each name
// (Config.backupStorageProvider.name, Config.persistentVolumeProvider.name)
// what it provides, an object store (the bucket), a block store (disk
// snapshots), or both. Validation, the server and the tests all read it.
package factory

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/heptio/ark/pkg/cloudprovider"
	"github.com/heptio/ark/pkg/cloudprovider/aws"
	"github.com/heptio/ark/pkg/cloudprovider/azure"
	"github.com/heptio/ark/pkg/cloudprovider/filesystem"
	"github.com/heptio/ark/pkg/cloudprovider/gcp"
	"github.com/heptio/ark/pkg/redact"
)

// provider is what one provider name builds, from its Config's config map;
// nil where it provides nothing of the kind.
type provider struct {
	objectStore func(ctx context.Context, config map[string]string) (cloudprovider.ObjectStore, error)
	blockStore  func(ctx context.Context, config map[string]string) (cloudprovider.BlockStore, error)
}

var providers = map[string]provider{
	"aws": {
		objectStore: func(ctx context.Context, c map[string]string) (cloudprovider.ObjectStore, error) {
			return aws.NewFromConfig(ctx, c)
		},
		blockStore: func(ctx context.Context, c map[string]string) (cloudprovider.BlockStore, error) {
			return aws.NewBlockStoreFromConfig(ctx, c)
		},
	},
	"gcp": {
		objectStore: func(ctx context.Context, c map[string]string) (cloudprovider.ObjectStore, error) {
			return gcp.NewFromConfig(ctx, c)
		},
		blockStore: func(ctx context.Context, c map[string]string) (cloudprovider.BlockStore, error) {
			return gcp.NewBlockStoreFromConfig(ctx, c)
		},
	},
	"azure": {
		objectStore: func(ctx context.Context, c map[string]string) (cloudprovider.ObjectStore, error) {
			return azure.NewFromConfig(ctx, c)
		},
		blockStore: func(ctx context.Context, c map[string]string) (cloudprovider.BlockStore, error) {
			return azure.NewBlockStoreFromConfig(ctx, c)
		},
	},
	"filesystem": {
		objectStore: func(ctx context.Context, c map[string]string) (cloudprovider.ObjectStore, error) {
			return filesystem.NewFromConfig(ctx, c)
		},
	},
}

// CSI is the persistentVolumeProvider that snapshots through the cluster's
// CSI VolumeSnapshot API (pkg/volume/csi), for any CSI driver, instead of a
// cloud's block store; pkg/volume builds it.
const CSI = "csi"

// ObjectStoreNames returns the names Config.backupStorageProvider.name may
// take (NewObjectStore's), sorted.
func ObjectStoreNames() []string {
	return names(func(p provider) bool { return p.objectStore != nil })
}

// BlockStoreNames returns the names NewBlockStore accepts, sorted.
func BlockStoreNames() []string {
	return names(func(p provider) bool { return p.blockStore != nil })
}

// VolumeProviderNames returns the names Config.persistentVolumeProvider.name
// may take: the block stores and CSI, sorted.
func VolumeProviderNames() []string {
	n := append(BlockStoreNames(), CSI)
	sort.Strings(n)
	return n
}

func names(has func(provider) bool) []string {
	var out []string
	for n, p := range providers {
		if has(p) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// NewObjectStore returns the ObjectStore of provider name (ObjectStoreNames)
// configured by config (Config.backupStorageProvider.config). Errors for an
// unknown name or config key match cloudprovider.ErrInvalidConfig. The store's
// errors, and those of building it, are redacted (cloudprovider.Redacted): no
// SAS signature or pre-signed query string leaves here in an error.
func NewObjectStore(ctx context.Context, name string, config map[string]string) (cloudprovider.ObjectStore, error) {
	p := providers[name]
	if p.objectStore == nil {
		return nil, fmt.Errorf("%w: unknown object store provider %q (valid: %s)",
			cloudprovider.ErrInvalidConfig, name, strings.Join(ObjectStoreNames(), ", "))
	}
	s, err := p.objectStore(ctx, config)
	if err != nil {
		return nil, redact.Error(err)
	}
	return cloudprovider.Redacted(s), nil
}

// NewBlockStore returns the BlockStore of provider name (BlockStoreNames)
// configured by config (Config.persistentVolumeProvider.config). Errors for
// an unknown name or config key match cloudprovider.ErrInvalidConfig.
func NewBlockStore(ctx context.Context, name string, config map[string]string) (cloudprovider.BlockStore, error) {
	p := providers[name]
	if p.blockStore == nil {
		return nil, fmt.Errorf("%w: unknown persistentVolumeProvider %q for disk snapshots (valid: %s)",
			cloudprovider.ErrInvalidConfig, name, strings.Join(BlockStoreNames(), ", "))
	}
	s, err := p.blockStore(ctx, config)
	return s, redact.Error(err) // an SDK may quote its endpoint with credentials
}
