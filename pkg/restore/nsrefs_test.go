package restore

import (
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
)

func TestMapNamespaceRefs(t *testing.T) {
	affinity := func(ns ...any) map[string]any {
		return map[string]any{"podAffinity": map[string]any{
			"requiredDuringSchedulingIgnoredDuringExecution":  []any{map[string]any{"namespaces": append([]any(nil), ns...), "topologyKey": "k"}},
			"preferredDuringSchedulingIgnoredDuringExecution": []any{map[string]any{"weight": int64(1), "podAffinityTerm": map[string]any{"namespaces": append([]any(nil), ns...)}}},
		}}
	}
	tests := []struct {
		name     string
		gr       string
		in, want map[string]any
		n        int
	}{
		{"ServiceAccount subjects only", "rolebindings.rbac.authorization.k8s.io",
			map[string]any{"subjects": []any{
				map[string]any{"kind": "ServiceAccount", "namespace": "src", "name": "a"},
				map[string]any{"kind": "ServiceAccount", "namespace": "other", "name": "b"},
				map[string]any{"kind": "Group", "namespace": "src", "name": "c"},
			}},
			map[string]any{"subjects": []any{
				map[string]any{"kind": "ServiceAccount", "namespace": "dst", "name": "a"},
				map[string]any{"kind": "ServiceAccount", "namespace": "other", "name": "b"},
				map[string]any{"kind": "Group", "namespace": "src", "name": "c"},
			}}, 1},
		{"cluster role binding", "clusterrolebindings.rbac.authorization.k8s.io",
			map[string]any{"subjects": []any{map[string]any{"kind": "ServiceAccount", "namespace": "src", "name": "a"}}},
			map[string]any{"subjects": []any{map[string]any{"kind": "ServiceAccount", "namespace": "dst", "name": "a"}}}, 1},
		{"webhook service", "validatingwebhookconfigurations.admissionregistration.k8s.io",
			map[string]any{"webhooks": []any{map[string]any{"clientConfig": map[string]any{"service": map[string]any{"namespace": "src"}}}}},
			map[string]any{"webhooks": []any{map[string]any{"clientConfig": map[string]any{"service": map[string]any{"namespace": "dst"}}}}}, 1},
		{"deployment pod affinity", "deployments.apps",
			map[string]any{"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"affinity": affinity("src", "other")}}}},
			map[string]any{"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"affinity": affinity("dst", "other")}}}}, 2},
		{"pv csi secret", "persistentvolumes",
			map[string]any{"spec": map[string]any{"csi": map[string]any{"nodePublishSecretRef": map[string]any{"name": "s", "namespace": "src"}}}},
			map[string]any{"spec": map[string]any{"csi": map[string]any{"nodePublishSecretRef": map[string]any{"name": "s", "namespace": "dst"}}}}, 1},
		{"no such field", "configmaps",
			map[string]any{"data": map[string]any{"namespace": "src"}},
			map[string]any{"data": map[string]any{"namespace": "src"}}, 0},
		{"wrong shapes are left alone", "rolebindings.rbac.authorization.k8s.io",
			map[string]any{"subjects": map[string]any{"namespace": "src"}},
			map[string]any{"subjects": map[string]any{"namespace": "src"}}, 0},
	}
	s := &run{restore: newRestore("r", func(s *arkv1.RestoreSpec) { s.NamespaceMapping = map[string]string{"src": "dst"} })}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obj := &unstructured.Unstructured{Object: tc.in}
			if n := s.mapNamespaceRefs(schema.ParseGroupResource(tc.gr), obj); n != tc.n {
				t.Errorf("rewrote %d, want %d", n, tc.n)
			}
			if !reflect.DeepEqual(obj.Object, tc.want) {
				t.Errorf("got %v\nwant %v", obj.Object, tc.want)
			}
		})
	}
}
