// Warms Node's compile cache (NODE_COMPILE_CACHE) for every bundle in a folder, each loaded under
// the V8 flags it will run with. Node keeps one cache per hash of the V8 flags that change code
// generation, so a cache warmed with plain `node` is never read by a queue-proxy started with
// QUEUE_PROXY_NODE_FLAGS (`--no-maglev-destroy-on-background` is one of those): it compiled from
// source at every start, ~35 ms slower. The Dockerfile runs this at build time; bench/sidecar.ts
// warms its own cache with the same function.
//
// Usage: NODE_COMPILE_CACHE=<dir> node scripts/warm-compile-cache.ts [bundle dir]   (default dist/)

import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { QUEUE_PROXY_NODE_FLAGS } from '../src/api/queue-proxy.ts';
import { componentBundles } from './bundle.ts';

/** The V8 flags each bundle runs with: the queue-proxy's are set by the controller. */
function nodeFlagsOf(bundle: string): readonly string[] {
  return bundle === componentBundles.queue ? QUEUE_PROXY_NODE_FLAGS : [];
}

export function warmCompileCache(bundleDir: string, cacheDir: string): void {
  for (const bundle of Object.values(componentBundles)) {
    const file = path.join(path.resolve(bundleDir), `${bundle}.cjs`);
    execFileSync(process.execPath, [...nodeFlagsOf(bundle), '-e', `require(${JSON.stringify(file)})`], {
      env: { ...process.env, NODE_COMPILE_CACHE: cacheDir },
      stdio: 'inherit',
    });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const cacheDir = process.env.NODE_COMPILE_CACHE;
  if (cacheDir === undefined || cacheDir === '') {
    process.stderr.write('warm-compile-cache: NODE_COMPILE_CACHE is not set: it names the cache to warm\n');
    process.exit(2);
  }
  warmCompileCache(process.argv[2] ?? 'dist', cacheDir);
}
