package restore

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestRecreatedByController(t *testing.T) {
	yes, no := true, false
	obj := func(refs ...metav1.OwnerReference) *unstructured.Unstructured {
		o := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "X", "metadata": map[string]any{"name": "x"}}}
		o.SetOwnerReferences(refs)
		return o
	}
	tests := []struct {
		name     string
		resource string
		obj      *unstructured.Unstructured
		want     bool
	}{
		{"pod of a ReplicaSet", "pods", obj(metav1.OwnerReference{Kind: "ReplicaSet", Name: "rs", Controller: &yes}), true},
		{"owner that is not the controller", "configmaps", obj(metav1.OwnerReference{Kind: "X", Name: "x", Controller: &no}), false},
		{"no owner", "deployments.apps", obj(), false},
		{"PVC of a StatefulSet holds data", "persistentvolumeclaims", obj(metav1.OwnerReference{Kind: "StatefulSet", Name: "s", Controller: &yes}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RecreatedByController(schema.ParseGroupResource(tt.resource), tt.obj); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
