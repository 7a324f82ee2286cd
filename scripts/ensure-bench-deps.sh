#!/usr/bin/env bash
# Installs the Debian packages the benchmarks need (wrk as the one load generator, nginx as the
# reverse-proxy baseline), only those that are missing. Idempotent: a second run does nothing.
set -euo pipefail
declare -A want=(
  [wrk]=wrk
  [nginx]=nginx
)
missing=()
for cmd in "${!want[@]}"; do
  # nginx lives in /usr/sbin, which is not on every PATH.
  command -v "$cmd" >/dev/null 2>&1 || [[ -x /usr/sbin/$cmd ]] || missing+=("${want[$cmd]}")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "ensure-bench-deps: missing ${missing[*]} and not root; install them with apt-get" >&2
    exit 1
  fi
  echo "ensure-bench-deps: installing ${missing[*]}" >&2
  apt-get update -qq
  # policy-rc.d 101 keeps Debian's postinst from starting a system nginx on port 80: the benchmark
  # starts its own, on 127.0.0.1 only, with a config in a temporary directory.
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    created_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if ((created_policy)); then rm -f "$policy"; fi
fi
