#!/usr/bin/env bash
# Installs the Debian packages the local cluster and the tests need, only those that are missing.
set -euo pipefail
declare -A want=(
  [ip]=iproute2
  [openssl]=openssl
  [nsenter]=util-linux
  [mount]=mount
  [curl]=curl
)
missing=()
for cmd in "${!want[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${want[$cmd]}")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "ensure-system-deps: missing ${missing[*]} and not root; install them with apt-get" >&2
    exit 1
  fi
  echo "ensure-system-deps: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! command -v go >/dev/null 2>&1; then
  echo "ensure-system-deps: Go >= 1.26 is needed to build the cluster binaries (not a Debian package here)" >&2
  exit 1
fi
