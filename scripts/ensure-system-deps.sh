#!/usr/bin/env bash
# Installs the Debian packages the local cluster and the tests need, only those that are missing.
set -euo pipefail
declare -A want=(
  [ip]=iproute2
  [openssl]=openssl
  [nsenter]=util-linux
  [mount]=mount
  [curl]=curl
  [findmnt]=util-linux
  [pgrep]=procps
  [tar]=tar
  # The node: Debian's runc under containerd; nft for the one rule that keeps ClusterIP traffic
  # on the machine; buildah builds the images from the Dockerfile; gcc builds the pause binary.
  [runc]=runc
  [nft]=nftables
  [buildah]=buildah
  [gcc]=gcc
)
missing=()
for cmd in "${!want[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || [[ -x /usr/sbin/$cmd ]] || missing+=("${want[$cmd]}")
done
# pause is linked statically: it needs libc.a, which gcc only recommends.
[[ -e /usr/lib/x86_64-linux-gnu/libc.a ]] || missing+=(libc6-dev)
# Debian's containerd 1.6 must not be there: its old shim on PATH breaks containerd 2.
if command -v containerd-shim-runc-v2 >/dev/null 2>&1 && [[ $(command -v containerd-shim-runc-v2) != */.zeroscale/bin/* ]]; then
  echo "ensure-system-deps: $(command -v containerd-shim-runc-v2) is on PATH (Debian's containerd?); remove it: the node runs containerd 2 from the cache" >&2
  exit 1
fi
if ((${#missing[@]})); then
  "$(dirname "$0")/apt-install.sh" ensure-system-deps "${missing[@]}"
fi
if ! command -v go >/dev/null 2>&1; then
  echo "ensure-system-deps: Go >= 1.26 is needed to build the cluster binaries (not a Debian package here)" >&2
  exit 1
fi
