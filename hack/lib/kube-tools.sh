#!/usr/bin/env bash
# Helpers to build the pinned kube-apiserver and kube-controller-manager from
# the hack/tools/kube module into _output/bin/, rebuilding only when the pin
# changes. Source this file; it defines functions only.
#
#   source hack/lib/kube-tools.sh
#   kube::tools::ensure "$REPO_ROOT"   # builds if the stamp is stale
#
# The stamp file _output/bin/.kube-tools.stamp holds a hash of go.mod, go.sum,
# the build flags and the Go version; the binaries are rebuilt when it differs.

KUBE_TOOLS_BINARIES=(kube-apiserver kube-controller-manager)
# go.sum is committed, so -mod=mod never needs a checksum lookup.
KUBE_TOOLS_GOFLAGS="-mod=mod -buildvcs=false"

# kube::tools::version prints the k8s.io/kubernetes version pinned in go.mod.
kube::tools::version() {
  local root=$1
  awk '$1 == "require" && $2 == "k8s.io/kubernetes" { print $3; exit }
       $1 == "k8s.io/kubernetes" && $2 ~ /^v/ { print $2; exit }' "${root}/hack/tools/kube/go.mod"
}

# kube::tools::ldflags ROOT prints the linker flags that stamp the version
# (without them the servers report v0.0.0-master+$Format:%H$, which kubectl
# and version checks cannot parse).
kube::tools::ldflags() {
  local root=$1 version pkg flags="-s -w"
  version=$(kube::tools::version "${root}")
  if [[ ! "${version}" =~ ^v([0-9]+)\.([0-9]+)\. ]]; then
    echo "cannot parse k8s.io/kubernetes version '${version}' in hack/tools/kube/go.mod" >&2
    return 1
  fi
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X ${pkg}.gitVersion=${version}"
    flags+=" -X ${pkg}.gitMajor=${BASH_REMATCH[1]}"
    flags+=" -X ${pkg}.gitMinor=${BASH_REMATCH[2]}"
    flags+=" -X ${pkg}.gitTreeState=clean"
    flags+=" -X ${pkg}.buildDate=1970-01-01T00:00:00Z"
  done
  echo "${flags}"
}

# kube::tools::stamp ROOT prints the cache key: go.mod, go.sum, the build
# flags and the Go toolchain.
kube::tools::stamp() {
  local root=$1 ldflags
  ldflags=$(kube::tools::ldflags "${root}") || return 1
  {
    cat "${root}/hack/tools/kube/go.mod" "${root}/hack/tools/kube/go.sum" || return 1
    echo "${KUBE_TOOLS_BINARIES[*]}" "${ldflags}" "${KUBE_TOOLS_GOFLAGS}"
    go env GOVERSION GOOS GOARCH || return 1
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

# kube::tools::build ROOT builds every binary unconditionally. Every step is
# checked explicitly: callers may run it where `set -e` is off (`a || b`).
kube::tools::build() {
  local root=$1 bin="${1}/_output/bin" ldflags b start
  ldflags=$(kube::tools::ldflags "${root}") || return 1
  mkdir -p "${bin}" || return 1
  rm -f "${bin}/.kube-tools.stamp"
  for b in "${KUBE_TOOLS_BINARIES[@]}"; do
    start=${SECONDS}
    echo "building ${b} ($(kube::tools::version "${root}")) into ${bin}; cold: ~5-10 min on 2 cores" >&2
    (
      cd "${root}/hack/tools/kube" || exit 1
      GOWORK=off GOFLAGS="${KUBE_TOOLS_GOFLAGS}" CGO_ENABLED=0 \
        go build -trimpath -ldflags "${ldflags}" -o "${bin}/${b}.tmp" "k8s.io/kubernetes/cmd/${b}"
    ) || { rm -f "${bin}/${b}.tmp"; echo "building ${b} failed" >&2; return 1; }
    mv -f "${bin}/${b}.tmp" "${bin}/${b}" || return 1
    echo "built ${b} in $((SECONDS - start))s" >&2
  done
  kube::tools::stamp "${root}" > "${bin}/.kube-tools.stamp.tmp" &&
    mv -f "${bin}/.kube-tools.stamp.tmp" "${bin}/.kube-tools.stamp"
}

# kube::tools::ensure builds the binaries unless they are fresh. A lock keeps
# two concurrent callers (two clusters started at once) from building twice.
kube::tools::ensure() {
  local root=$1
  kube::tools::fresh "${root}" && return 0
  mkdir -p "${root}/_output/bin"
  (
    flock 9 || exit 1
    kube::tools::fresh "${root}" || kube::tools::build "${root}"
  ) 9> "${root}/_output/bin/.kube-tools.lock"
}
