package factory

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/heptio/ark/pkg/cloudprovider"
	"github.com/heptio/ark/pkg/cloudprovider/filesystem"
)

func TestNewObjectStore(t *testing.T) {
	ctx := context.Background()
	if _, err := NewObjectStore(ctx, "s3", nil); !errors.Is(err, cloudprovider.ErrInvalidConfig) ||
		!strings.Contains(err.Error(), "aws, azure, filesystem, gcp") {
		t.Errorf("unknown name: %v", err)
	}
	s, err := NewObjectStore(ctx, "filesystem", map[string]string{"root": t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cloudprovider.Unwrap(s).(*filesystem.ObjectStore); !ok {
		t.Errorf("filesystem gave %T", s)
	}
	for _, name := range ObjectStoreNames() {
		_, err := NewObjectStore(ctx, name, map[string]string{"nonsense": "1"})
		if !errors.Is(err, cloudprovider.ErrInvalidConfig) || !strings.Contains(err.Error(), `"nonsense"`) {
			t.Errorf("%s with an unknown key: %v", name, err)
		}
	}
}

func TestNames(t *testing.T) {
	for _, tt := range []struct {
		got  []string
		want string
	}{
		{ObjectStoreNames(), "aws azure filesystem gcp"},
		{BlockStoreNames(), "aws azure gcp"},
		{VolumeProviderNames(), "aws azure csi gcp"},
	} {
		if got := strings.Join(tt.got, " "); got != tt.want {
			t.Errorf("names %q, want %q", got, tt.want)
		}
	}
	if _, err := NewBlockStore(context.Background(), "filesystem", nil); !errors.Is(err, cloudprovider.ErrInvalidConfig) ||
		!strings.Contains(err.Error(), "aws, azure, gcp") {
		t.Errorf("filesystem as a block store: %v", err)
	}
}
