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
  "$(dirname "$0")/apt-install.sh" ensure-system-deps "${missing[@]}"
fi
if ! command -v go >/dev/null 2>&1; then
  echo "ensure-system-deps: Go >= 1.26 is needed to build the cluster binaries (not a Debian package here)" >&2
  exit 1
fi
