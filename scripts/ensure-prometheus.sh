#!/usr/bin/env bash
# Installs promtool (Debian's `prometheus` package) when it is missing, for the alert-rule tests
# (`promtool check rules`, `promtool test rules`) and the local Prometheus of the observability
# tests. Idempotent: when promtool is on PATH (or in /usr/bin) it does nothing.
set -euo pipefail
if command -v promtool >/dev/null 2>&1 || [[ -x /usr/bin/promtool ]]; then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "ensure-prometheus: promtool is missing and not root; install Debian's prometheus package with apt-get" >&2
  exit 1
fi
echo "ensure-prometheus: installing prometheus (for promtool)" >&2
apt-get update -qq
# policy-rc.d 101 keeps Debian's postinst from starting a system Prometheus on :9090 (which the
# components' metrics port would collide with in the local node); tests start their own when they
# need one. An existing policy is left as it is.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  created_policy=1
  trap 'rm -f "$policy"' EXIT
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
if ((created_policy)); then
  rm -f "$policy"
  trap - EXIT
fi
command -v promtool >/dev/null 2>&1 || [[ -x /usr/bin/promtool ]] || {
  echo "ensure-prometheus: prometheus installed but promtool not found" >&2
  exit 1
}
