package volume

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/cloudprovider"
	"github.com/heptio/ark/pkg/format"
)

// fakeStore handles PVs with spec.fake.id and records its calls.
type fakeStore struct {
	mu         sync.Mutex
	info       cloudprovider.VolumeInfo
	infoZone   string // zone GetVolumeInfo was given
	snapZone   string
	tags       map[string]string
	created    []string // "snapshot type zone iops"
	readyAfter int      // IsVolumeReady calls before ready
	readyCalls int
	err        error
}

func (f *fakeStore) GetVolumeID(pv *unstructured.Unstructured) (string, error) {
	id, _, _ := unstructured.NestedString(pv.Object, "spec", "fake", "id")
	return id, nil
}

func (f *fakeStore) SetVolumeID(pv *unstructured.Unstructured, id string) (*unstructured.Unstructured, error) {
	out := pv.DeepCopy()
	return out, unstructured.SetNestedField(out.Object, id, "spec", "fake", "id")
}

func (f *fakeStore) GetVolumeInfo(_ context.Context, id, zone string) (cloudprovider.VolumeInfo, error) {
	f.infoZone = zone
	return f.info, f.err
}

func (f *fakeStore) CreateSnapshot(_ context.Context, id, zone string, tags map[string]string) (string, error) {
	f.snapZone, f.tags = zone, tags
	return "snap-of-" + id, nil
}

func (f *fakeStore) CreateVolumeFromSnapshot(_ context.Context, snap, typ, zone string, iops *int64) (string, error) {
	s := snap + " " + typ + " " + zone
	if iops != nil {
		s += " iops"
	}
	f.created = append(f.created, s)
	return "vol-new", nil
}

func (f *fakeStore) IsVolumeReady(context.Context, string, string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.readyCalls++
	return f.readyCalls > f.readyAfter, nil
}

func (f *fakeStore) DeleteSnapshot(context.Context, string) error { return nil }

func pv(spec map[string]any, labels map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "PersistentVolume",
		"metadata": map[string]any{"name": "pv1", "labels": labels},
		"spec":     spec,
	}}
}

func TestSnapshotter(t *testing.T) {
	ctx := context.Background()
	iops := int64(3000)
	store := &fakeStore{info: cloudprovider.VolumeInfo{Type: "gp3", IOPS: &iops, Zone: "us-east-1a"}}
	s := NewSnapshotter(store)

	info, err := s.SnapshotVolume(ctx, pv(map[string]any{"nfs": map[string]any{}}, nil), nil)
	if info != nil || err != nil {
		t.Fatalf("foreign PV: %v, %v; want nil, nil", info, err)
	}
	tags := map[string]string{format.BackupTag: "b1"}
	info, err = s.SnapshotVolume(ctx, pv(map[string]any{"fake": map[string]any{"id": "vol-1"}},
		map[string]any{"topology.kubernetes.io/zone": "us-east-1a"}), tags)
	if err != nil {
		t.Fatal(err)
	}
	if info.SnapshotID != "snap-of-vol-1" || info.Type != "gp3" || info.AvailabilityZone != "us-east-1a" || info.Iops == nil || *info.Iops != 3000 {
		t.Errorf("info %+v", info)
	}
	if store.infoZone != "us-east-1a" || store.snapZone != "us-east-1a" || store.tags[format.BackupTag] != "b1" {
		t.Errorf("store saw zone %q/%q tags %v", store.infoZone, store.snapZone, store.tags)
	}

	store.err = errors.New("volume not found")
	if _, err := s.SnapshotVolume(ctx, pv(map[string]any{"fake": map[string]any{"id": "vol-1"}}, nil), tags); err == nil {
		t.Error("GetVolumeInfo error not returned")
	}
}

func TestRestorer(t *testing.T) {
	ctx := context.Background()
	store := &fakeStore{readyAfter: 2}
	r := NewRestorer(store, time.Second, WithPollInterval(time.Millisecond))
	claimRef := map[string]any{"namespace": "app", "name": "data"}
	in := pv(map[string]any{"fake": map[string]any{"id": "vol-old"}, "claimRef": claimRef}, nil)
	iops := int64(100)
	out, err := r.RestoreVolume(ctx, in, &arkv1.VolumeBackupInfo{SnapshotID: "snap-1", Type: "io2", AvailabilityZone: "z1", Iops: &iops})
	if err != nil {
		t.Fatal(err)
	}
	if id, _, _ := unstructured.NestedString(out.Object, "spec", "fake", "id"); id != "vol-new" {
		t.Errorf("restored PV points at %q", id)
	}
	if ref, _, _ := unstructured.NestedMap(out.Object, "spec", "claimRef"); ref["name"] != "data" || ref["namespace"] != "app" {
		t.Errorf("claimRef %v", ref)
	}
	if len(store.created) != 1 || store.created[0] != "snap-1 io2 z1 iops" || store.readyCalls != 3 {
		t.Errorf("created %v after %d readiness checks", store.created, store.readyCalls)
	}

	// A PV of another provider: no disk is made.
	if _, err := r.RestoreVolume(ctx, pv(map[string]any{"nfs": map[string]any{}}, nil), &arkv1.VolumeBackupInfo{SnapshotID: "s"}); err == nil {
		t.Error("foreign PV: no error")
	}

	// Never ready: the error names the new volume.
	slow := &fakeStore{readyAfter: 1 << 30}
	r = NewRestorer(slow, 20*time.Millisecond, WithPollInterval(time.Millisecond))
	_, err = r.RestoreVolume(ctx, in, &arkv1.VolumeBackupInfo{SnapshotID: "snap-1"})
	if err == nil || !strings.Contains(err.Error(), "vol-new") {
		t.Errorf("timeout: %v", err)
	}
}

func TestNew(t *testing.T) {
	ctx := context.Background()
	if p, err := New(ctx, nil, Options{}); p != nil || err != nil {
		t.Errorf("nil config: %v, %v", p, err)
	}
	_, err := New(ctx, &arkv1.CloudProviderConfig{Name: "filesystem"}, Options{})
	if !errors.Is(err, cloudprovider.ErrInvalidConfig) || !strings.Contains(err.Error(), "aws, azure, csi, gcp") {
		t.Errorf("unknown provider: %v", err)
	}
	if _, err := New(ctx, &arkv1.CloudProviderConfig{Name: "aws", Config: map[string]string{"bucket": "x"}}, Options{}); !errors.Is(err, cloudprovider.ErrInvalidConfig) {
		t.Errorf("bad aws config: %v", err)
	}
	p, err := New(ctx, &arkv1.CloudProviderConfig{Name: "aws", Config: map[string]string{"region": "us-east-1"}}, Options{})
	if err != nil || p.Snapshotter == nil || p.Restorer == nil || p.Deleter == nil {
		t.Errorf("aws: %+v, %v", p, err)
	}
	if _, err := New(ctx, &arkv1.CloudProviderConfig{Name: "csi"}, Options{}); err == nil {
		t.Error("csi without a dynamic client: no error")
	}
	dyn := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme())
	p, err = New(ctx, &arkv1.CloudProviderConfig{Name: "csi", Config: map[string]string{"volumeSnapshotClass": "c", "readyTimeout": "1m"}}, Options{Dynamic: dyn})
	if err != nil || p.Snapshotter == nil {
		t.Errorf("csi: %+v, %v", p, err)
	}
	if _, err := New(ctx, &arkv1.CloudProviderConfig{Name: "csi", Config: map[string]string{"readyTimeout": "soon"}}, Options{Dynamic: dyn}); !errors.Is(err, cloudprovider.ErrInvalidConfig) {
		t.Errorf("csi bad readyTimeout: %v", err)
	}
}
