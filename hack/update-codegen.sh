#!/usr/bin/env bash
# Writes every generated file of ark from the API types in pkg/apis:
#   - deepcopy functions (pkg/apis/ark/v1/zz_generated.deepcopy.go: they must sit beside the types),
#   - the typed clientset, listers and informers (pkg/generated),
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

kube::codegen::gen_client \
  --with-watch \
  --output-dir "${root}/pkg/generated" \
  --output-pkg "github.com/heptio/ark/pkg/generated" \
  --boilerplate "${root}/hack/boilerplate.go.txt" \
  "${root}/pkg/apis"

controller_gen="$(ark::controller_gen)"
rm -rf "${root}/config/crd"
"${controller_gen}" crd:crdVersions=v1 paths="./pkg/apis/..." output:crd:artifacts:config="${root}/config/crd"

"${ARK_ROOT}/hack/gen-prereqs.sh" "${root}"
