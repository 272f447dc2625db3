package restore

import (
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/heptio/ark/pkg/format"
)

func u(o map[string]any) *unstructured.Unstructured { return &unstructured.Unstructured{Object: o} }

func TestDifferences(t *testing.T) {
	base := func() map[string]any {
		return map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "c", "resourceVersion": "1", "managedFields": []any{"x"}, "labels": map[string]any{"a": "1"}},
			"data":     map[string]any{"k": "v"}}
	}
	tests := []struct {
		name   string
		change func(map[string]any)
		want   []string
	}{
		{"equal", func(map[string]any) {}, nil},
		{"server-set metadata ignored", func(o map[string]any) {
			m := o["metadata"].(map[string]any)
			m["resourceVersion"], m["managedFields"], m["generation"] = "2", []any{"y"}, int64(3)
		}, nil},
		{"data and a label", func(o map[string]any) {
			o["data"] = map[string]any{"k": "w"}
			o["metadata"].(map[string]any)["labels"] = map[string]any{"a": "2"}
		}, []string{"data", "metadata.labels"}},
		{"field only on one side", func(o map[string]any) { o["binaryData"] = map[string]any{} }, []string{"binaryData"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := base()
			tc.change(b)
			if got := differences(u(base()), u(b)); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMergeUserContent(t *testing.T) {
	sa := func(labels map[string]any, pull []any, extra map[string]any) map[string]any {
		o := map[string]any{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": map[string]any{"name": "default", "namespace": "n"}}
		if labels != nil {
			o["metadata"].(map[string]any)["labels"] = labels
		}
		if pull != nil {
			o["imagePullSecrets"] = pull
		}
		for k, v := range extra {
			o[k] = v
		}
		return o
	}
	secret := func(n string) any { return map[string]any{"name": n} }
	tests := []struct {
		name              string
		live, backup      map[string]any
		overwrite         bool
		want              map[string]any
		changed, keptWant []string
	}{
		{
			name:    "adds what is missing, not the restore label",
			live:    sa(nil, nil, nil),
			backup:  sa(map[string]any{"team": "a", format.RestoreNameLabel: "r"}, []any{secret("reg")}, map[string]any{"automountServiceAccountToken": false}),
			want:    sa(map[string]any{"team": "a"}, []any{secret("reg")}, map[string]any{"automountServiceAccountToken": false}),
			changed: []string{"label team", "imagePullSecret reg", "automountServiceAccountToken"},
		},
		{
			name:     "keeps a differing live value",
			live:     sa(map[string]any{"team": "live"}, []any{secret("live")}, nil),
			backup:   sa(map[string]any{"team": "a"}, []any{secret("reg"), secret("live")}, nil),
			want:     sa(map[string]any{"team": "live"}, []any{secret("live"), secret("reg")}, nil),
			changed:  []string{"imagePullSecret reg"},
			keptWant: []string{"label team"},
		},
		{
			name:      "update overwrites",
			live:      sa(map[string]any{"team": "live"}, nil, nil),
			backup:    sa(map[string]any{"team": "a"}, nil, nil),
			overwrite: true,
			want:      sa(map[string]any{"team": "a"}, nil, nil),
			changed:   []string{"label team"},
		},
		{
			name:   "equal: nothing",
			live:   sa(map[string]any{"team": "a"}, []any{secret("reg")}, nil),
			backup: sa(map[string]any{"team": "a"}, []any{secret("reg")}, nil),
			want:   sa(map[string]any{"team": "a"}, []any{secret("reg")}, nil),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			live := u(tc.live)
			changed, kept := mergeUserContent(live, u(tc.backup), tc.overwrite)
			if !reflect.DeepEqual(changed, tc.changed) || !reflect.DeepEqual(kept, tc.keptWant) {
				t.Errorf("changed %v kept %v, want %v %v", changed, kept, tc.changed, tc.keptWant)
			}
			if !reflect.DeepEqual(live.Object, tc.want) {
				t.Errorf("merged %v\nwant %v", live.Object, tc.want)
			}
		})
	}
}
