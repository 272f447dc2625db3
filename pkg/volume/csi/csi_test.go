package csi

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
)

func TestSnapshotID(t *testing.T) {
	ref := SnapshotRef{Namespace: "app", Name: "ark-b-data", Content: "snapcontent-1", Handle: "projects/p/global/snapshots/s"}
	got, err := ParseSnapshotID(ref.String())
	if err != nil || got != ref {
		t.Fatalf("ParseSnapshotID(%q) = %+v, %v", ref.String(), got, err)
	}
	for _, bad := range []string{"", "snap-123", "a/b/c", "a//c/d", "/b/c/d"} {
		if _, err := ParseSnapshotID(bad); err == nil {
			t.Errorf("ParseSnapshotID(%q): no error", bad)
		}
	}
}

func TestNames(t *testing.T) {
	long := strings.Repeat("x", 300)
	if n := objectName("ark", long, "data"); len(n) > 253 || len(validation.IsDNS1123Subdomain(n)) != 0 {
		t.Errorf("objectName too long or invalid: %d %q", len(n), n)
	}
	if n := objectName("ark", "b", "data"); n != "ark-b-data" {
		t.Errorf("objectName = %q", n)
	}
	for _, v := range []string{"nightly", strings.Repeat("a", 100), "a/b c", "-x-"} {
		if got := labelValue(v); len(validation.IsValidLabelValue(got)) != 0 {
			t.Errorf("labelValue(%q) = %q is not a label value", v, got)
		}
	}
	if labelValue("nightly") != "nightly" {
		t.Error("a valid value was changed")
	}
}

func TestRestoreVolumeSkipsThePV(t *testing.T) {
	p := New(nil, Options{})
	pv := &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"name": "pv"},
		"spec": map[string]any{"csi": map[string]any{"driver": "d", "volumeHandle": "h"}}}}
	out, err := p.RestoreVolume(context.Background(), pv, &arkv1.VolumeBackupInfo{SnapshotID: "ns/vs/c/h"})
	if out != nil || err != nil {
		t.Errorf("RestoreVolume = %v, %v; want nil, nil", out, err)
	}
	if _, err := p.RestoreVolume(context.Background(), pv, &arkv1.VolumeBackupInfo{SnapshotID: "snap-1"}); err == nil {
		t.Error("a non-CSI snapshot ID: no error")
	}
}
