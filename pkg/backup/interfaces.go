package backup

import (
	"context"
	"io"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/discovery"
)

// DiscoveryHelper is what the engine needs of *discovery.Helper.
type DiscoveryHelper interface {
	Refresh(ctx context.Context) error
	Resources() []discovery.Resource
	ResolveResource(name string) (schema.GroupVersionResource, metav1.APIResource, error)
	FailedGroups() map[schema.GroupVersion]error
}

// PodCommandExecutor runs a command in a container of a pod, as hooks do.
// It returns when the command exits (an error if it exited non-zero or could
// not be run) or when ctx is done.
type PodCommandExecutor interface {
	ExecPodCommand(ctx context.Context, namespace, pod, container string, command []string, stdout, stderr io.Writer) error
}

// VolumeSnapshotter takes a disk snapshot of a persistent volume through the
// configured persistentVolumeProvider. tags are to be put on the snapshot
// (they hold at least BackupNameTag). A nil info with a nil error means the
// provider does not handle this kind of volume; the backup records a warning.
type VolumeSnapshotter interface {
	SnapshotVolume(ctx context.Context, pv *unstructured.Unstructured, tags map[string]string) (*arkv1.VolumeBackupInfo, error)
}
