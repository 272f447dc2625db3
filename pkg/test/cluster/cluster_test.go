package cluster

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFindRepoRoot(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, err := FindRepoRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, scriptPath)); err != nil {
		t.Errorf("root %s has no %s: %v", root, scriptPath, err)
	}
	// The nested tools module must not be taken for the repository root.
	fromTools, err := FindRepoRoot(filepath.Join(root, "hack", "tools", "kube"))
	if err != nil {
		t.Fatal(err)
	}
	if fromTools != root {
		t.Errorf("FindRepoRoot(hack/tools/kube) = %s, want %s", fromTools, root)
	}
	if _, err := FindRepoRoot(t.TempDir()); err == nil {
		t.Error("FindRepoRoot outside the repository: want an error")
	}
}

func TestSanitizeName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"TestFoo", "testfoo"},
		{"TestFoo/sub_case#01", "testfoo-sub-case-01"},
		{"__Weird__", "weird"},
		{"TestAVeryLongNameThatGoesOnAndOnForeverAndEver", "testaverylongnamethatgoesonandonforevera"},
		{"Test/-/x", "test-x"},
		{"///", ""},
	} {
		if got := sanitizeName(tc.in, 40); got != tc.want {
			t.Errorf("sanitizeName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestReadDocs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		paths   []string
		want    int
		wantErr bool
	}{
		{name: "crds", paths: []string{"testdata/crd.yaml"}, want: 2},
		{name: "manifest", paths: []string{"testdata/manifest.yaml"}, want: 4},
		{name: "directory", paths: []string{"testdata"}, want: 6},
		{name: "missing", paths: []string{"testdata/nope.yaml"}, wantErr: true},
		{name: "none", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			docs, err := readDocs(tc.paths...)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if len(docs) != tc.want {
				t.Errorf("got %d documents, want %d", len(docs), tc.want)
			}
		})
	}
}

func TestDecodeAndSort(t *testing.T) {
	docs, err := readDocs("testdata/manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var objs []*object
	for _, d := range docs {
		o, err := decodeObjects(d)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, o...)
	}
	sortForApply(objs)
	var got []string
	for _, o := range objs {
		got = append(got, o.obj.GetKind()+"/"+o.obj.GetName())
	}
	want := []string{"Namespace/harness-apply-yaml", "ConfigMap/settings", "Deployment/web", "Widget/small", "Gadget/cluster-wide"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}
