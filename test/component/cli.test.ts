// `zeroscale queue-proxy` and `zeroscale activator` as processes: they start from their
// environment, serve, refuse bad options with a message naming them, and drain on SIGTERM. Each
// runs both from the sources and from the bundles the image ships (scripts/bundle.ts), the
// queue-proxy with the V8 flags the controller gives it.

import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bundle } from '../../scripts/bundle.ts';
import { QUEUE_PROXY_NODE_FLAGS } from '../../src/api/queue-proxy.ts';
import { type App, request, startApp, waitFor } from './proxy-harness.ts';

const repo = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const sourceCli = path.join(repo, 'src', 'cli.ts');
let bundleDir = '';
beforeAll(async () => {
  // Inside the repository, as dist/ is in the image: what the bundles leave outside (prom-client's
  // optional @opentelemetry/api, the tracing SDK) resolves from node_modules.
  fs.mkdirSync(path.join(repo, '.zeroscale'), { recursive: true });
  bundleDir = fs.mkdtempSync(path.join(repo, '.zeroscale', 'test-bundle-'));
  await bundle(bundleDir);
}, 120_000);
afterAll(() => {
  if (bundleDir !== '') fs.rmSync(bundleDir, { recursive: true, force: true });
});

/** How each form starts a component: node's own flags, then the CLI script. */
const forms = {
  sources: (_component: string): string[] => [sourceCli],
  bundle: (component: string): string[] => [
    ...(component === 'queue-proxy' ? QUEUE_PROXY_NODE_FLAGS : []),
    path.join(bundleDir, 'cli.cjs'),
  ],
} as const;
type Form = keyof typeof forms;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

interface Running {
  readonly child: ChildProcess;
  readonly logs: Record<string, unknown>[];
  stderr: string;
  readonly exited: Promise<number | null>;
}

function run(form: Form, args: string[], env: Record<string, string>): Running {
  const child = spawn(process.execPath, [...forms[form](args[0]!), ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const running: Running = {
    child,
    logs: [],
    stderr: '',
    exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
  };
  let buffered = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) if (line.startsWith('{')) running.logs.push(JSON.parse(line));
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (running.stderr += chunk));
  cleanups.push(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return running;
}

async function app(): Promise<App> {
  const a = await startApp((_req, res) => res.end('from app'));
  cleanups.push(() => a.close());
  return a;
}

const started = (r: Running, msg: string) =>
  waitFor(
    `"${msg}" logged`,
    () => r.logs.find((l) => l.msg === msg) as Record<string, number> | undefined,
    20_000,
  );

describe.each(Object.keys(forms) as Form[])('zeroscale queue-proxy from the %s', (form) => {
  it('serves from its environment, gives its memory back once quiet, and drains on SIGTERM, exiting 0', async () => {
    const a = await app();
    const qp = run(form, ['queue-proxy'], {
      SERVING_SERVICE: 'hello',
      SERVING_NAMESPACE: 'default',
      SERVING_POD: 'hello-1',
      USER_PORT: String(a.port),
      QUEUE_SERVING_PORT: '0',
      QUEUE_METRICS_PORT: '0',
      QUEUE_LISTEN_HOST: '127.0.0.1',
      QUEUE_DRAIN_SECONDS: '0',
    });
    const { httpPort, metricsPort } = await started(qp, 'queue-proxy started');
    await waitFor('ready', async () => (await request(httpPort!, { path: '/healthz/ready' })).status === 200);
    expect(await request(httpPort!)).toMatchObject({ status: 200, body: 'from app' });
    expect((await request(metricsPort!, { path: '/stats' })).status).toBe(200);
    const metrics = await request(metricsPort!, { path: '/metrics' });
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(
      /^zeroscale_queue_requests_total\{namespace="default",service="hello",code="200",code_class="2xx"\} 1$/m,
    );
    expect(metrics.body).toMatch(/^process_resident_memory_bytes \d+$/m);
    // Quiet for 2 s after that request (scrapes are not requests): one memory-reducing collection,
    // and it serves on after it.
    const settles = /^zeroscale_queue_heap_settles_total\{namespace="default",service="hello"\} (\d+)$/m;
    await waitFor(
      'a heap settle',
      async () => settles.exec((await request(metricsPort!, { path: '/metrics' })).body)?.[1] === '1',
      10_000,
    );
    expect(await request(httpPort!)).toMatchObject({ status: 200, body: 'from app' });
    qp.child.kill('SIGTERM');
    expect(await qp.exited).toBe(0);
    expect(qp.logs.map((l) => l.msg)).toEqual(expect.arrayContaining(['drain started', 'drained']));
  });

  it('refuses a bad environment with a message naming the variable, exiting 1', async () => {
    const qp = run(form, ['queue-proxy'], {
      SERVING_SERVICE: 'hello',
      SERVING_NAMESPACE: 'default',
      USER_PORT: 'eighty',
    });
    expect(await qp.exited).toBe(1);
    expect(qp.stderr).toContain('USER_PORT');
  });
});

describe.each(Object.keys(forms) as Form[])('zeroscale activator from the %s', (form) => {
  it('serves the services of a static config and exits 0 after a SIGTERM drain', async () => {
    const a = await app();
    // The app stands in for a queue-proxy: it answers the activator's probe too.
    a.server.removeAllListeners('request');
    a.server.on('request', (req, res) =>
      res.end(req.headers['x-zeroscale-probe'] === 'queue' ? 'queue' : 'from app'),
    );
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zeroscale-cli-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const config = path.join(dir, 'static.json');
    fs.writeFileSync(
      config,
      JSON.stringify({
        services: [{ namespace: 'default', name: 'hello', pods: [{ ip: '127.0.0.1', port: a.port }] }],
      }),
    );
    const act = run(form, ['activator', '--static-config', config], {
      ACTIVATOR_PORT: '0',
      ACTIVATOR_METRICS_PORT: '0',
      ACTIVATOR_LISTEN_HOST: '127.0.0.1',
      ACTIVATOR_DRAIN_SECONDS: '0',
    });
    const { port } = await started(act, 'activator started');
    expect(await request(port!, { host: 'hello.default.svc' })).toMatchObject({
      status: 200,
      body: 'from app',
    });
    act.child.kill('SIGTERM');
    expect(await act.exited).toBe(0);
  });
});
