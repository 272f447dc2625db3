// Command models-schema writes the OpenAPI v2 schema of ark's API types, and of
// the apimachinery types they use, to standard output as one JSON document
// (a "swagger: 2.0" object whose definitions are keyed by REST-friendly names
// such as com.github.heptio.ark.pkg.apis.ark.v1.Backup).
//
// hack/update-codegen.sh feeds it to applyconfiguration-gen (--openapi-schema),
// which embeds the part the apply configurations need. It is a build-time tool:
// it imports pkg/generated/openapi, which nothing in the ark binary imports.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/util"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"github.com/heptio/ark/pkg/generated/openapi"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "models-schema:", err)
		os.Exit(1)
	}
}

func run() error {
	defs := openapi.GetOpenAPIDefinitions(func(name string) spec.Ref {
		return spec.MustCreateRef("#/definitions/" + definitionName(name))
	})
	schemas := make(map[string]spec.Schema, len(defs))
	for name, def := range defs {
		schemas[definitionName(name)] = v2Schema(def)
	}
	doc := spec.Swagger{SwaggerProps: spec.SwaggerProps{
		Swagger:     "2.0",
		Info:        &spec.Info{InfoProps: spec.InfoProps{Title: "ark", Version: "unversioned"}},
		Definitions: schemas,
	}}
	// encoding/json sorts map keys, so the output is the same on every run.
	out, err := json.MarshalIndent(&doc, "", "  ")
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(append(out, '\n'))
	return err
}

// definitionName is the name the schema, the apply configurations and
// runtime.Scheme.ToOpenAPIDefinitionName agree on. openapi-gen keys a type by
// its Go name ("github.com/heptio/ark/pkg/apis/ark/v1.Backup", which becomes
// "com.github.heptio.ark.pkg.apis.ark.v1.Backup"), except types that declare an
// OpenAPI model name (the apimachinery ones: "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"),
// which are used as they are.
func definitionName(name string) string {
	if !strings.Contains(name, "/") {
		return name
	}
	return util.ToRESTFriendlyName(name)
}

// v2Schema returns the OpenAPI v2 form of def: types whose v3 schema differs
// (int-or-string, for one) carry their v2 schema in an extension.
func v2Schema(def common.OpenAPIDefinition) spec.Schema {
	switch v2 := def.Schema.Extensions[common.ExtensionV2Schema].(type) {
	case spec.Schema:
		return v2
	case *spec.Schema:
		return *v2
	}
	return def.Schema
}
