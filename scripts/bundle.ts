// Bundles zeroscale for the image: one CommonJS file per component in dist/ and the CLI that picks
// one (`node dist/cli.cjs queue-proxy`). Why: a queue-proxy starting from the TypeScript sources
// compiles ~40 files through the ESM loader, and the ESM loader alone costs a Node process ~6 MB
// of anonymous memory and tens of milliseconds (bench/results/sidecar.md); one CommonJS file per
// component loads in one read and one compile. The OpenTelemetry SDK stays outside (loaded from
// node_modules only when tracing is on), so no component pays for parsing it.
//
// Usage: node scripts/bundle.ts [outdir]   (default dist/)

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.resolve(process.argv[2] ?? path.join(root, 'dist'));

/** src/<folder>/main.ts of each component, and the bundle it becomes. */
export const componentBundles = {
  controller: 'controller',
  autoscaler: 'autoscaler',
  activator: 'activator',
  queue: 'queue-proxy',
} as const;

// Loaded only when tracing is on (telemetry/tracing.ts): kept out of every bundle.
const external = ['@opentelemetry/sdk-node', '@opentelemetry/api'];

// In the CLI, `import('./queue/main.ts')` becomes a require() of the queue-proxy's own bundle
// (a require, not an import(), which would start the ESM loader), so running one component never
// loads another's code.
const componentsAsSiblings: Plugin = {
  name: 'components-as-siblings',
  setup(b) {
    b.onResolve({ filter: /^\.\/[a-z]+\/main\.ts$/ }, (args) => {
      const folder = args.path.split('/')[1] as keyof typeof componentBundles;
      const bundle = componentBundles[folder];
      return bundle === undefined ? undefined : { path: bundle, namespace: 'component' };
    });
    b.onLoad({ filter: /.*/, namespace: 'component' }, (args) => ({
      contents: `module.exports = require('./${args.path}.cjs');`,
      loader: 'js',
    }));
  },
};

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node24',
  external,
  logLevel: 'warning',
  legalComments: 'none',
} as const;

/**
 * esbuild keeps comments, and escapes non-ASCII only in code (charset ascii, its default): one
 * "→" left in a comment makes V8 hold the whole source as a two-byte string, twice its size, for
 * the life of the process (~0.3 MB of every queue-proxy). What is left outside ASCII is in
 * comments, so it is replaced there.
 */
function asciiOnly(file: string): void {
  const text = fs.readFileSync(file, 'utf8');
  const ascii = text.replace(/[^\x00-\x7f]/g, '?');
  if (ascii !== text) fs.writeFileSync(file, ascii);
}

export async function bundle(dir: string): Promise<void> {
  await build({
    ...common,
    entryPoints: [path.join(root, 'src/cli.ts')],
    outfile: path.join(dir, 'cli.cjs'),
    plugins: [componentsAsSiblings],
    external: [...external, './*.cjs'],
  });
  await Promise.all(
    Object.entries(componentBundles).map(([folder, name]) =>
      build({
        ...common,
        entryPoints: [path.join(root, 'src', folder, 'main.ts')],
        outfile: path.join(dir, `${name}.cjs`),
      }).then(() => asciiOnly(path.join(dir, `${name}.cjs`))),
    ),
  );
  asciiOnly(path.join(dir, 'cli.cjs'));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await bundle(outdir);
