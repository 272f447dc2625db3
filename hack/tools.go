//go:build tools

// Package tools pins the code generators run by hack/update-codegen.sh to the
// version in ark's go.mod, so the generated clients match the k8s.io libraries.
package tools

import _ "k8s.io/code-generator"
