// The local cluster's images, made without a registry: a `node:24` base from the pinned Node binary
// (plus npm and the shared libraries it links), the pause image from the kubernetes module's own
// pause.c, the test apps (probe and gRPC) on that base, and the product image built by buildah
// from the repository's own Dockerfile. Each is keyed by the content it is made from, built only
// when that changed, and imported into containerd's `k8s.io` namespace under the name a manifest
// uses.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from './exec.ts';
import { binary, nodeBinary, paths, repoRoot } from './paths.ts';

export interface BuiltImage {
  /** The full name as containerd knows it, e.g. `docker.io/library/node:24`. */
  readonly name: string;
  /** The manifest digest (`sha256:…`), as containerd lists the image. */
  readonly digest: string;
  /** The image ID (its config's digest) as the build made it; kubelet reports it as `imageID`. */
  readonly id: string;
  readonly key: string;
  readonly buildSeconds: number;
}

/** The base's name as Kubernetes normalises `image: node:24`, and the Dockerfile's FROM. */
export const baseImage = 'docker.io/library/node:24';
const baseAliases = ['docker.io/library/node:24-bookworm-slim'];
export const pauseImage = 'registry.k8s.io/pause:3.10.2';
export const probeAppFile = path.join(repoRoot, 'dev/apps/probe-app.mjs');
/** The gRPC app's sources: bundled with @grpc/grpc-js into one file, as its image has no node_modules. */
export const grpcAppFiles = [
  path.join(repoRoot, 'dev/apps/grpc-app.ts'),
  path.join(repoRoot, 'dev/apps/grpc-echo.ts'),
  path.join(repoRoot, 'dev/apps/grpc-echo-server.ts'),
];
const productRepository = 'ghcr.io/zeroscale/zeroscale';

function say(msg: string): void {
  process.stderr.write(`images: ${msg}\n`);
}

function buildah(args: readonly string[], timeoutMs = 600_000) {
  return run(
    'buildah',
    ['--root', paths.buildahRoot, '--runroot', paths.buildahRunRoot, '--storage-driver', 'overlay', ...args],
    { timeoutMs },
  );
}

function hashFiles(files: readonly string[], extra = ''): string {
  const h = createHash('sha256');
  h.update(extra);
  for (const f of [...files].sort()) {
    h.update(path.relative(repoRoot, f));
    h.update('\0');
    h.update(fs.readFileSync(f));
    h.update('\0');
  }
  return h.digest('hex').slice(0, 16);
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listFiles(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

function recordFile(name: string): string {
  return path.join(paths.images, `${name.replaceAll(/[/:]/g, '_')}.json`);
}

function readRecord(name: string): BuiltImage | undefined {
  try {
    return JSON.parse(fs.readFileSync(recordFile(name), 'utf8')) as BuiltImage;
  } catch {
    return undefined;
  }
}

async function ctr(args: readonly string[], timeoutMs = 300_000) {
  return run(binary('ctr'), ['--address', paths.containerdSocket, '--namespace', 'k8s.io', ...args], {
    timeoutMs,
  });
}

/** The digest containerd holds for `name`, or undefined when it does not have it. */
async function containerdDigest(name: string): Promise<string | undefined> {
  const { stdout } = await ctr(['images', 'ls']);
  for (const line of stdout.split('\n').slice(1)) {
    const [ref, , digest] = line.split(/\s+/);
    if (ref === name) return digest;
  }
  return undefined;
}

async function buildahHasImage(name: string, key: string): Promise<boolean> {
  try {
    const { stdout } = await buildah([
      'inspect',
      '--type',
      'image',
      '--format',
      '{{index .ImageAnnotations "dev.zeroscale.key"}}',
      name,
    ]);
    return stdout.trim() === key;
  } catch {
    return false;
  }
}

/** Writes the image from buildah's store to an OCI archive and imports it into containerd. */
async function exportToContainerd(name: string, key: string, started: number): Promise<BuiltImage> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'zs-image-'));
  try {
    const archive = path.join(tmp, 'image.tar');
    const digestFile = path.join(tmp, 'digest');
    await buildah(['push', '--digestfile', digestFile, name, `oci-archive:${archive}:${name}`]);
    await ctr(['images', 'import', '--platform', 'linux/amd64', archive]);
    const digest = (await containerdDigest(name)) ?? fs.readFileSync(digestFile, 'utf8').trim();
    const { stdout: id } = await buildah([
      'inspect',
      '--type',
      'image',
      '--format',
      '{{.FromImageID}}',
      name,
    ]);
    const built: BuiltImage = {
      name,
      digest,
      id: `sha256:${id.trim()}`,
      key,
      buildSeconds: Math.round((Date.now() - started) / 100) / 10,
    };
    fs.mkdirSync(paths.images, { recursive: true });
    fs.writeFileSync(recordFile(name), JSON.stringify(built, null, 2));
    return built;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Makes sure containerd has `name` built from content `key`: reuses what containerd already holds
 * for that key, else builds it in buildah (unless buildah already has it) and imports it.
 */
async function ensureImage(name: string, key: string, build: () => Promise<void>): Promise<BuiltImage> {
  const started = Date.now();
  const known = readRecord(name);
  if (known?.key === key && known.id && (await containerdDigest(name)) === known.digest) return known;
  if (!(await buildahHasImage(name, key))) {
    say(`building ${name} (content ${key})`);
    await build();
  }
  const built = await exportToContainerd(name, key, started);
  say(`${name} ready in containerd (${built.digest.slice(0, 19)}…, ${built.buildSeconds} s)`);
  return built;
}

/** The shared libraries that `ldd` lists for a binary, with the loader. */
async function sharedLibraries(file: string): Promise<string[]> {
  const { stdout } = await run('ldd', [file]);
  const libs: string[] = [];
  for (const line of stdout.split('\n')) {
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s+(\/\S+)\s+\(/.exec(line);
    if (m?.[1]) libs.push(m[1]);
  }
  return libs;
}

const npmDir = path.join(repoRoot, 'node_modules', 'npm');

async function buildBase(key: string): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'zs-base-'));
  try {
    const root = path.join(tmp, 'rootfs');
    const put = (rel: string, from: string) => {
      const to = path.join(root, rel);
      fs.mkdirSync(path.dirname(to), { recursive: true });
      fs.cpSync(from, to, { recursive: true, dereference: true });
    };
    put('usr/local/bin/node', nodeBinary);
    // npm and npx start with `#!/usr/bin/env node`.
    put('usr/bin/env', '/usr/bin/env');
    const libs = new Set([
      ...(await sharedLibraries(nodeBinary)),
      ...(await sharedLibraries('/usr/bin/env')),
    ]);
    for (const lib of libs) put(lib.replace(/^\//, ''), lib);
    put('usr/local/lib/node_modules/npm', npmDir);
    fs.symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', path.join(root, 'usr/local/bin/npm'));
    fs.symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', path.join(root, 'usr/local/bin/npx'));
    // As the official image: root and the unprivileged `node` user (uid 1000), a world-writable /tmp.
    fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
    fs.writeFileSync(
      path.join(root, 'etc/passwd'),
      'root:x:0:0:root:/root:/sbin/nologin\nnode:x:1000:1000::/home/node:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n',
    );
    fs.writeFileSync(path.join(root, 'etc/group'), 'root:x:0:\nnode:x:1000:\nnogroup:x:65534:\n');
    fs.writeFileSync(path.join(root, 'etc/nsswitch.conf'), 'passwd: files\ngroup: files\nhosts: files dns\n');
    for (const d of ['tmp', 'root', 'home/node']) fs.mkdirSync(path.join(root, d), { recursive: true });
    fs.chmodSync(path.join(root, 'tmp'), 0o1777);
    await run('chown', ['1000:1000', path.join(root, 'home/node')]);
    const layer = path.join(tmp, 'rootfs.tar');
    await run('tar', ['-C', root, '--numeric-owner', '-cf', layer, '.'], { timeoutMs: 120_000 });
    await commitImage(baseImage, key, 'scratch', (ctr) => buildah(['add', ctr, layer, '/']), [
      '--env',
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      '--env',
      `NODE_VERSION=${process.versions.node}`,
      '--cmd',
      'node',
    ]);
    for (const alias of baseAliases) await buildah(['tag', baseImage, alias]);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * One image in buildah's store: a working container from `from`, filled by `fill`, configured
 * (linux/amd64, the content key as an annotation, `config`) and committed as `name`; the working
 * container goes whether or not that worked.
 */
async function commitImage(
  name: string,
  key: string,
  from: string,
  fill: (ctr: string) => Promise<unknown>,
  config: readonly string[],
): Promise<void> {
  const ctr = (await buildah(['from', '--pull=never', from])).stdout.trim();
  try {
    await fill(ctr);
    await buildah([
      'config',
      '--os',
      'linux',
      '--arch',
      'amd64',
      '--annotation',
      `dev.zeroscale.key=${key}`,
      ...config,
      ctr,
    ]);
    await buildah(['commit', '--rm', ctr, name]);
  } catch (err) {
    await buildah(['rm', ctr]).catch(() => undefined);
    throw err;
  }
}

/** An image of one layer from files on the host: the pause image and the test apps. */
function buildFromFiles(
  name: string,
  key: string,
  from: string,
  files: readonly { readonly src: string; readonly dest: string }[],
  config: readonly string[],
): Promise<void> {
  return commitImage(
    name,
    key,
    from,
    async (ctr) => {
      for (const f of files) await buildah(['copy', '--chmod', '0755', ctr, f.src, f.dest]);
    },
    config,
  );
}

export async function ensureBaseImage(): Promise<BuiltImage> {
  const npmVersion = (
    JSON.parse(fs.readFileSync(path.join(npmDir, 'package.json'), 'utf8')) as { version: string }
  ).version;
  const key = hashFiles([], `node ${process.versions.node} npm ${npmVersion} base v3`);
  const built = await ensureImage(baseImage, key, () => buildBase(key));
  for (const alias of baseAliases) {
    if ((await containerdDigest(alias)) !== built.digest)
      await ctr(['images', 'tag', '--force', baseImage, alias]);
  }
  return built;
}

export function ensurePauseImage(): Promise<BuiltImage> {
  const key = hashFiles([paths.pauseBinary], 'pause v2');
  return ensureImage(pauseImage, key, () =>
    buildFromFiles(
      pauseImage,
      key,
      'scratch',
      [{ src: paths.pauseBinary, dest: '/pause' }],
      ['--entrypoint', '["/pause"]', '--user', '65535:65535'],
    ),
  );
}

/** The probe app image's name: its tag is the app file's content, so a change makes a new image. */
export function probeAppImage(): string {
  return `zeroscale.local/probe-app:${hashFiles([probeAppFile])}`;
}

export async function ensureProbeAppImage(): Promise<BuiltImage> {
  const name = probeAppImage();
  const key = hashFiles([probeAppFile], `${baseImage} v2`);
  return ensureImage(name, key, () =>
    buildFromFiles(
      name,
      key,
      baseImage,
      [{ src: probeAppFile, dest: '/app/probe-app.mjs' }],
      ['--workingdir', '/app', '--user', '1000:1000', '--cmd', '["node", "/app/probe-app.mjs"]'],
    ),
  );
}

function packageVersion(name: string): string {
  const file = path.join(repoRoot, 'node_modules', name, 'package.json');
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
}

/** The gRPC app image's name: its tag is the app's sources and the grpc-js version it bundles. */
export function grpcAppImage(): string {
  return `zeroscale.local/grpc-app:${hashFiles(grpcAppFiles, `@grpc/grpc-js ${packageVersion('@grpc/grpc-js')}`)}`;
}

/**
 * dev/apps/grpc-app.ts and what it imports, @grpc/grpc-js included, as one CommonJS file in `dir`.
 * ASCII only, as scripts/bundle.ts explains: esbuild escapes code, comments are replaced.
 */
export async function bundleGrpcApp(dir: string): Promise<string> {
  const { build } = await import('esbuild');
  const outfile = path.join(dir, 'grpc-app.cjs');
  await build({
    entryPoints: [path.join(repoRoot, 'dev/apps/grpc-app.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node24',
    charset: 'ascii',
    legalComments: 'none',
    logLevel: 'warning',
  });
  const text = fs.readFileSync(outfile, 'utf8');
  const ascii = text.replace(/[\u0080-\uffff]/g, '?');
  if (ascii !== text) fs.writeFileSync(outfile, ascii);
  return outfile;
}

export async function ensureGrpcAppImage(): Promise<BuiltImage> {
  const name = grpcAppImage();
  const versions = `@grpc/grpc-js ${packageVersion('@grpc/grpc-js')} esbuild ${packageVersion('esbuild')}`;
  const key = hashFiles(grpcAppFiles, `${baseImage} ${versions} v1`);
  return ensureImage(name, key, async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'zs-grpc-app-'));
    try {
      const bundle = await bundleGrpcApp(tmp);
      await buildFromFiles(
        name,
        key,
        baseImage,
        [{ src: bundle, dest: '/app/grpc-app.cjs' }],
        ['--workingdir', '/app', '--user', '1000:1000', '--cmd', '["node", "/app/grpc-app.cjs"]'],
      );
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
}

/**
 * The Dockerfile's context, as paths from the repository's root: the files and folders it copies
 * (folders less what .dockerignore drops, which is nothing inside these).
 */
export const PRODUCT_CONTEXT: readonly string[] = [
  'Dockerfile',
  '.dockerignore',
  'package.json',
  'package-lock.json',
  'scripts/bundle.ts',
  'scripts/warm-compile-cache.ts',
  'src',
  'crds',
];

/** What the product image is built from, file by file. */
function productInputs(): string[] {
  const files: string[] = [];
  for (const entry of PRODUCT_CONTEXT) {
    const full = path.join(repoRoot, entry);
    if (fs.statSync(full).isDirectory()) files.push(...listFiles(full));
    else files.push(full);
  }
  return files;
}

/** The product image's tag: the chart's version plus the content it is built from. */
export function productImageTag(): string {
  const version = (
    JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }
  ).version;
  return `${version}-dev.${hashFiles(productInputs())}`;
}

/**
 * Builds `ghcr.io/zeroscale/zeroscale:<version>-dev.<content>` from the repository's Dockerfile —
 * the file a user builds with docker — and imports it. buildah runs with chroot isolation and the
 * host network (the `npm ci` step needs the npm registry): its own container network would turn
 * on `ip_forward` for the whole machine.
 */
export async function ensureProductImage(): Promise<BuiltImage> {
  await ensureBaseImage();
  const tag = productImageTag();
  const name = `${productRepository}:${tag}`;
  return ensureImage(name, tag, () => buildDockerfile({ context: repoRoot, name, key: tag }));
}

export interface DockerfileBuild {
  /** A folder with the Dockerfile and what it copies (the repository, or a copy of it). */
  readonly context: string;
  readonly name: string;
  readonly key: string;
  /** Build every step again (a cold build); by default unchanged steps come from the cache. */
  readonly noCache?: boolean;
}

/** `buildah bud` of a context's Dockerfile into buildah's store; the benchmark times it. */
export async function buildDockerfile(b: DockerfileBuild): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'zs-bud-'));
  try {
    await buildah(
      [
        'bud',
        ...buildTrust(tmp),
        '--isolation',
        'chroot',
        '--network',
        'host',
        '--pull=never',
        '--layers',
        ...(b.noCache ? ['--no-cache'] : []),
        '--annotation',
        `dev.zeroscale.key=${b.key}`,
        '-f',
        path.join(b.context, 'Dockerfile'),
        '-t',
        b.name,
        b.context,
      ],
      900_000,
    );
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
    await assertForwardingOff('buildah bud');
  }
}

/** Removes an image from buildah's store (the benchmark's throw-away builds). */
export async function removeBuiltImage(name: string): Promise<void> {
  await buildah(['rmi', '--force', name]).catch(() => undefined);
}

/** Exports a built image to containerd, timed: the second half of the edit-test loop. */
export function importBuiltImage(name: string, key: string): Promise<BuiltImage> {
  return exportToContainerd(name, key, Date.now());
}

/**
 * Where this machine reaches the npm registry through a TLS-inspecting gateway, its CA bundle
 * (NODE_EXTRA_CA_CERTS) is lent to the build's RUN steps with an npmrc naming it — mounted for
 * the build only, never a layer of the image. Elsewhere nothing is added, as with `docker build`.
 */
function buildTrust(tmp: string): string[] {
  const ca = process.env.NODE_EXTRA_CA_CERTS;
  if (!ca || !fs.existsSync(ca)) return [];
  const npmrc = path.join(tmp, 'npmrc');
  fs.writeFileSync(npmrc, 'cafile=/run/zeroscale-build-ca.crt\n');
  return ['--volume', `${ca}:/run/zeroscale-build-ca.crt:ro`, '--volume', `${npmrc}:/usr/local/etc/npmrc:ro`];
}

/** A mistaken build step must never have turned the machine into a router. */
export async function assertForwardingOff(after: string): Promise<void> {
  const v = fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
  if (v !== '0') {
    fs.writeFileSync('/proc/sys/net/ipv4/ip_forward', '0');
    throw new Error(`net.ipv4.ip_forward was ${v} after ${after}; set back to 0`);
  }
}

/** The images every `up` needs before the first pod: pause first, the base and the test apps. */
export async function ensureClusterImages(): Promise<void> {
  await ensurePauseImage();
  await ensureBaseImage();
  await ensureProbeAppImage();
  await ensureGrpcAppImage();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const what = process.argv[2] ?? 'product';
  const jobs: Record<string, () => Promise<unknown>> = {
    product: ensureProductImage,
    cluster: ensureClusterImages,
    'grpc-app': ensureGrpcAppImage,
  };
  const job = jobs[what]?.();
  if (!job) {
    process.stderr.write('usage: node dev/cluster/images.ts product|cluster|grpc-app\n');
    process.exit(2);
  }
  job.then(
    (r) => {
      if (r) process.stdout.write(`${JSON.stringify(r)}\n`);
    },
    (err: unknown) => {
      say(`failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
