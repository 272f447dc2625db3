package restore

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
)

func TestDynamicCRDWaiter(t *testing.T) {
	crd := func(name string, conds ...map[string]any) *unstructured.Unstructured {
		var cs []any
		for _, c := range conds {
			cs = append(cs, c)
		}
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
			"metadata": map[string]any{"name": name},
			"status":   map[string]any{"conditions": cs},
		}}
	}
	client := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{crdGVR: "CustomResourceDefinitionList"},
		crd("ok.example.com", map[string]any{"type": "NamesAccepted", "status": "True"}, map[string]any{"type": "Established", "status": "True"}),
		crd("pending.example.com", map[string]any{"type": "Established", "status": "False"}),
		crd("conflict.example.com", map[string]any{"type": "NamesAccepted", "status": "False", "message": "plural taken"}),
	)
	w := NewDynamicCRDWaiter(client, 10*time.Millisecond)
	tests := []struct {
		name string
		want string // "" = no error
	}{
		{name: "ok.example.com"},
		{name: "pending.example.com", want: "not Established yet"},
		{name: "missing.example.com", want: "not found"},
		{name: "conflict.example.com", want: "names not accepted: plural taken"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			err := w.WaitEstablished(ctx, tc.name)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
