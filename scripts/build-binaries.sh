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
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl)
}

build_etcd() {
  (cd "$ROOT/tools/etcd-bin" && go build -trimpath -ldflags "-s -w" -o "$1/etcd" go.etcd.io/etcd/server/v3)
}

build_helm() {
  (cd "$ROOT/tools/helm-bin" && go build -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" -o "$1/helm" helm.sh/helm/v4/cmd/helm)
}

build_into "$CACHE/etcd-$ETCD_VERSION" build_etcd
build_into "$CACHE/helm-$HELM_VERSION" build_helm
build_into "$CACHE/k8s-$K8S_VERSION" build_k8s

for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  ln -sfn "$CACHE/k8s-$K8S_VERSION/$b" "$BIN/$b"
done
ln -sfn "$CACHE/etcd-$ETCD_VERSION/etcd" "$BIN/etcd"
ln -sfn "$CACHE/helm-$HELM_VERSION/helm" "$BIN/helm"
