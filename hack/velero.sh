#!/usr/bin/env bash
# Velero, built from the Go module proxy, for `make bench-velero` (BenchmarkVelero runs it side
# by side with ark on the same local control plane and MinIO).
#
#   hack/velero.sh install   download and build into _output/velero (cached: a stamp)
#   hack/velero.sh path      print the directory of the build (_output/velero)
#
# What it builds, into ${VELERO_CACHE:-_output/velero}:
#   bin/velero                          github.com/vmware-tanzu/velero ${VELERO_VERSION} ./cmd/velero
#   plugins/velero-plugin-for-aws       github.com/vmware-tanzu/velero-plugin-for-aws ${PLUGIN_VERSION}
#                                       (the plugin line the plugin's README pairs with Velero 1.18.x)
#   .stamp                              the versions and this script's hash: a second run does nothing
#   logs/                               the download and build logs
#
# `go install pkg@version` refuses modules with replace directives (Velero has one), so each module
# is fetched with `go mod download -json` and built from a writable copy of its directory (the module
# cache is read-only, and go.sum may need entries). Only the Go module proxy is used.
#
# The proxy here refuses two of Velero v1.18.1's requirements (403 "This module version is not
# available": k8s.io/cli-runtime@v0.33.11, k8s.io/kube-aggregator@v0.33.11); the copy replaces them
# with the nearest older patch release of the same minor that it serves (VELERO_REPLACES), which
# leaves every other module of the build at Velero's own versions. Progress goes to stderr.
set -o errexit -o nounset -o pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${VELERO_CACHE:-${ROOT}/_output/velero}"

VELERO_MODULE="github.com/vmware-tanzu/velero"
VELERO_VERSION="v1.18.1"
PLUGIN_MODULE="github.com/vmware-tanzu/velero-plugin-for-aws"
PLUGIN_VERSION="v1.14.3"
VELERO_REPLACES="k8s.io/cli-runtime=k8s.io/cli-runtime@v0.33.4 k8s.io/kube-aggregator=k8s.io/kube-aggregator@v0.33.7"

log() { echo "velero: $*" >&2; }
die() {
  log "error: $*"
  exit 1
}

stamp() { printf '%s\n' "${VELERO_VERSION}" "${PLUGIN_VERSION}" "$(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)"; }

installed() {
  [[ -x "${CACHE}/bin/velero" && -x "${CACHE}/plugins/velero-plugin-for-aws" && -f "${CACHE}/.stamp" ]] &&
    [[ "$(cat "${CACHE}/.stamp")" == "$(stamp)" ]]
}

# download module@version: `go mod download -json` outside any module; prints the module's
# directory in the (read-only) module cache, and its commit when the proxy gives one (else "unknown").
download() {
  local mod="$1" version="$2" tmp json dir sha
  tmp=$(mktemp -d)
  if ! json=$(cd "${tmp}" && GOFLAGS=-mod=mod go mod download -json "${mod}@${version}" 2>>"${CACHE}/logs/download.log"); then
    rm -rf "${tmp}"
    die "go mod download ${mod}@${version} failed, see ${CACHE}/logs/download.log"
  fi
  rm -rf "${tmp}"
  echo "${json}" >>"${CACHE}/logs/download.log"
  dir=$(sed -n 's/^\t"Dir": "\(.*\)",$/\1/p' <<<"${json}")
  sha=$(sed -n 's/^\t\t"Hash": "\(.*\)",\{0,1\}$/\1/p' <<<"${json}")
  [[ -n "${dir}" && -d "${dir}" ]] || die "go mod download ${mod}@${version}: no directory in its answer: ${json}"
  echo "${dir} ${sha:-unknown}"
}

# copy dir to dest as a writable tree, without the documentation site (most of Velero's module).
copy() {
  local dir="$1" dest="$2"
  rm -rf "${dest}"
  mkdir -p "${dest}"
  tar -C "${dir}" --exclude=./site --exclude=./design -cf - . | tar -C "${dest}" -xf -
  chmod -R u+w "${dest}"
}

install() {
  if installed; then
    return 0
  fi
  mkdir -p "${CACHE}/logs" "${CACHE}/src" "${CACHE}/bin" "${CACHE}/plugins"
  : >"${CACHE}/logs/download.log"
  local start t velero plugin vdir vsha pdir r from to
  start=$(date +%s)
  log "downloading ${VELERO_MODULE}@${VELERO_VERSION} and ${PLUGIN_MODULE}@${PLUGIN_VERSION} (Go module proxy)"
  velero=$(download "${VELERO_MODULE}" "${VELERO_VERSION}")
  plugin=$(download "${PLUGIN_MODULE}" "${PLUGIN_VERSION}")
  read -r vdir vsha <<<"${velero}"
  read -r pdir _ <<<"${plugin}"
  copy "${vdir}" "${CACHE}/src/velero"
  copy "${pdir}" "${CACHE}/src/velero-plugin-for-aws"
  for r in ${VELERO_REPLACES}; do
    from=${r%%=*}
    to=${r#*=}
    (cd "${CACHE}/src/velero" && go mod edit -replace "${from}=${to}")
  done

  # As Velero's hack/build.sh builds it: CGO off, its version in pkg/buildinfo. GOFLAGS=-mod=mod
  # lets go fetch the dependencies (Go module proxy) and complete go.sum in the copy.
  t=$(date +%s)
  log "building velero ${VELERO_VERSION} (cmd/velero), this takes several minutes cold"
  local ldflags="-X ${VELERO_MODULE}/pkg/buildinfo.Version=${VELERO_VERSION} -X ${VELERO_MODULE}/pkg/buildinfo.GitSHA=${vsha} -X ${VELERO_MODULE}/pkg/buildinfo.GitTreeState=clean"
  if ! (cd "${CACHE}/src/velero" && CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false" \
    go build -trimpath -ldflags "${ldflags}" -o "${CACHE}/bin/velero" ./cmd/velero) >"${CACHE}/logs/build-velero.log" 2>&1; then
    die "building velero failed, see ${CACHE}/logs/build-velero.log:
$(tail -20 "${CACHE}/logs/build-velero.log")"
  fi
  log "built velero in $(($(date +%s) - t))s"
  t=$(date +%s)
  log "building velero-plugin-for-aws ${PLUGIN_VERSION}"
  if ! (cd "${CACHE}/src/velero-plugin-for-aws" && CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false" \
    go build -trimpath -o "${CACHE}/plugins/velero-plugin-for-aws" ./velero-plugin-for-aws) >"${CACHE}/logs/build-plugin.log" 2>&1; then
    die "building velero-plugin-for-aws failed, see ${CACHE}/logs/build-plugin.log:
$(tail -20 "${CACHE}/logs/build-plugin.log")"
  fi
  log "built velero-plugin-for-aws in $(($(date +%s) - t))s"
  stamp >"${CACHE}/.stamp"
  log "velero ${VELERO_VERSION} and velero-plugin-for-aws ${PLUGIN_VERSION} in ${CACHE} ($(($(date +%s) - start))s in all)"
}

main() {
  [[ $# -eq 1 ]] || die "usage: $0 install|path"
  case "$1" in
  install) install ;;
  path) echo "${CACHE}" ;;
  *) die "unknown command $1 (want install or path)" ;;
  esac
}

main "$@"
