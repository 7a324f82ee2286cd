# Stable entry points: make run, make test, make bench, make cluster-up, make cluster-down.
# Each installs what it needs (Debian packages, npm packages, the upstream binaries) and skips
# what is already there.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/.zeroscale/bin:$(PATH)
export KUBECONFIG := $(CURDIR)/.zeroscale/kubeconfig
NODE := $(CURDIR)/node_modules/node/bin/node
STAMP := node_modules/.zeroscale-installed

.PHONY: deps system-deps test-deps binaries cluster-up cluster-down cluster-status test test-unit test-cluster lint typecheck run bench crds kind-up kind-e2e

deps: system-deps test-deps $(STAMP) binaries

system-deps:
	@scripts/ensure-system-deps.sh

# What the unit tests run besides node: promtool (the alert rules) and helm (chart rendering).
# The tests install nothing themselves and fail, naming the tool, when one is missing.
test-deps:
	@scripts/ensure-prometheus.sh
	@scripts/build-binaries.sh helm

# npm ci only when the lockfile changed since the last install.
$(STAMP): package-lock.json package.json
	npm ci --no-audit --no-fund
	@touch $(STAMP)

binaries:
	@scripts/build-binaries.sh

cluster-up: deps
	@$(NODE) dev/cluster/cluster.ts up

cluster-down: $(STAMP)
	@$(NODE) dev/cluster/cluster.ts down

cluster-status: $(STAMP)
	@$(NODE) dev/cluster/cluster.ts status

lint: $(STAMP)
	biome check .

typecheck: $(STAMP)
	tsc --noEmit -p .

test-unit: $(STAMP) test-deps
	vitest run --project unit --project component

test-cluster: cluster-up
	vitest run --project cluster

test: deps lint typecheck
	vitest run --project unit --project component
	@$(NODE) dev/cluster/cluster.ts up
	vitest run --project cluster

run: cluster-up
	@$(NODE) dev/run.ts

bench: cluster-up
	@scripts/ensure-bench-deps.sh
	@$(NODE) bench/run.ts $(BENCH_FLAGS)

crds: $(STAMP)
	@$(NODE) src/api/generate-crd.ts
	@cp crds/*.yaml deploy/helm/zeroscale/crds/

# For users with Docker (not run in this repository's CI, which has no Docker engine): a kind
# cluster with the image built and loaded, the chart installed, and the end-to-end tests run
# against it through 127.0.0.1:8080.
KIND_IMAGE := ghcr.io/zeroscale/zeroscale:$(shell $(NODE) -p "require('./package.json').version" 2>/dev/null || echo 0.1.0)
kind-up: $(STAMP) binaries
	kind get clusters | grep -qx zeroscale || kind create cluster --config kind-config.yaml
	docker build -t $(KIND_IMAGE) .
	kind load docker-image $(KIND_IMAGE) --name zeroscale
	helm upgrade --install zeroscale deploy/helm/zeroscale --kube-context kind-zeroscale \
	  --namespace zeroscale-system --create-namespace -f deploy/kind-values.yaml --wait --timeout 5m

kind-e2e: kind-up test-deps
	ZEROSCALE_TARGET=kind vitest run --project cluster test/e2e
