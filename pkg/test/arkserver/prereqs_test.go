package arkserver

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"bytes"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// The shipped manifest, rewritten: only names and namespaces change.
func TestRewritePrereqsOfShippedManifest(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := os.ReadFile(filepath.Join(root, PrereqsPath))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := RewritePrereqs(manifest, "test-ns")
	if err != nil {
		t.Fatal(err)
	}
	shipped := decodeAll(t, manifest)
	if len(objs) != len(shipped) {
		t.Fatalf("%d objects, shipped %d", len(objs), len(shipped))
	}
	kinds := map[string]int{}
	for i, o := range objs {
		s := shipped[i]
		kinds[o.GetKind()]++
		switch o.GetKind() {
		case "Namespace":
			if o.GetName() != "test-ns" {
				t.Errorf("namespace %q", o.GetName())
			}
		case "ClusterRole", "ClusterRoleBinding", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding":
			if o.GetName() != s.GetName()+"-test-ns" || o.GetNamespace() != "" {
				t.Errorf("%s %q/%q", o.GetKind(), o.GetNamespace(), o.GetName())
			}
		case "CustomResourceDefinition":
			if !reflect.DeepEqual(o.Object, s.Object) {
				t.Errorf("CRD %s changed", o.GetName())
			}
		default:
			if o.GetNamespace() != "test-ns" || o.GetName() != s.GetName() {
				t.Errorf("%s %q/%q", o.GetKind(), o.GetNamespace(), o.GetName())
			}
		}
		if rules, ok := s.Object["rules"]; ok && !reflect.DeepEqual(o.Object["rules"], rules) {
			t.Errorf("%s %s: rules changed", o.GetKind(), o.GetName())
		}
		if o.GetKind() == "ValidatingAdmissionPolicyBinding" {
			got, _, _ := unstructured.NestedString(o.Object, "spec", "policyName")
			want, _, _ := unstructured.NestedString(s.Object, "spec", "policyName")
			if got != want+"-test-ns" {
				t.Errorf("binding %s: policyName %q, want %q", o.GetName(), got, want+"-test-ns")
			}
		}
		if o.GetKind() == "ValidatingAdmissionPolicy" && !reflect.DeepEqual(o.Object["spec"], s.Object["spec"]) {
			t.Errorf("policy %s: spec changed", o.GetName())
		}
		if o.GetKind() == "ClusterRoleBinding" || o.GetKind() == "RoleBinding" {
			ref, _, _ := unstructured.NestedString(o.Object, "roleRef", "name")
			refKind, _, _ := unstructured.NestedString(o.Object, "roleRef", "kind")
			want, _, _ := unstructured.NestedString(s.Object, "roleRef", "name")
			if refKind == "ClusterRole" {
				want += "-test-ns"
			}
			if ref != want {
				t.Errorf("%s %s: roleRef %q, want %q", o.GetKind(), o.GetName(), ref, want)
			}
			subjects, _, _ := unstructured.NestedSlice(o.Object, "subjects")
			for _, sub := range subjects {
				m := sub.(map[string]any)
				if m["kind"] == "ServiceAccount" && (m["namespace"] != "test-ns" || m["name"] != ServiceAccount) {
					t.Errorf("%s %s: subject %v", o.GetKind(), o.GetName(), m)
				}
			}
		}
	}
	for _, k := range []string{"Namespace", "CustomResourceDefinition", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"} {
		if kinds[k] == 0 {
			t.Errorf("no %s in %s", k, PrereqsPath)
		}
	}
}

func TestRewritePrereqsRefusesOtherNamespaces(t *testing.T) {
	for name, manifest := range map[string]string{
		"namespace":  "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: elsewhere\n",
		"namespaced": "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: ark\n  namespace: elsewhere\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := RewritePrereqs([]byte(manifest), "test-ns"); err == nil {
				t.Error("no error")
			}
		})
	}
}

func decodeAll(t *testing.T, manifest []byte) []*unstructured.Unstructured {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifest), 4096)
	var out []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			break
		}
		if len(u.Object) > 0 {
			out = append(out, u)
		}
	}
	return out
}
