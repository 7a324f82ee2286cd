# The one image of zeroscale: controller, autoscaler, activator and queue-proxy are subcommands of
# one CLI, `node /app/dist/cli.cjs <component>`. The local cluster builds this same file with
# buildah (dev/cluster/images.ts); the RUN steps are in exec form, so they need no shell in the
# base image.

# --- runtime dependencies: what the bundles leave outside (the OpenTelemetry SDK, loaded only with
# tracing on), installed with the lockfile --------------------------------------------------------
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN ["npm", "ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--no-update-notifier"]

# --- bundle: one CommonJS file per component (scripts/bundle.ts says why) ------------------------
FROM node:24-bookworm-slim AS bundle
WORKDIR /app
COPY package.json package-lock.json ./
# The dev dependencies bring the bundler; no install scripts (the `node` and `npm` devDependencies
# pin the toolchain for development; the image's own Node 24 runs the code).
RUN ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--no-update-notifier"]
COPY src ./src
COPY scripts/bundle.ts scripts/warm-compile-cache.ts ./scripts/
RUN ["node", "scripts/bundle.ts", "/app/dist"]
# Warm Node's compile cache at build time, each bundle under the V8 flags it runs with, so a
# queue-proxy starting for a cold start compiles nothing (the root filesystem is read-only at run
# time; the run stage has the same Node and paths). As the run stage's user: Node keeps one cache
# per user id, and a cache written by root is never read by 65532.
RUN ["node", "-e", "require('fs').mkdirSync('/app/.node-compile-cache'); require('fs').chownSync('/app/.node-compile-cache', 65532, 65532);"]
ENV NODE_COMPILE_CACHE=/app/.node-compile-cache
USER 65532:65532
RUN ["node", "scripts/warm-compile-cache.ts", "/app/dist"]

# --- run: non-root, no shell tools needed -----------------------------------------------------
FROM node:24-bookworm-slim
ENV NODE_ENV=production NODE_COMPILE_CACHE=/app/.node-compile-cache
WORKDIR /app
COPY --from=deps --chown=65532:65532 /app/node_modules ./node_modules
COPY --from=bundle --chown=65532:65532 /app/dist ./dist
COPY --from=bundle --chown=65532:65532 /app/.node-compile-cache ./.node-compile-cache
COPY --chown=65532:65532 package.json ./
COPY --chown=65532:65532 crds ./crds
USER 65532:65532
ENTRYPOINT ["node", "/app/dist/cli.cjs"]
