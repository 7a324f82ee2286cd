#!/usr/bin/env bash
# Installs the Debian packages the benchmarks need (wrk as the HTTP/1.1 load generator, h2load
# from nghttp2-client as the HTTP/2 one, nginx as the reverse-proxy baseline), only those that are
# missing. Idempotent: a second run does nothing.
set -euo pipefail
declare -A want=(
  [wrk]=wrk
  [h2load]=nghttp2-client
  [nginx]=nginx
)
missing=()
for cmd in "${!want[@]}"; do
  # nginx lives in /usr/sbin, which is not on every PATH.
  command -v "$cmd" >/dev/null 2>&1 || [[ -x /usr/sbin/$cmd ]] || missing+=("${want[$cmd]}")
done
if ((${#missing[@]})); then
  "$(dirname "$0")/apt-install.sh" ensure-bench-deps "${missing[@]}"
fi
# Knative Serving's queue-proxy, a benchmark peer, built from the Go module proxy (cached by version).
"$(dirname "$0")/build-binaries.sh" knative-queue
