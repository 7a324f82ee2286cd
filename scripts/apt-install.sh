#!/usr/bin/env bash
# Installs Debian packages for one of the ensure-*.sh scripts: as root, without recommends, and
# without letting a package's postinst start a system service (nginx on :80, Prometheus on :9090)
# — a temporary policy-rc.d answers 101 for the install; an existing policy is left as it is.
# Usage: scripts/apt-install.sh <who is asking> <package>...
set -euo pipefail
who=$1
shift
if [[ $(id -u) -ne 0 ]]; then
  echo "$who: missing $* and not root; install them with apt-get" >&2
  exit 1
fi
echo "$who: installing $*" >&2
apt-get update -qq
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  trap 'rm -f "$policy"' EXIT
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
