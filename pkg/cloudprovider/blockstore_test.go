package cloudprovider

import (
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func affinity(values ...map[string]any) map[string]any {
	terms := []any{}
	for _, v := range values {
		terms = append(terms, map[string]any{"matchExpressions": []any{v}})
	}
	return map[string]any{"required": map[string]any{"nodeSelectorTerms": terms}}
}

func TestPVZone(t *testing.T) {
	for _, tc := range []struct {
		name   string
		labels map[string]any
		spec   map[string]any
		want   string
	}{
		{"label", map[string]any{"topology.kubernetes.io/zone": "us-east-1a"}, nil, "us-east-1a"},
		{"beta label", map[string]any{"failure-domain.beta.kubernetes.io/zone": "z2"}, nil, "z2"},
		{"regional label", map[string]any{"topology.kubernetes.io/zone": "z1__z2"}, nil, ""},
		{"CSI affinity", nil, map[string]any{"nodeAffinity": affinity(map[string]any{"key": "topology.gke.io/zone", "operator": "In", "values": []any{"us-central1-c"}})}, "us-central1-c"},
		{"two zones", nil, map[string]any{"nodeAffinity": affinity(
			map[string]any{"key": "topology.ebs.csi.aws.com/zone", "operator": "In", "values": []any{"a"}},
			map[string]any{"key": "topology.ebs.csi.aws.com/zone", "operator": "In", "values": []any{"b"}})}, ""},
		{"other key", nil, map[string]any{"nodeAffinity": affinity(map[string]any{"key": "kubernetes.io/hostname", "operator": "In", "values": []any{"n1"}})}, ""},
		{"nothing", nil, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pv := &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"name": "pv"}}}
			if tc.labels != nil {
				pv.Object["metadata"].(map[string]any)["labels"] = tc.labels
			}
			if tc.spec != nil {
				pv.Object["spec"] = tc.spec
			}
			if got := PVZone(pv); got != tc.want {
				t.Errorf("PVZone = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCheckBlockStoreConfigKeys(t *testing.T) {
	if err := CheckBlockStoreConfigKeys("aws", map[string]string{"region": "x"}, "region", "ec2Url"); err != nil {
		t.Error(err)
	}
	// "prefix" belongs to the object store's config, not to the volume provider's.
	err := CheckBlockStoreConfigKeys("aws", map[string]string{"region": "x", "prefix": "p"}, "region", "ec2Url")
	if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), `"prefix"`) || !strings.Contains(err.Error(), "ec2Url, region") {
		t.Errorf("error %v", err)
	}
}

func TestCSIVolumeHandle(t *testing.T) {
	pv := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"csi": map[string]any{"driver": "d", "volumeHandle": "h"}}}}
	if CSIVolumeHandle(pv, "d") != "h" || CSIVolumeHandle(pv, "other") != "" {
		t.Error("CSIVolumeHandle")
	}
}
