#!/usr/bin/env bash
# The seed's quickstart, end to end, on this machine: a local control plane, a
# bucket that is a local directory, ark server out of cluster, the nginx example;
# then backup, disaster (delete the namespace), restore, and a check.
#
#   hack/quickstart.sh        run it (make quickstart); leaves everything running
#   hack/quickstart.sh down   stop the server and the control plane; the bucket is kept
#
# State lives in _output/quickstart/: cluster/ (control plane), bucket/ (backups),
# ark-server.kubeconfig (the ServiceAccount's token, valid 24 h), ark-server.log, ark-server.pid.
# A bucket is never deleted: `down` and a new run move it to _output/quickstart-buckets/<time>/
# (a new run needs an empty bucket, since its backup names would clash with the old ones).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE="${ROOT}/_output/quickstart"
export ARK_LOCAL_CLUSTER_DIR="${STATE}/cluster"
ARK="${ROOT}/_output/bin/ark"
BOLD=$'\e[1m'; RESET=$'\e[0m'
[[ -t 1 ]] || { BOLD=""; RESET=""; }

say() { echo "${BOLD}==> $*${RESET}"; }
# run prints a command the way the quickstart shows it, then runs it.
run() { echo "${BOLD}\$ $*${RESET}"; "$@"; }

stop_server() {
  local pid
  if [[ -f "${STATE}/ark-server.pid" ]]; then
    pid=$(cat "${STATE}/ark-server.pid")
    if kill -0 "${pid}" 2>/dev/null && tr '\0' ' ' <"/proc/${pid}/cmdline" | grep -q "ark server"; then
      kill -TERM "${pid}"
      for _ in $(seq 1 100); do kill -0 "${pid}" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "${pid}" 2>/dev/null || true
    fi
    rm -f "${STATE}/ark-server.pid"
  fi
}

down() {
  stop_server
  "${ROOT}/hack/local-cluster.sh" down >&2 || true
  if [[ -n "$(ls -A "${STATE}/bucket/ark" 2>/dev/null)" ]]; then
    local saved
    saved="${ROOT}/_output/quickstart-buckets/$(date -u +%Y%m%d%H%M%S)"
    mkdir -p "$(dirname "${saved}")"
    mv "${STATE}/bucket" "${saved}"
    echo "kept the quickstart's bucket in ${saved}" >&2
  fi
  rm -rf "${STATE}"
}

free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 12000))
    if ! ss -Htln "sport = :${p}" 2>/dev/null | grep -q .; then echo "${p}"; return; fi
  done
  echo "no free port" >&2; return 1
}

if [[ "${1:-}" == "down" ]]; then
  down
  echo "quickstart torn down"
  exit 0
fi

start=${SECONDS}
say "Starting fresh: stopping any earlier quickstart (its bucket is kept in _output/quickstart-buckets/)"
down 2>&1 | grep "kept the quickstart's bucket" || true
mkdir -p "${STATE}/bucket/ark"

say "Building ark"
make -C "${ROOT}" --no-print-directory build >/dev/null

say "Starting a local control plane (etcd, kube-apiserver, kube-controller-manager on 127.0.0.1)"
eval "$("${ROOT}/hack/local-cluster.sh" up)"
export KUBECONFIG

say "Installing ark's CRDs, namespace and RBAC"
run kubectl apply -f "${ROOT}/examples/common/00-prereqs.yaml" >/dev/null
kubectl wait --for condition=established --timeout=60s crd -l '!no-such-label' >/dev/null
say "Configuring a local-directory bucket (${STATE}/bucket/ark)"
sed "s#root: /var/lib/ark#root: ${STATE}/bucket#" "${ROOT}/examples/common/config/filesystem.yaml" | kubectl apply -f - >/dev/null

# The server runs as its ServiceAccount, with the RBAC of 00-prereqs.yaml, as it does in a pod:
# a kubeconfig with a token of heptio-ark/ark (TokenRequest) and nothing else. This shell keeps
# the admin kubeconfig for kubectl and the ark CLI.
say "Writing a kubeconfig for the ServiceAccount heptio-ark/ark (${STATE}/ark-server.kubeconfig)"
token=$(kubectl -n heptio-ark create token ark --duration=24h)
server=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')
ca=$(kubectl config view --minify --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
(
  umask 077
  cat >"${STATE}/ark-server.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: ${server}
    certificate-authority-data: ${ca}
users:
- name: ark
  user:
    token: ${token}
contexts:
- name: ark
  context: {cluster: local, user: ark, namespace: heptio-ark}
current-context: ark
EOF
)

port=$(free_port)
say "Starting ark server out of cluster as the ServiceAccount (log: ${STATE}/ark-server.log)"
echo "${BOLD}\$ ${ARK} server --kubeconfig ${STATE}/ark-server.kubeconfig --metrics-address 127.0.0.1:${port}${RESET}"
nohup "${ARK}" server --kubeconfig "${STATE}/ark-server.kubeconfig" --metrics-address "127.0.0.1:${port}" \
  >"${STATE}/ark-server.log" 2>&1 &
echo $! >"${STATE}/ark-server.pid"
for _ in $(seq 1 100); do
  grep -q "running controllers" "${STATE}/ark-server.log" && break
  kill -0 "$(cat "${STATE}/ark-server.pid")" 2>/dev/null || { cat "${STATE}/ark-server.log"; exit 1; }
  sleep 0.2
done

say "Deploying the example nginx app"
run kubectl apply -f "${ROOT}/examples/nginx-app/base.yaml"
run kubectl get deployments --namespace=nginx-example
before_deploy=$(kubectl -n nginx-example get deployment nginx-deployment -o jsonpath='{.spec}')
before_svc=$(kubectl -n nginx-example get service my-nginx -o jsonpath='{.spec.ports[0].port} {.spec.selector}')

say "Backing up everything labelled app=nginx"
run "${ARK}" backup create nginx-backup --selector app=nginx --wait
run "${ARK}" backup get

say "Disaster: deleting the namespace"
run kubectl delete namespace nginx-example --wait=true --timeout=120s
run kubectl get deployments --namespace=nginx-example
run kubectl get services --namespace=nginx-example

say "Restoring"
run "${ARK}" restore create nginx-backup --wait
run "${ARK}" restore get

say "Checking that the deployment and the service are back"
after_deploy=$(kubectl -n nginx-example get deployment nginx-deployment -o jsonpath='{.spec}')
after_svc=$(kubectl -n nginx-example get service my-nginx -o jsonpath='{.spec.ports[0].port} {.spec.selector}')
run kubectl get deployments,services --namespace=nginx-example --show-labels
if [[ "${before_deploy}" != "${after_deploy}" || "${before_svc}" != "${after_svc}" ]]; then
  echo "the restored objects differ from the originals:" >&2
  diff <(echo "${before_deploy}"; echo "${before_svc}") <(echo "${after_deploy}"; echo "${after_svc}") >&2 || true
  exit 1
fi
warnings=$(kubectl -n heptio-ark get restores -o jsonpath='{.items[0].status.warnings}')
errors=$(kubectl -n heptio-ark get restores -o jsonpath='{.items[0].status.errors}')

cat <<EOM

${BOLD}Quickstart done in $((SECONDS - start))s: the nginx deployment and service are restored, as they were
(warnings: ${warnings:-0}, errors: ${errors:-0}).${RESET}

The control plane and ark server are still running. To play with them:
  export KUBECONFIG=${KUBECONFIG}
  export PATH=${ROOT}/_output/bin:\$PATH
  ark backup get
  ark backup describe nginx-backup
  ark backup logs nginx-backup
  ark restore get
The backup's files are in ${STATE}/bucket/ark/nginx-backup/.
The server stops when the Config changes (in a cluster, its Deployment starts it again). Here,
start it again with:
  nohup ${ARK} server --kubeconfig ${STATE}/ark-server.kubeconfig --metrics-address 127.0.0.1:${port} >>${STATE}/ark-server.log 2>&1 &
Tear down with: make quickstart-down (the bucket is kept, moved to _output/quickstart-buckets/)
EOM
