// Package factory builds the cloudprovider.ObjectStore named by
// Config.backupStorageProvider.name.
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

type constructor func(ctx context.Context, config map[string]string) (cloudprovider.ObjectStore, error)

var providers = map[string]constructor{
	"aws": func(ctx context.Context, c map[string]string) (cloudprovider.ObjectStore, error) {
		return aws.NewFromConfig(ctx, c)
	},
	"gcp": func(ctx context.Context, c map[string]string) (cloudprovider.ObjectStore, error) {
		return gcp.NewFromConfig(ctx, c)
	},
	"azure": func(ctx context.Context, c map[string]string) (cloudprovider.ObjectStore, error) {
		return azure.NewFromConfig(ctx, c)
	},
	"filesystem": func(ctx context.Context, c map[string]string) (cloudprovider.ObjectStore, error) {
		return filesystem.NewFromConfig(ctx, c)
	},
}

// Names returns the provider names NewObjectStore accepts, sorted.
func Names() []string {
	names := make([]string, 0, len(providers))
	for n := range providers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// NewObjectStore returns the ObjectStore of provider name (aws, gcp, azure or filesystem)
// configured by config (Config.backupStorageProvider.config). Errors for an unknown name or
// config key match cloudprovider.ErrInvalidConfig. The store's errors, and
// those of building it, are redacted (cloudprovider.Redacted): no SAS signature
// or pre-signed query string leaves here in an error.
func NewObjectStore(ctx context.Context, name string, config map[string]string) (cloudprovider.ObjectStore, error) {
	c, ok := providers[name]
	if !ok {
		return nil, fmt.Errorf("%w: unknown object store provider %q (valid: %s)",
			cloudprovider.ErrInvalidConfig, name, strings.Join(Names(), ", "))
	}
	s, err := c(ctx, config)
	if err != nil {
		return nil, redact.Error(err)
	}
	return cloudprovider.Redacted(s), nil
}
