#!/usr/bin/env bash
# Installs promtool (Debian's `prometheus` package) when it is missing, for the alert-rule tests
# (`promtool check rules`, `promtool test rules`) and the local Prometheus of the observability
# tests. Idempotent: when promtool is on PATH (or in /usr/bin) it does nothing.
set -euo pipefail
if command -v promtool >/dev/null 2>&1 || [[ -x /usr/bin/promtool ]]; then
  exit 0
fi
"$(dirname "$0")/apt-install.sh" ensure-prometheus prometheus
command -v promtool >/dev/null 2>&1 || [[ -x /usr/bin/promtool ]] || {
  echo "ensure-prometheus: prometheus installed but promtool not found" >&2
  exit 1
}
