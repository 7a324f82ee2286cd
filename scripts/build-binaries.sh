#!/usr/bin/env bash
# Builds the upstream binaries of the local test cluster from the Go module proxy, one wrapper
# module per tool (tools/*-bin), cached outside the repository by version, linked into
# .zeroscale/bin/. Idempotent: a version already in the cache is not built again.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
source scripts/versions.sh

CACHE=${ZEROSCALE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/zeroscale}
BIN=$ROOT/.zeroscale/bin
mkdir -p "$CACHE" "$BIN"
export GOWORK=off CGO_ENABLED=0 GOFLAGS=-buildvcs=false

if ! command -v go >/dev/null; then
  echo "build-binaries: 'go' is not on PATH; Go >= 1.26 is needed to build the cluster binaries" >&2
  exit 1
fi

# build_into DIR CMD...: runs CMD to fill DIR only when DIR/.complete is missing, so an interrupted
# build never leaves a half-filled cache entry behind.
build_into() {
  local dir=$1; shift
  if [[ -f $dir/.complete ]]; then return 0; fi
  mkdir -p "$(dirname "$dir")"
  local tmp="$dir.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  local started=$SECONDS
  echo "build-binaries: building $(basename "$dir") (first time only; cached in $CACHE)" >&2
  "$@" "$tmp"
  echo "$((SECONDS - started))" > "$tmp/.build-seconds"
  touch "$tmp/.complete"
  rm -rf "$dir"; mv "$tmp" "$dir"
  echo "build-binaries: built $(basename "$dir") in $((SECONDS - started)) s" >&2
}

build_k8s() {
  local minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  local ldf="-s -w
    -X k8s.io/component-base/version.gitVersion=$K8S_VERSION
    -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor
    -X k8s.io/component-base/version.gitCommit=0000000000000000000000000000000000000000
    -X k8s.io/component-base/version.gitTreeState=clean
    -X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z
    -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION
    -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
  (cd "$ROOT/tools/k8s-bin" && go build -trimpath -tags selinux,notest,grpcnotrace -ldflags "$ldf" \
    -o "$1/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl k8s.io/kubernetes/cmd/kubelet)
}

# containerd without cgo: the btrfs, zfs and devmapper snapshotters are the only parts that need it
# (overlayfs and native are what the node uses); the shim also without grpc, as upstream builds it.
build_containerd() {
  local ldf="-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION
    -X github.com/containerd/containerd/v2/version.Revision=0000000000000000000000000000000000000000"
  local tags="no_btrfs no_zfs no_devmapper urfave_cli_no_docs"
  (cd "$ROOT/tools/containerd-bin" &&
    go build -trimpath -tags "$tags" -ldflags "$ldf" -o "$1/" \
      github.com/containerd/containerd/v2/cmd/containerd github.com/containerd/containerd/v2/cmd/ctr &&
    go build -trimpath -tags "$tags no_grpc" -ldflags "$ldf" -o "$1/" \
      github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2)
}

build_cni() {
  (cd "$ROOT/tools/cni-bin" && go build -trimpath -ldflags "-s -w" -o "$1/" \
    github.com/containernetworking/plugins/plugins/main/bridge \
    github.com/containernetworking/plugins/plugins/main/loopback \
    github.com/containernetworking/plugins/plugins/ipam/host-local \
    github.com/containernetworking/plugins/plugins/meta/portmap)
}

build_crictl() {
  (cd "$ROOT/tools/crictl-bin" && go build -trimpath \
    -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION" -o "$1/crictl" \
    sigs.k8s.io/cri-tools/cmd/crictl)
}

# The pause binary from the kubernetes module's own source, static, as build/pause/Makefile does.
build_pause() {
  local src
  src=$(cd "$ROOT/tools/k8s-bin" && go list -m -f '{{.Dir}}' k8s.io/kubernetes)/build/pause/linux/pause.c
  gcc -Os -Wall -Werror -static -DVERSION="v$PAUSE_VERSION" -o "$1/pause" "$src"
  strip "$1/pause"
}

build_etcd() {
  (cd "$ROOT/tools/etcd-bin" && go build -trimpath -ldflags "-s -w" -o "$1/etcd" go.etcd.io/etcd/server/v3)
}

build_helm() {
  (cd "$ROOT/tools/helm-bin" && go build -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" -o "$1/helm" helm.sh/helm/v4/cmd/helm)
}

# Knative Serving's queue-proxy, which only the benchmarks run (as a peer to compare against).
build_knative_queue() {
  (cd "$ROOT/tools/knative-queue-bin" && go build -trimpath -ldflags "-s -w" -o "$1/knative-queue" \
    knative.dev/serving/cmd/queue)
}

# The Gateway API's standard CRDs, copied out of its module (no build: the YAML is in the module).
fetch_gateway_api() {
  local dir
  dir=$(cd "$1" && go mod download -json "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  cp "$dir"/config/crd/standard/*.yaml "$1/"
}

# `build-binaries.sh knative-queue`: only the queue-proxy, for the benchmarks (ensure-bench-deps.sh).
if [[ ${1:-} == knative-queue ]]; then
  build_into "$CACHE/knative-queue-$KNATIVE_SERVING_VERSION" build_knative_queue
  ln -sfn "$CACHE/knative-queue-$KNATIVE_SERVING_VERSION/knative-queue" "$BIN/knative-queue"
  exit 0
fi

# `build-binaries.sh helm`: only helm, which the unit tests need (make test-deps).
build_into "$CACHE/helm-$HELM_VERSION" build_helm
ln -sfn "$CACHE/helm-$HELM_VERSION/helm" "$BIN/helm"
if [[ ${1:-} == helm ]]; then exit 0; fi

build_into "$CACHE/etcd-$ETCD_VERSION" build_etcd
# The k8s entry gained kubelet: an entry built before that lacks it and is built again.
[[ -x $CACHE/k8s-$K8S_VERSION/kubelet ]] || rm -f "$CACHE/k8s-$K8S_VERSION/.complete"
build_into "$CACHE/k8s-$K8S_VERSION" build_k8s
build_into "$CACHE/containerd-$CONTAINERD_VERSION" build_containerd
build_into "$CACHE/cni-plugins-$CNI_PLUGINS_VERSION" build_cni
build_into "$CACHE/crictl-$CRICTL_VERSION" build_crictl
build_into "$CACHE/pause-$PAUSE_VERSION" build_pause
build_into "$CACHE/gateway-api-$GATEWAY_API_VERSION" fetch_gateway_api

for b in kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet; do
  ln -sfn "$CACHE/k8s-$K8S_VERSION/$b" "$BIN/$b"
done
ln -sfn "$CACHE/etcd-$ETCD_VERSION/etcd" "$BIN/etcd"
ln -sfn "$CACHE/crictl-$CRICTL_VERSION/crictl" "$BIN/crictl"
for b in containerd ctr containerd-shim-runc-v2; do
  ln -sfn "$CACHE/containerd-$CONTAINERD_VERSION/$b" "$BIN/$b"
done
# CNI plugins are found by directory (containerd's bin_dirs), not on PATH.
ln -sfn "$CACHE/cni-plugins-$CNI_PLUGINS_VERSION" "$ROOT/.zeroscale/cni-bin"
ln -sfn "$CACHE/pause-$PAUSE_VERSION/pause" "$ROOT/.zeroscale/pause"
ln -sfn "$CACHE/gateway-api-$GATEWAY_API_VERSION" "$ROOT/.zeroscale/gateway-api-crds"
