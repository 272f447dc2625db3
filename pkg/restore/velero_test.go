package restore

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/format"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "velero-1.18", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestVeleroFixturesReadBack(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{file: "vnginx.tar.gz", want: []string{
			"configmaps nginx-example/nginx-conf", "deployments.apps nginx-example/nginx-deployment", "namespaces nginx-example",
			"secrets nginx-example/nginx-secret", "serviceaccounts nginx-example/nginx-sa", "services nginx-example/my-nginx",
		}},
		{file: "vwidgets.tar.gz", want: []string{
			"customresourcedefinitions.apiextensions.k8s.io widgets.example.com", "namespaces widgets",
			"widgets.example.com widgets/w1", "widgets.example.com widgets/w2",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			parent := t.TempDir()
			a, err := extract(context.Background(), bytes.NewReader(readFixture(t, tc.file)), parent, ArchiveLimits{})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			if a.formatVersion != "1.1.0" {
				t.Errorf("format version %q", a.formatVersion)
			}
			var got []string
			for _, r := range a.resources() {
				for _, it := range a.byResource[r] {
					if it.copy != format.PlainCopy {
						t.Errorf("%s: read the %v copy", it.String(), it.copy)
					}
					got = append(got, it.String())
				}
			}
			sort.Strings(got)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("items\n got %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestVeleroFixturesRestore(t *testing.T) {
	t.Run("vnginx mapped", func(t *testing.T) {
		env := newTestEnv(t, Options{})
		res, log := env.run(t, newRestore("vnginx-r1", func(s *arkv1.RestoreSpec) {
			s.NamespaceMapping = map[string]string{"nginx-example": "nginx-copy"}
		}), nil, readFixture(t, "vnginx.tar.gz"))
		if res.TotalItems != 6 || res.Restored != 6 || res.Failed != 0 || res.Results.WarningCount() != 0 {
			t.Fatalf("%+v\n%s", res, log)
		}
		ns := env.get(t, gvrNamespaces, "", "nginx-copy")
		if ns.GetLabels()["kubernetes.io/metadata.name"] != "nginx-copy" || ns.GetLabels()["app"] != "nginx" {
			t.Errorf("namespace labels %v", ns.GetLabels())
		}
		for _, o := range []struct {
			gvr  schema.GroupVersionResource
			name string
		}{{gvrDeploy, "nginx-deployment"}, {gvrServices, "my-nginx"}, {gvrConfigMaps, "nginx-conf"}, {gvrSecrets, "nginx-secret"}, {gvrSAs, "nginx-sa"}} {
			u := env.get(t, o.gvr, "nginx-copy", o.name)
			if u.GetLabels()[format.RestoreNameLabel] != "vnginx-r1" || u.GetLabels()["app"] != "nginx" {
				t.Errorf("%s labels %v", o.name, u.GetLabels())
			}
			if u.GetUID() != "" || u.GetResourceVersion() != "" || len(u.GetManagedFields()) != 0 || u.GetCreationTimestamp() != (metav1.Time{}) {
				t.Errorf("%s keeps server-set metadata: %v", o.name, u.Object["metadata"])
			}
			if _, ok := u.Object["status"]; ok {
				t.Errorf("%s keeps its status", o.name)
			}
		}
		svc := env.get(t, gvrServices, "nginx-copy", "my-nginx")
		if _, ok, _ := unstructured.NestedFieldNoCopy(svc.Object, "spec", "clusterIP"); ok {
			t.Errorf("service keeps clusterIP 10.0.0.174")
		}
		cm := env.get(t, gvrConfigMaps, "nginx-copy", "nginx-conf")
		if data, _, _ := unstructured.NestedStringMap(cm.Object, "data"); len(data) != 4 {
			t.Errorf("configmap data %v", data)
		}
		sec := env.get(t, gvrSecrets, "nginx-copy", "nginx-secret")
		if pw, _, _ := unstructured.NestedString(sec.Object, "data", "password"); pw != "bm90LWEtcmVhbC1zZWNyZXQ=" {
			t.Errorf("secret password %q", pw)
		}
		d := env.get(t, gvrDeploy, "nginx-copy", "nginx-deployment")
		if r, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas"); r != 2 {
			t.Errorf("replicas %d", r)
		}
	})
	t.Run("vwidgets", func(t *testing.T) {
		env := newTestEnv(t, Options{})
		res, log := env.run(t, newRestore("vwidgets-r1", nil), nil, readFixture(t, "vwidgets.tar.gz"))
		if res.TotalItems != 4 || res.Restored != 4 || res.Failed != 0 {
			t.Fatalf("%+v\n%s", res, log)
		}
		if got := collapse(env.creates()); !reflect.DeepEqual(got, []string{"customresourcedefinitions", "namespaces", "widgets"}) {
			t.Errorf("create order %v", got)
		}
		w2 := env.get(t, gvrWidgets, "widgets", "w2")
		if size, _, _ := unstructured.NestedInt64(w2.Object, "spec", "size"); size != 7 {
			t.Errorf("w2 size %d", size)
		}
		if tags, _, _ := unstructured.NestedStringSlice(w2.Object, "spec", "extra", "tags"); !reflect.DeepEqual(tags, []string{"a", "b"}) {
			t.Errorf("w2 extra tags %v", tags)
		}
		if w2.GetLabels()[format.RestoreNameLabel] != "vwidgets-r1" {
			t.Errorf("w2 labels %v", w2.GetLabels())
		}
	})
}
