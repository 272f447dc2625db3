package validation

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
)

// Every manifest under examples/ parses, and every Config in it is valid, so
// that what the README tells users to apply works.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("../../examples/*/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	more, _ := filepath.Glob("../../examples/*/*/*.yaml")
	files = append(files, more...)
	if len(files) < 8 {
		t.Fatalf("found only %d example files: %v", len(files), files)
	}
	configs := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for {
			doc, err := reader.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			var obj unstructured.Unstructured
			if err := yaml.Unmarshal(doc, &obj.Object); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if len(obj.Object) == 0 {
				continue
			}
			if obj.GetKind() == "" || obj.GetName() == "" {
				t.Errorf("%s: an object without kind or name", f)
			}
			if obj.GetKind() == "Config" {
				configs++
				var cfg arkv1.Config
				if err := yaml.UnmarshalStrict(doc, &cfg); err != nil {
					t.Errorf("%s: %v", f, err)
					continue
				}
				if errs := Config(&cfg); len(errs) > 0 {
					t.Errorf("%s: invalid Config: %v", f, errs)
				}
			}
		}
	}
	if configs < 5 {
		t.Errorf("found %d Configs, want one per provider and MinIO's", configs)
	}
}
