package diff

import (
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/heptio/ark/pkg/format"
)

func u(o map[string]any) *unstructured.Unstructured { return &unstructured.Unstructured{Object: o} }

func TestFields(t *testing.T) {
	cm := func(rv, from string, extra map[string]any) *unstructured.Unstructured {
		md := map[string]any{"name": "a", "namespace": "ns", "uid": "uid-" + rv, "resourceVersion": rv,
			"creationTimestamp": "2026-11-30T10:00:00Z", "managedFields": []any{map[string]any{"manager": rv}}}
		for k, v := range extra {
			md[k] = v
		}
		return u(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": md, "data": map[string]any{"from": from}})
	}
	pod := func(image string, status string, containers int) *unstructured.Unstructured {
		var cs []any
		for i := 0; i < containers; i++ {
			cs = append(cs, map[string]any{"name": "c", "image": image})
		}
		return u(map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "p"},
			"spec": map[string]any{"containers": cs}, "status": map[string]any{"phase": status}})
	}
	widget := func(status string) *unstructured.Unstructured {
		return u(map[string]any{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": map[string]any{"name": "w"}, "status": map[string]any{"ok": status}})
	}
	for _, tc := range []struct {
		name string
		gr   schema.GroupResource
		a, b *unstructured.Unstructured
		want []Field
	}{
		{name: "server-set fields ignored", gr: schema.GroupResource{Resource: "configmaps"}, a: cm("1", "x", nil), b: cm("2", "x", nil)},
		{name: "the restore label ignored", gr: schema.GroupResource{Resource: "configmaps"}, a: cm("1", "x", nil),
			b: cm("2", "x", map[string]any{"labels": map[string]any{format.RestoreNameLabel: "r1"}})},
		{name: "a data change", gr: schema.GroupResource{Resource: "configmaps"}, a: cm("1", "x", nil), b: cm("2", "y", nil),
			want: []Field{{Path: "data.from", Backup: "x", Cluster: "y"}}},
		{name: "a label added", gr: schema.GroupResource{Resource: "configmaps"}, a: cm("1", "x", nil),
			b:    cm("2", "x", map[string]any{"labels": map[string]any{"team": "a", format.RestoreNameLabel: "r1"}}),
			want: []Field{{Path: "metadata.labels", Cluster: map[string]any{"team": "a"}}}},
		{name: "status of a built-in kind ignored, list elements compared", gr: schema.GroupResource{Resource: "pods"},
			a: pod("nginx:1", "Running", 1), b: pod("nginx:2", "Pending", 2),
			want: []Field{{Path: "spec.containers[0].image", Backup: "nginx:1", Cluster: "nginx:2"}, {Path: "spec.containers[1]", Cluster: map[string]any{"name": "c", "image": "nginx:2"}}}},
		{name: "status of a custom resource compared", gr: schema.GroupResource{Group: "example.com", Resource: "widgets"},
			a: widget("yes"), b: widget("no"), want: []Field{{Path: "status.ok", Backup: "yes", Cluster: "no"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Fields(tc.gr, tc.a, tc.b)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

// A restore gives a Service new cluster IPs and node ports, and leaves the
// objects of controllers to them: neither is a difference.
func TestFieldsAsRestoreCreates(t *testing.T) {
	svc := func(ip string, nodePort int64, selector string) *unstructured.Unstructured {
		return u(map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "s", "namespace": "ns"},
			"spec": map[string]any{"clusterIP": ip, "clusterIPs": []any{ip}, "type": "NodePort", "selector": map[string]any{"app": selector},
				"ports": []any{map[string]any{"port": int64(80), "nodePort": nodePort}}}})
	}
	services := schema.GroupResource{Resource: "services"}
	if got := Fields(services, svc("10.0.0.1", 30001, "web"), svc("10.0.0.2", 30002, "web")); len(got) != 0 {
		t.Errorf("new cluster IP and node port: %v, want no difference", got)
	}
	if got := Fields(services, svc("10.0.0.1", 30001, "web"), svc("10.0.0.2", 30002, "db")); len(got) != 1 || got[0].Path != "spec.selector.app" {
		t.Errorf("changed selector: %v, want spec.selector.app only", got)
	}
}
