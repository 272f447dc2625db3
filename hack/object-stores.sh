#!/usr/bin/env bash
# Local object-store servers for ark's integration tests.
#
#   hack/object-stores.sh install [s3|gcs|azure|kms]...   build/install into _output/objectstores (cached)
#   hack/object-stores.sh start   [s3|gcs|azure|kms]...   install if needed, start on 127.0.0.1, print env
#   hack/object-stores.sh env     [s3|gcs|azure|kms]...   print the env of the running servers
#   hack/object-stores.sh stop    [s3|gcs|azure|kms]...   stop them (SIGTERM, SIGKILL after a grace period)
#
# With no kind, all four. `eval "$(hack/object-stores.sh start)"` exports the variables that
# pkg/test/objectstores reads, so that integration tests reuse the running servers:
#   ARK_TEST_S3_ENDPOINT ARK_TEST_S3_REGION ARK_TEST_S3_ACCESS_KEY ARK_TEST_S3_SECRET_KEY
#   ARK_TEST_GCS_ENDPOINT
#   ARK_TEST_AZURE_ENDPOINT ARK_TEST_AZURE_ACCOUNT ARK_TEST_AZURE_KEY
#   ARK_TEST_KMS_ENDPOINT
#
# S3 is served by MinIO; if MinIO cannot be built, versitygw (lighter) is used instead
# (ARK_S3_SERVER=versitygw forces it). GCS: fake-gcs-server. Azure: Azurite (npm, pinned by
# hack/tools/objectstores/package-lock.json). kms is not an object store but an AWS KMS emulator
# (nsmithuk/local-kms behind hack/tools/localkms, which binds loopback only) for the tests of
# pkg/encryption/kms; it is rebuilt when hack/tools/localkms changes (stamp). Progress goes to
# stderr, variables to stdout.
set -o errexit -o nounset -o pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${ARK_OBJECTSTORES_CACHE:-${ROOT}/_output/objectstores}"
BIN="${CACHE}/bin"
RUN="${CACHE}/run"
TOOLS="${ROOT}/hack/tools/objectstores"

MINIO_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c"
VERSITYGW_VERSION="v1.8.0"
FAKE_GCS_VERSION="v1.56.1"
# Azurite's development account: a public, documented constant, not a secret.
AZURE_ACCOUNT="devstoreaccount1"
AZURE_KEY="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

log() { echo "object-stores: $*" >&2; }
die() { log "error: $*"; exit 1; }
# shellcheck source=hack/lib/apt.sh
source "${ROOT}/hack/lib/apt.sh"

# ensure_commands: the tools this script runs, installed from Debian when missing
# (a fresh machine): ss and curl for ports and readiness, npm and node for Azurite.
ensure_commands() {
  local missing=()
  command -v ss >/dev/null || missing+=(iproute2)
  command -v curl >/dev/null || missing+=(curl ca-certificates)
  if [[ " $* " == *" azure "* ]]; then
    command -v node >/dev/null || missing+=(nodejs)
    command -v npm >/dev/null || missing+=(npm)
  fi
  if [[ ${#missing[@]} -gt 0 ]]; then
    log "installing ${missing[*]}"
    apt_install "${missing[@]}"
  fi
}

kinds() {
  if [[ $# -eq 0 ]]; then echo "s3 gcs azure kms"; return; fi
  local k
  for k in "$@"; do
    case "$k" in s3 | gcs | azure | kms) echo "$k" ;; *) die "unknown kind ${k} (want s3, gcs, azure or kms)" ;; esac
  done
}

go_install() { # name package@version
  local name="$1" pkg="$2" start
  start=$(date +%s)
  log "building ${name} (${pkg}), this takes a few minutes cold"
  if ! GOBIN="${BIN}" GOFLAGS=-buildvcs=false go install "${pkg}" >"${CACHE}/logs/build-${name}.log" 2>&1; then
    log "building ${name} failed, see ${CACHE}/logs/build-${name}.log"
    return 1
  fi
  log "built ${name} in $(($(date +%s) - start))s"
}

install_s3() {
  if [[ "${ARK_S3_SERVER:-}" != versitygw ]]; then
    [[ -x "${BIN}/minio" ]] && return 0
    go_install minio "github.com/minio/minio@${MINIO_VERSION}" && return 0
    log "falling back to versitygw"
  fi
  [[ -x "${BIN}/versitygw" ]] && return 0
  go_install versitygw "github.com/versity/versitygw/cmd/versitygw@${VERSITYGW_VERSION}"
}

install_gcs() {
  [[ -x "${BIN}/fake-gcs-server" ]] && return 0
  go_install fake-gcs-server "github.com/fsouza/fake-gcs-server@${FAKE_GCS_VERSION}"
}

# localkms_stamp prints the cache key of the KMS emulator: its module's files.
localkms_stamp() { cat "${ROOT}/hack/tools/localkms/"{go.mod,go.sum,main.go} | sha256sum | cut -d' ' -f1; }

install_kms() {
  if [[ -x "${BIN}/localkms" && -f "${BIN}/.localkms.stamp" && "$(cat "${BIN}/.localkms.stamp")" == "$(localkms_stamp)" ]]; then
    return 0
  fi
  local start
  start=$(date +%s)
  log "building localkms (hack/tools/localkms: nsmithuk/local-kms)"
  if ! (cd "${ROOT}/hack/tools/localkms" && GOBIN="${BIN}" GOFLAGS=-buildvcs=false go install .) >"${CACHE}/logs/build-localkms.log" 2>&1; then
    die "building localkms failed, see ${CACHE}/logs/build-localkms.log"
  fi
  localkms_stamp >"${BIN}/.localkms.stamp"
  log "built localkms in $(($(date +%s) - start))s"
}

install_azure() {
  local dir="${CACHE}/azurite"
  if [[ -f "${dir}/node_modules/azurite/dist/src/blob/main.js" ]] &&
    cmp -s "${TOOLS}/package-lock.json" "${dir}/package-lock.json"; then
    return 0
  fi
  mkdir -p "${dir}"
  cp "${TOOLS}/package.json" "${TOOLS}/package-lock.json" "${dir}/"
  log "installing azurite with npm ci"
  (cd "${dir}" && npm ci --no-audit --no-fund --ignore-scripts >"${CACHE}/logs/build-azurite.log" 2>&1) ||
    die "npm ci failed, see ${CACHE}/logs/build-azurite.log"
}

free_port() {
  local port
  for _ in $(seq 1 200); do
    port=$((20000 + RANDOM % 30000))
    if ! ss -Htln "sport = :${port}" | grep -q .; then
      echo "${port}"
      return 0
    fi
  done
  die "no free port found"
}

wait_ready() { # kind url pid
  local kind="$1" url="$2" pid="$3"
  for _ in $(seq 1 300); do
    if ! kill -0 "${pid}" 2>/dev/null; then
      die "${kind} server exited during start, see ${RUN}/${kind}/server.log"
    fi
    if curl -fsS -o /dev/null --max-time 2 "${url}" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  stop_one "${kind}"
  die "${kind} server not ready after 30s, see ${RUN}/${kind}/server.log"
}

running() { # kind
  local pidfile="${RUN}/$1/pid"
  [[ -f "${pidfile}" ]] && kill -0 "$(cat "${pidfile}")" 2>/dev/null
}

random_secret() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

start_one() { # kind
  local kind="$1" dir="${RUN}/$1" port port2 pid
  if running "${kind}"; then
    log "${kind} already running (pid $(cat "${dir}/pid"))"
    return 0
  fi
  "install_${kind}"
  rm -rf "${dir}"
  mkdir -p "${dir}/data"
  port=$(free_port)
  case "${kind}" in
  s3)
    local user secret
    user="ark-$(random_secret | cut -c1-8)"
    secret=$(random_secret)
    if [[ "${ARK_S3_SERVER:-}" != versitygw && -x "${BIN}/minio" ]]; then
      port2=$(free_port)
      MINIO_ROOT_USER="${user}" MINIO_ROOT_PASSWORD="${secret}" MINIO_BROWSER=off \
        setsid "${BIN}/minio" server "${dir}/data" --address "127.0.0.1:${port}" \
        --console-address "127.0.0.1:${port2}" --quiet >"${dir}/server.log" 2>&1 </dev/null &
      pid=$!
      echo "${pid}" >"${dir}/pid"
      wait_ready s3 "http://127.0.0.1:${port}/minio/health/ready" "${pid}"
    else
      ROOT_ACCESS_KEY="${user}" ROOT_SECRET_KEY="${secret}" \
        setsid "${BIN}/versitygw" --port "127.0.0.1:${port}" posix "${dir}/data" \
        >"${dir}/server.log" 2>&1 </dev/null &
      pid=$!
      echo "${pid}" >"${dir}/pid"
      # Any HTTP answer (even 403) means it is up.
      for _ in $(seq 1 300); do
        curl -sS -o /dev/null --max-time 2 "http://127.0.0.1:${port}/" 2>/dev/null && break
        kill -0 "${pid}" 2>/dev/null || die "versitygw exited, see ${dir}/server.log"
        sleep 0.1
      done
    fi
    {
      echo "ARK_TEST_S3_ENDPOINT=http://127.0.0.1:${port}"
      echo "ARK_TEST_S3_REGION=us-east-1"
      echo "ARK_TEST_S3_ACCESS_KEY=${user}"
      echo "ARK_TEST_S3_SECRET_KEY=${secret}"
    } >"${dir}/env"
    ;;
  gcs)
    setsid "${BIN}/fake-gcs-server" -scheme http -host 127.0.0.1 -port "${port}" -backend memory \
      -external-url "http://127.0.0.1:${port}" -public-host "127.0.0.1:${port}" \
      -log-level error >"${dir}/server.log" 2>&1 </dev/null &
    pid=$!
    echo "${pid}" >"${dir}/pid"
    wait_ready gcs "http://127.0.0.1:${port}/storage/v1/b" "${pid}"
    echo "ARK_TEST_GCS_ENDPOINT=http://127.0.0.1:${port}" >"${dir}/env"
    ;;
  azure)
    setsid node "${CACHE}/azurite/node_modules/azurite/dist/src/blob/main.js" \
      --blobHost 127.0.0.1 --blobPort "${port}" --location "${dir}/data" \
      --skipApiVersionCheck --silent >"${dir}/server.log" 2>&1 </dev/null &
    pid=$!
    echo "${pid}" >"${dir}/pid"
    # Azurite answers 400 to an unauthenticated request once it listens.
    for _ in $(seq 1 300); do
      curl -sS -o /dev/null --max-time 2 "http://127.0.0.1:${port}/${AZURE_ACCOUNT}?comp=list" 2>/dev/null && break
      kill -0 "${pid}" 2>/dev/null || die "azurite exited, see ${dir}/server.log"
      sleep 0.1
    done
    {
      echo "ARK_TEST_AZURE_ENDPOINT=http://127.0.0.1:${port}/${AZURE_ACCOUNT}"
      echo "ARK_TEST_AZURE_ACCOUNT=${AZURE_ACCOUNT}"
      echo "ARK_TEST_AZURE_KEY=${AZURE_KEY}"
    } >"${dir}/env"
    ;;
  kms)
    setsid "${BIN}/localkms" -listen "127.0.0.1:${port}" -data "${dir}/data" \
      >"${dir}/server.log" 2>&1 </dev/null &
    pid=$!
    echo "${pid}" >"${dir}/pid"
    # It answers 405 to a GET once it listens.
    for _ in $(seq 1 300); do
      curl -sS -o /dev/null --max-time 2 "http://127.0.0.1:${port}/" 2>/dev/null && break
      kill -0 "${pid}" 2>/dev/null || die "localkms exited, see ${dir}/server.log"
      sleep 0.1
    done
    echo "ARK_TEST_KMS_ENDPOINT=http://127.0.0.1:${port}" >"${dir}/env"
    ;;
  esac
  log "${kind} started (pid ${pid}, port ${port})"
}

stop_one() { # kind
  local kind="$1" dir="${RUN}/$1" pid
  [[ -f "${dir}/pid" ]] || return 0
  pid=$(cat "${dir}/pid")
  if kill -0 "${pid}" 2>/dev/null; then
    # setsid made the server a process-group leader: signal its whole group (npm/node children).
    kill -TERM -- "-${pid}" 2>/dev/null || kill -TERM "${pid}" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "${pid}" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "${pid}" 2>/dev/null; then
      log "${kind} (pid ${pid}) ignored SIGTERM for 10s, killing it"
      kill -KILL -- "-${pid}" 2>/dev/null || kill -KILL "${pid}" 2>/dev/null || true
    fi
    log "${kind} stopped"
  fi
  rm -rf "${dir}"
}

env_one() { # kind
  if running "$1"; then
    sed 's/^/export /' "${RUN}/$1/env"
  else
    log "$1 is not running"
  fi
}

main() {
  [[ $# -ge 1 ]] || die "usage: $0 install|start|stop|env [s3|gcs|azure|kms]..."
  local cmd="$1" k
  shift
  mkdir -p "${BIN}" "${RUN}" "${CACHE}/logs"
  case "${cmd}" in install | start) ensure_commands $(kinds "$@") ;; esac
  case "${cmd}" in
  install) for k in $(kinds "$@"); do "install_${k}"; done ;;
  start) for k in $(kinds "$@"); do start_one "${k}"; env_one "${k}"; done ;;
  stop) for k in $(kinds "$@"); do stop_one "${k}"; done ;;
  env) for k in $(kinds "$@"); do env_one "${k}"; done ;;
  *) die "unknown command ${cmd} (want install, start, stop or env)" ;;
  esac
}

main "$@"
