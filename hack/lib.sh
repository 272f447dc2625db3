#!/usr/bin/env bash
# Shared helpers of the hack/ scripts.

ARK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ARK_OUTPUT="${ARK_ROOT}/_output"
ARK_BIN="${ARK_OUTPUT}/bin"
export ARK_ROOT ARK_OUTPUT ARK_BIN

# ark::controller_gen builds controller-gen from hack/tools/controller-gen into
# _output/bin once, and again only when that module's go.sum changes.
ark::controller_gen() {
  local mod="${ARK_ROOT}/hack/tools/controller-gen"
  local stamp="${ARK_BIN}/controller-gen.stamp"
  local want
  want="$(cat "${mod}/go.mod" "${mod}/go.sum" | sha256sum | cut -d' ' -f1)"
  if [[ ! -x "${ARK_BIN}/controller-gen" || "$(cat "${stamp}" 2>/dev/null)" != "${want}" ]]; then
    echo "building controller-gen (once; cached in _output/bin)" >&2
    mkdir -p "${ARK_BIN}"
    (cd "${mod}" && go build -o "${ARK_BIN}/controller-gen" sigs.k8s.io/controller-tools/cmd/controller-gen)
    echo "${want}" > "${stamp}"
  fi
  echo "${ARK_BIN}/controller-gen"
}
