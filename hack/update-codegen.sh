#!/usr/bin/env bash
# Writes every generated file of ark from the API types in pkg/apis:
#   - deepcopy functions (pkg/apis/ark/v1/zz_generated.deepcopy.go: they must sit beside the types),
#   - the OpenAPI definitions of the API types (pkg/generated/openapi; only hack/models-schema
#     imports them, so they stay out of the ark binary) and their known API rule violations,
#   - the apply configurations (pkg/generated/applyconfiguration), which hold the types' schema
#     so that the fake clientset's NewClientset can track managed fields,
#   - the typed clientset (with Apply methods), listers and informers (pkg/generated),
#   - the CRD manifests (config/crd) and the CRD part of examples/common/00-prereqs.yaml.
# ARK_CODEGEN_ROOT writes into another copy of the tree (hack/verify-codegen.sh uses it).
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
root="${ARK_CODEGEN_ROOT:-${ARK_ROOT}}"
cd "${ARK_ROOT}"

# `go list -m` prints an empty Dir for a module that is not in the module cache yet
# (a fresh machine): download it first.
go mod download k8s.io/code-generator
codegen_pkg="$(go list -m -f '{{.Dir}}' k8s.io/code-generator)"
if [[ -z "${codegen_pkg}" || ! -f "${codegen_pkg}/kube_codegen.sh" ]]; then
  echo "update-codegen: k8s.io/code-generator is not in the module cache (go mod download failed?)" >&2
  exit 1
fi
# shellcheck source=/dev/null
source "${codegen_pkg}/kube_codegen.sh"

# The generators work on the tree given; a copy is used when verifying.
cd "${root}"
export GOBIN="${ARK_BIN}"
mkdir -p "${GOBIN}"

kube::codegen::gen_helpers \
  --boilerplate "${root}/hack/boilerplate.go.txt" \
  "${root}/pkg/apis"

# openapi-gen is built from the kube-openapi version code-generator's go.mod pins, the same one
# as ark's go.mod. Its API rule report is rewritten each run (the list_type_missing entries
# would need +listType tags, which change the CRDs); verify-codegen shows any change to it.
kube::codegen::gen_openapi \
  --output-dir "${root}/pkg/generated/openapi" \
  --output-pkg "github.com/heptio/ark/pkg/generated/openapi" \
  --report-filename "${root}/pkg/generated/openapi/api_violations.list" \
  --update-report \
  --boilerplate "${root}/hack/boilerplate.go.txt" \
  "${root}/pkg/apis"

# applyconfiguration-gen reads the schema as an OpenAPI v2 JSON document, which
# hack/models-schema writes from the definitions generated just above.
schema="$(mktemp "${TMPDIR:-/tmp}/ark-models-schema.XXXXXX")"
trap 'rm -f "${schema}"' EXIT
go run ./hack/models-schema > "${schema}"

kube::codegen::gen_client \
  --with-watch \
  --with-applyconfig \
  --applyconfig-openapi-schema "${schema}" \
  --output-dir "${root}/pkg/generated" \
  --output-pkg "github.com/heptio/ark/pkg/generated" \
  --boilerplate "${root}/hack/boilerplate.go.txt" \
  "${root}/pkg/apis"

controller_gen="$(ark::controller_gen)"
rm -rf "${root}/config/crd"
"${controller_gen}" crd:crdVersions=v1 paths="./pkg/apis/..." output:crd:artifacts:config="${root}/config/crd"

"${ARK_ROOT}/hack/gen-prereqs.sh" "${root}"
