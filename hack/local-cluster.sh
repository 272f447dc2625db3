#!/usr/bin/env bash
# local-cluster.sh runs a throwaway Kubernetes control plane (etcd,
# kube-apiserver, kube-controller-manager) on 127.0.0.1 for ark's tests.
# There are no nodes: pods are never scheduled, but every API works and the
# namespace, garbage-collector, deployment, replicaset, service-account,
# resource-quota and root-CA publisher controllers run (the last two: what
# admission and a new namespace depend on, which restores are tested against),
# and the ClusterRole aggregation controller, which fills the built-in roles
# admin, edit and view that tenancy tests bind users to.
#
#   hack/local-cluster.sh up       start (idempotent); prints the env on stdout
#   hack/local-cluster.sh env      print `export KUBECONFIG=...`
#   hack/local-cluster.sh status   show the state of each component
#   hack/local-cluster.sh down     stop everything and remove the state
#   hack/local-cluster.sh build    only build the binaries if stale (~10 min cold)
#   hack/local-cluster.sh restart-apiserver  stop kube-apiserver and start it again (a test fault)
#
#   eval "$(hack/local-cluster.sh up)"; kubectl get ns; hack/local-cluster.sh down
#
# Environment:
#   ARK_LOCAL_CLUSTER_DIR        state dir (default _output/local-cluster); use a
#                                different one per cluster to run several at once
#   ARK_LOCAL_CLUSTER_OWNER_PID  if set at `up`, a watcher runs `down` as soon as
#                                this process exits (used by pkg/test/cluster)
#   ARK_LOCAL_CLUSTER_KEEP_LOGS  if 1, `down` keeps <dir>/logs
#   ARK_CLUSTER_PROFILING        if true, kube-apiserver serves /debug/pprof (a diagnosis)
#
# Progress goes to stderr; only the env goes to stdout.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=hack/lib/kube-tools.sh
source "${REPO_ROOT}/hack/lib/kube-tools.sh"
# shellcheck source=hack/lib/apt.sh
source "${REPO_ROOT}/hack/lib/apt.sh"

DIR=$(realpath -m "${ARK_LOCAL_CLUSTER_DIR:-${REPO_ROOT}/_output/local-cluster}")
BIN="${REPO_ROOT}/_output/bin"
LOGS="${DIR}/logs"
STOP_GRACE_SECONDS=15
# Start order; `down` stops in the reverse order. Never stop etcd before
# kube-apiserver: the apiserver was seen to hang for 40 minutes on SIGTERM then.
COMPONENTS=(etcd kube-apiserver kube-controller-manager)

log() { echo "local-cluster: $*" >&2; }
# elapsed_since EPOCHREALTIME: seconds since then, with one decimal.
elapsed_since() {
  local now=${EPOCHREALTIME/./} then=${1/./}
  local ms=$(((now - then) / 1000))
  printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100))
}
die() { log "error: $*"; exit 1; }

ensure_prerequisites() {
  local missing=()
  command -v openssl >/dev/null || missing+=(openssl)
  command -v curl >/dev/null || missing+=(curl ca-certificates)
  command -v ss >/dev/null || missing+=(iproute2)
  command -v flock >/dev/null || missing+=(util-linux)
  if ! command -v etcd >/dev/null; then
    missing+=(etcd-server)
  fi
  if [[ ${#missing[@]} -gt 0 ]]; then
    log "installing ${missing[*]}"
    apt_install "${missing[@]}"
  fi
  if [[ " ${missing[*]} " == *" etcd-server "* ]]; then
    # Debian's package may start its own etcd on 2379/2380. We never use it
    # (our ports are picked free anyway); stop it so it holds nothing.
    if command -v systemctl >/dev/null && systemctl is-active --quiet etcd 2>/dev/null; then
      as_root systemctl disable --now etcd >&2 || true
    elif command -v service >/dev/null; then
      as_root service etcd stop >/dev/null 2>&1 || true
    fi
  fi
  command -v etcd >/dev/null || die "etcd not found after installing etcd-server"
}

# --- ports --------------------------------------------------------------------

picked_ports=" "
port_free() {
  local p=$1
  [[ ${picked_ports} != *" ${p} "* ]] || return 1
  ! ss -Htln "sport = :${p}" 2>/dev/null | grep -q .
}

# free_port prints a free TCP port below the ephemeral range, so that no
# outgoing connection can take it between now and the moment we bind it.
free_port() {
  local i p
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + RANDOM % 12000))
    if port_free "${p}"; then
      picked_ports+="${p} "
      echo "${p}"
      return 0
    fi
  done
  die "no free port found"
}

# --- processes ----------------------------------------------------------------

pid_file() { echo "${DIR}/$1.pid"; }

# component_pid prints the PID of a running component started for this state
# dir (the command line must mention ${DIR}, so that a recycled PID is never
# mistaken for ours).
component_pid() {
  local f pid
  f=$(pid_file "$1")
  [[ -f ${f} ]] || return 1
  pid=$(cat "${f}")
  [[ -n ${pid} ]] && alive "${pid}" || return 1
  tr '\0' ' ' < "/proc/${pid}/cmdline" | grep -qF -- "${DIR}" || return 1
  echo "${pid}"
}

running() { component_pid "$1" >/dev/null; }

# start NAME CMD...: runs CMD detached (own session) with output in logs/NAME.log.
start() {
  local name=$1
  shift
  mkdir -p "${LOGS}"
  # fd 8 is the port lock held by cmd_up: never let a daemon inherit it.
  setsid "$@" >>"${LOGS}/${name}.log" 2>&1 </dev/null 8>&- &
  local pid=$!
  disown "${pid}"
  echo "${pid}" > "$(pid_file "${name}")"
  log "started ${name} (pid ${pid}, log ${LOGS}/${name}.log)"
}

# alive PID: the process exists and is not a zombie (an init that does not
# reap, as in some containers, must not make us wait forever).
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

# stop NAME [SIGNAL]: SIGNAL (default TERM), wait up to STOP_GRACE_SECONDS,
# then SIGKILL.
stop() {
  local name=$1 sig=${2:-TERM} pid i t0=${EPOCHREALTIME}
  if pid=$(component_pid "${name}"); then
    kill -"${sig}" "${pid}" 2>/dev/null || true
    for ((i = 0; i < STOP_GRACE_SECONDS * 20; i++)); do
      alive "${pid}" || break
      sleep 0.05
    done
    if alive "${pid}"; then
      log "${name} (pid ${pid}) still running after ${STOP_GRACE_SECONDS}s: SIGKILL"
      kill -KILL "${pid}" 2>/dev/null || true
      for ((i = 0; i < 100; i++)); do
        alive "${pid}" || break
        sleep 0.1
      done
    fi
    log "stopped ${name} (pid ${pid}) in $(elapsed_since "${t0}")s"
  fi
  rm -f "$(pid_file "${name}")"
}

# wait_for NAME SECONDS CMD...: polls CMD until it succeeds, failing early if
# the component died.
wait_for() {
  local name=$1 timeout=$2 i
  shift 2
  for ((i = 0; i < timeout * 5; i++)); do
    if "$@" >/dev/null 2>&1; then
      return 0
    fi
    if ! running "${name}"; then
      tail -n 30 "${LOGS}/${name}.log" >&2 || true
      die "${name} exited; see ${LOGS}/${name}.log"
    fi
    sleep 0.2
  done
  tail -n 30 "${LOGS}/${name}.log" >&2 || true
  die "${name} not ready after ${timeout}s; see ${LOGS}/${name}.log"
}

# --- certificates -------------------------------------------------------------

gen_pki() {
  local pki="${DIR}/pki"
  [[ -f ${pki}/.complete ]] && return 0
  rm -rf "${pki}"
  mkdir -p "${pki}"
  (
    cd "${pki}"
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -sha256 \
      -keyout ca.key -out ca.crt -subj "/CN=ark-local-cluster-ca" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -sha256 \
      -keyout apiserver.key -out apiserver.csr -subj "/CN=kube-apiserver" 2>/dev/null
    printf '%s\n' \
      "basicConstraints=CA:FALSE" \
      "keyUsage=critical,digitalSignature,keyEncipherment" \
      "extendedKeyUsage=serverAuth" \
      "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:10.0.0.1" \
      > apiserver.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
      -days 3650 -sha256 -extfile apiserver.ext -out apiserver.crt 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    echo "$(openssl rand -hex 24),admin,admin,system:masters" > tokens.csv
    touch .complete
  )
}

write_kubeconfig() {
  local port=$1 token ca
  token=$(cut -d, -f1 "${DIR}/pki/tokens.csv")
  ca=$(base64 -w0 < "${DIR}/pki/ca.crt")
  local tmp="${DIR}/kubeconfig.tmp"
  (
    umask 077
    cat > "${tmp}" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: ark-local
  cluster:
    server: https://127.0.0.1:${port}
    certificate-authority-data: ${ca}
users:
- name: admin
  user:
    token: ${token}
contexts:
- name: ark-local
  context:
    cluster: ark-local
    user: admin
current-context: ark-local
EOF
  )
  mv -f "${tmp}" "${DIR}/kubeconfig"
}

# --- commands -----------------------------------------------------------------

print_env() { echo "export KUBECONFIG=${DIR}/kubeconfig"; }

all_running() {
  local c
  for c in "${COMPONENTS[@]}"; do
    running "${c}" || return 1
  done
}

apiserver_ready() {
  local port token
  port=$(cat "${DIR}/apiserver.port")
  token=$(cut -d, -f1 "${DIR}/pki/tokens.csv")
  curl -fsS --max-time 5 --cacert "${DIR}/pki/ca.crt" -H "Authorization: Bearer ${token}" \
    "https://127.0.0.1:${port}/readyz"
}

cmd_up() {
  if all_running && apiserver_ready >/dev/null 2>&1; then
    log "already up (${DIR})"
    print_env
    return 0
  fi
  # A partial cluster (crash, interrupted up) is torn down and started afresh.
  down_processes
  mkdir -p "${DIR}"
  # If anything below fails, stop what was started: no half cluster stays.
  trap 'if [[ $? -ne 0 ]]; then log "up failed, stopping what was started"; down_processes; fi' EXIT
  ensure_prerequisites
  kube::tools::ensure "${REPO_ROOT}"
  gen_pki

  local start_time=${SECONDS}
  # Serialize port picking and binding across concurrent `up`s (several
  # clusters at once); every component is listening when the lock is released.
  exec 8> "${TMPDIR:-/tmp}/ark-local-cluster-ports.lock"
  flock 8
  local etcd_port etcd_peer_port api_port kcm_port
  etcd_port=$(free_port)
  etcd_peer_port=$(free_port)
  api_port=$(free_port)
  kcm_port=$(free_port)
  echo "${api_port}" > "${DIR}/apiserver.port"

  rm -rf "${DIR}/etcd"
  local etcd_url="http://127.0.0.1:${etcd_port}" peer_url="http://127.0.0.1:${etcd_peer_port}"
  local etcd_extra=()
  # Tests need no durability; skip fsync when this etcd supports it (3.5+;
  # Debian 12 ships 3.4).
  if etcd --help 2>&1 | grep -q -- '--unsafe-no-fsync'; then
    etcd_extra+=(--unsafe-no-fsync)
  fi
  start etcd etcd \
    --name=ark-local \
    --data-dir="${DIR}/etcd" \
    --listen-client-urls="${etcd_url}" \
    --advertise-client-urls="${etcd_url}" \
    --listen-peer-urls="${peer_url}" \
    --initial-advertise-peer-urls="${peer_url}" \
    --initial-cluster="ark-local=${peer_url}" \
    --initial-cluster-state=new \
    --logger=zap \
    --log-level=warn \
    "${etcd_extra[@]}"
  wait_for etcd 30 curl -fsS --max-time 2 "${etcd_url}/health"

  start kube-apiserver "${BIN}/kube-apiserver" \
    --etcd-servers="${etcd_url}" \
    --bind-address=127.0.0.1 \
    --advertise-address=127.0.0.1 \
    --endpoint-reconciler-type=none \
    --secure-port="${api_port}" \
    --tls-cert-file="${DIR}/pki/apiserver.crt" \
    --tls-private-key-file="${DIR}/pki/apiserver.key" \
    --client-ca-file="${DIR}/pki/ca.crt" \
    --token-auth-file="${DIR}/pki/tokens.csv" \
    --authorization-mode=RBAC \
    --service-account-key-file="${DIR}/pki/sa.pub" \
    --service-account-signing-key-file="${DIR}/pki/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --api-audiences=https://kubernetes.default.svc.cluster.local \
    --service-cluster-ip-range=10.0.0.0/24 \
    --allow-privileged=true \
    --profiling="${ARK_CLUSTER_PROFILING:-false}" \
    --v=1
  wait_for kube-apiserver 120 apiserver_ready
  write_kubeconfig "${api_port}"

  start kube-controller-manager "${BIN}/kube-controller-manager" \
    --kubeconfig="${DIR}/kubeconfig" \
    --bind-address=127.0.0.1 \
    --secure-port="${kcm_port}" \
    --cert-dir="${DIR}/pki/kcm" \
    --leader-elect=false \
    --controllers=namespace-controller,garbage-collector-controller,deployment-controller,replicaset-controller,serviceaccount-controller,serviceaccount-token-controller,resourcequota-controller,root-ca-certificate-publisher-controller,clusterrole-aggregation-controller \
    --service-account-private-key-file="${DIR}/pki/sa.key" \
    --root-ca-file="${DIR}/pki/ca.crt" \
    --profiling=false \
    --v=1
  wait_for kube-controller-manager 60 \
    curl -fsSk --max-time 2 "https://127.0.0.1:${kcm_port}/healthz"
  flock -u 8
  exec 8>&-

  if [[ -n ${ARK_LOCAL_CLUSTER_OWNER_PID:-} ]]; then
    start_watcher "${ARK_LOCAL_CLUSTER_OWNER_PID}"
  fi
  trap - EXIT
  log "up in $((SECONDS - start_time))s: apiserver https://127.0.0.1:${api_port}, state ${DIR}"
  print_env
}

# start_watcher OWNER_PID: a detached process runs `down` when OWNER_PID exits,
# so a test binary that dies without cleaning up leaves no process behind.
start_watcher() {
  local owner=$1
  mkdir -p "${LOGS}"
  # shellcheck disable=SC2016 # expanded by the watcher's shell
  ARK_LOCAL_CLUSTER_DIR="${DIR}" setsid bash -c '
    owner=$1 script=$2 dir=$3
    while kill -0 "${owner}" 2>/dev/null; do sleep 1; done
    exec bash "${script}" down --from-watcher
  ' ark-local-cluster-watcher "${owner}" "${REPO_ROOT}/hack/local-cluster.sh" "${DIR}" \
    >>"${LOGS}/watcher.log" 2>&1 </dev/null &
  local pid=$!
  disown "${pid}"
  echo "${pid}" > "$(pid_file watcher)"
  log "watching pid ${owner} (watcher pid ${pid})"
}

# down_processes stops the components in reverse start order. etcd goes
# last, and is killed outright: nothing uses it any more and its data is
# thrown away.
down_processes() {
  stop kube-controller-manager
  stop kube-apiserver
  stop etcd KILL
}

cmd_down() {
  local from_watcher=${1:-}
  if [[ ${from_watcher} != --from-watcher ]]; then
    stop watcher
  fi
  down_processes
  rm -f "$(pid_file watcher)"
  [[ -d ${DIR} ]] || return 0
  local keep=()
  [[ ${ARK_LOCAL_CLUSTER_KEEP_LOGS:-0} == 1 ]] && keep=(-not -name logs)
  find "${DIR}" -mindepth 1 -maxdepth 1 "${keep[@]}" -exec rm -rf {} +
  [[ ${#keep[@]} -gt 0 ]] || rmdir "${DIR}" 2>/dev/null || true
  log "down (${DIR})"
}

cmd_status() {
  local c pid rc=0
  for c in "${COMPONENTS[@]}" watcher; do
    if pid=$(component_pid "${c}"); then
      printf '%-24s running (pid %s)\n' "${c}" "${pid}"
    else
      printf '%-24s stopped\n' "${c}"
      [[ ${c} == watcher ]] || rc=1
    fi
  done
  if [[ -f ${DIR}/apiserver.port ]] && apiserver_ready >/dev/null 2>&1; then
    printf '%-24s ready at https://127.0.0.1:%s\n' "apiserver /readyz" "$(cat "${DIR}/apiserver.port")"
  else
    printf '%-24s not ready\n' "apiserver /readyz"
    rc=1
  fi
  return "${rc}"
}

# restart_apiserver: stops kube-apiserver (SIGTERM) and starts it again with
# the same command line (same port, same etcd), then waits until it is ready:
# a fault for tests (every watch breaks, requests fail meanwhile).
cmd_restart_apiserver() {
  local pid args=()
  pid=$(component_pid kube-apiserver) || die "kube-apiserver is not running"
  mapfile -d '' args < "/proc/${pid}/cmdline"
  [[ ${#args[@]} -gt 0 ]] || die "cannot read the command line of kube-apiserver (pid ${pid})"
  stop kube-apiserver
  start kube-apiserver "${args[@]}"
  wait_for kube-apiserver 120 apiserver_ready
}

case "${1:-}" in
  up) cmd_up ;;
  restart-apiserver) cmd_restart_apiserver ;;
  down) cmd_down "${2:-}" ;;
  env) print_env ;;
  status) cmd_status ;;
  build)
    ensure_prerequisites
    kube::tools::ensure "${REPO_ROOT}"
    ;;
  *)
    echo "usage: $0 up|down|env|status|build|restart-apiserver" >&2
    exit 2
    ;;
esac
