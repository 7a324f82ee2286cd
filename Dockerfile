# The one image of zeroscale: controller, autoscaler, activator and queue-proxy are subcommands.
# The local cluster builds this same file with buildah (dev/cluster/images.ts); the RUN steps are
# in exec form, so they need no shell in the base image.

# --- build: install production dependencies with the lockfile ---------------------------------
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The `node` and `npm` devDependencies pin the toolchain for development; the image's own Node 24
# runs the code.
RUN ["npm", "ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--no-update-notifier"]
COPY src ./src
COPY crds ./crds
# Warm Node's compile cache at build time, so a queue-proxy starting for a cold start loads its
# modules from it (the root filesystem is read-only at run time).
ENV NODE_COMPILE_CACHE=/app/.node-compile-cache
RUN ["node", "--input-type=module", "-e", "for (const m of ['queue','activator','autoscaler','controller']) await import('/app/src/' + m + '/main.ts');"]

# --- run: non-root, no shell tools needed -----------------------------------------------------
FROM node:24-bookworm-slim
ENV NODE_ENV=production NODE_COMPILE_CACHE=/app/.node-compile-cache
WORKDIR /app
COPY --from=build --chown=65532:65532 /app /app
USER 65532:65532
# Node 24 runs the TypeScript sources directly (type stripping); there is no build step.
ENTRYPOINT ["node", "/app/src/cli.ts"]
