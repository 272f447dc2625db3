#!/usr/bin/env bash
# Fails when a generated file (deepcopy, OpenAPI definitions and their API rule
# violations, apply configurations, clientset, listers, informers, CRDs,
# the CRDs inside examples/common/00-prereqs.yaml) differs from what
# hack/update-codegen.sh writes from the API types now.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/ark-verify-codegen.XXXXXX")"
trap 'rm -rf "${tmp}"' EXIT

# A copy of the tracked and new files, so the generators see what a commit would hold.
(cd "${ARK_ROOT}" && git ls-files --cached --others --exclude-standard -z | \
  xargs -0 -I{} sh -c 'test -e "{}" && echo "{}"' | tar -cf - -T - ) | tar -xf - -C "${tmp}"

ARK_CODEGEN_ROOT="${tmp}" "${ARK_ROOT}/hack/update-codegen.sh" >/dev/null

status=0
for path in pkg/apis pkg/generated config/crd examples/common/00-prereqs.yaml; do
  if ! diff -Naupr "${ARK_ROOT}/${path}" "${tmp}/${path}"; then
    status=1
  fi
done
if [[ ${status} -ne 0 ]]; then
  echo "generated files are stale: run hack/update-codegen.sh" >&2
  exit 1
fi
echo "generated files are up to date"
