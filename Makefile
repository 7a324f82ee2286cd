# Stable entry points: make run, make test, make bench, make cluster-up, make cluster-down.
# Each installs what it needs (Debian packages, npm packages, the upstream binaries) and skips
# what is already there.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/.zeroscale/bin:$(PATH)
export KUBECONFIG := $(CURDIR)/.zeroscale/kubeconfig
NODE := $(CURDIR)/node_modules/node/bin/node
STAMP := node_modules/.zeroscale-installed

.PHONY: deps system-deps binaries cluster-up cluster-down cluster-status test test-unit test-cluster lint typecheck run bench crds

deps: system-deps $(STAMP) binaries

system-deps:
	@scripts/ensure-system-deps.sh

# npm ci only when the lockfile changed since the last install.
$(STAMP): package-lock.json package.json
	npm ci --no-audit --no-fund
	@touch $(STAMP)

binaries:
	@scripts/build-binaries.sh

cluster-up: deps
	@$(NODE) test/env/cluster.ts up

cluster-down: $(STAMP)
	@$(NODE) test/env/cluster.ts down

cluster-status: $(STAMP)
	@$(NODE) test/env/cluster.ts status

lint: $(STAMP)
	biome check .

typecheck: $(STAMP)
	tsc --noEmit -p .

test-unit: $(STAMP)
	vitest run --project unit --project component

test-cluster: cluster-up
	vitest run --project cluster

test: deps lint typecheck
	vitest run --project unit --project component
	@$(NODE) test/env/cluster.ts up
	vitest run --project cluster

run: cluster-up
	@$(NODE) test/env/run.ts

bench: cluster-up
	@$(NODE) bench/run.ts
