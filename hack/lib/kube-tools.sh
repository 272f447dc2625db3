#!/usr/bin/env bash
# Helpers to build the pinned kube-apiserver and kube-controller-manager from
# the hack/tools/kube module into _output/bin/, rebuilding only when the pin
# changes. Source this file; it defines functions only.
#
#   source hack/lib/kube-tools.sh
#   kube::tools::ensure "$REPO_ROOT"   # builds if the stamp is stale
#
# The stamp file _output/bin/.kube-tools.stamp holds a hash of go.mod, go.sum,
# this file and the Go version; the binaries are rebuilt when it differs.

KUBE_TOOLS_BINARIES=(kube-apiserver kube-controller-manager)

# kube::tools::version prints the k8s.io/kubernetes version pinned in go.mod.
kube::tools::version() {
  local root=$1
  awk '$1 == "require" && $2 == "k8s.io/kubernetes" { print $3 }' "${root}/hack/tools/kube/go.mod"
}

# kube::tools::stamp prints the cache key of the current pin.
kube::tools::stamp() {
  local root=$1
  {
    cat "${root}/hack/tools/kube/go.mod" "${root}/hack/tools/kube/go.sum" "${BASH_SOURCE[0]}"
    go env GOVERSION GOOS GOARCH
  } | sha256sum | awk '{ print $1 }'
}

# kube::tools::fresh succeeds when every binary exists and the stamp matches.
kube::tools::fresh() {
  local root=$1 bin="${1}/_output/bin" b
  for b in "${KUBE_TOOLS_BINARIES[@]}"; do
    [[ -x "${bin}/${b}" ]] || return 1
  done
  [[ -f "${bin}/.kube-tools.stamp" ]] || return 1
  [[ "$(cat "${bin}/.kube-tools.stamp")" == "$(kube::tools::stamp "${root}")" ]]
}

# kube::tools::build builds every binary unconditionally.
kube::tools::build() {
  local root=$1 bin="${1}/_output/bin" version major minor b start
  version=$(kube::tools::version "${root}")
  if [[ ! "${version}" =~ ^v([0-9]+)\.([0-9]+)\. ]]; then
    echo "cannot parse k8s.io/kubernetes version '${version}' in hack/tools/kube/go.mod" >&2
    return 1
  fi
  major=${BASH_REMATCH[1]}
  minor=${BASH_REMATCH[2]}
  local ldflags="-s -w"
  local pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X ${pkg}.gitVersion=${version}"
    ldflags+=" -X ${pkg}.gitMajor=${major}"
    ldflags+=" -X ${pkg}.gitMinor=${minor}"
    ldflags+=" -X ${pkg}.gitTreeState=clean"
    ldflags+=" -X ${pkg}.buildDate=1970-01-01T00:00:00Z"
  done
  mkdir -p "${bin}"
  rm -f "${bin}/.kube-tools.stamp"
  for b in "${KUBE_TOOLS_BINARIES[@]}"; do
    start=${SECONDS}
    echo "building ${b} ${version} into ${bin} (cold: ~5 min on 2 cores)..." >&2
    (
      cd "${root}/hack/tools/kube"
      GOWORK=off GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 \
        go build -trimpath -ldflags "${ldflags}" -o "${bin}/${b}.tmp" "k8s.io/kubernetes/cmd/${b}"
    )
    mv -f "${bin}/${b}.tmp" "${bin}/${b}"
    echo "built ${b} in $((SECONDS - start))s" >&2
  done
  kube::tools::stamp "${root}" > "${bin}/.kube-tools.stamp"
}

# kube::tools::ensure builds the binaries unless they are fresh. A lock keeps
# two concurrent callers (two clusters started at once) from building twice.
kube::tools::ensure() {
  local root=$1
  kube::tools::fresh "${root}" && return 0
  mkdir -p "${root}/_output/bin"
  (
    flock 9
    kube::tools::fresh "${root}" || kube::tools::build "${root}"
  ) 9> "${root}/_output/bin/.kube-tools.lock"
}
