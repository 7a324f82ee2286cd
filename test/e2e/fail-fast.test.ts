// Fail fast on the local cluster, everything installed by the Helm chart, traffic only through the
// activator on 127.0.0.1:8080, tried as a new user would: a service whose container exits at
// start and one whose image does not exist are answered at once with 503, Retry-After and the
// reason (not held to their 120 s timeout); a slow but healthy start is waited for; and fixing
// the service makes the next request cold-start and succeed.
import { describe, expect, it } from 'vitest';
import { kubectlOk, waitFor, waitServiceReady } from '../../dev/cluster/kube.ts';
import { serverlessService } from '../../dev/cluster/manifests.ts';
import { componentMetrics, metricSum } from '../../dev/cluster/zeroscale.ts';
import { request } from '../../dev/load.ts';
import { zeroscaleNamespace } from './suite.ts';

const ns = zeroscaleNamespace('failfast');
const created = ns.created;

/** A service at zero (so that it is Ready before any pod ran), with a 120 s request timeout. */
async function deploy(name: string, container: Record<string, unknown>): Promise<string> {
  const manifest = serverlessService(name, {
    timeoutSeconds: 120,
    scaling: { minScale: 0, initialScale: 0, stableWindow: '6s' },
    container,
  });
  await kubectlOk(['apply', '-n', ns.name, '-f', '-'], JSON.stringify(manifest));
  created.push(name);
  const svc = await waitServiceReady(ns.name, name);
  return new URL(svc.status!.url!).host;
}

/** One request, timed; the client gives up at 100 s, before the service's own 120 s timeout. */
async function timed(host: string, path = '/') {
  const started = Date.now();
  const res = await request(host, path, undefined, 100_000);
  return { ...res, ms: Date.now() - started };
}

async function events(name: string): Promise<{ reason: string; message: string }[]> {
  const out = await kubectlOk([
    'get',
    'events',
    '-n',
    ns.name,
    '--field-selector',
    `involvedObject.kind=ServerlessService,involvedObject.name=${name}`,
    '-o',
    'json',
  ]);
  return (JSON.parse(out) as { items: { reason: string; message: string }[] }).items;
}

/** zeroscale_activator_fail_fast_total summed over the activators. */
async function failFastTotal(name: string, reason: string): Promise<number> {
  let total = 0;
  for (const { text } of await componentMetrics('activator'))
    total += metricSum(text, 'zeroscale_activator_fail_fast_total', {
      namespace: ns.name,
      service: name,
      reason,
    });
  return total;
}

describe('fail fast when a service cannot start', () => {
  it('answers a crashing service with 503 and the exit code, then serves once it is fixed', async () => {
    const host = await deploy('crash', { command: ['node', '-e', 'process.exit(3)'] });
    const first = await timed(host);
    console.log(`crashing service: first request answered ${first.status} after ${first.ms} ms`);
    expect(first.status).toBe(503);
    expect(first.headers['x-zeroscale-error']).toBe('SERVICE_CANNOT_START');
    expect(first.headers['retry-after']).toBe('10');
    expect(first.body).toMatch(
      new RegExp(
        `^service ${ns.name}/crash cannot start: container app exited with code 3.* \\(CrashLoopBackOff\\)\\n$`,
      ),
    );
    expect(first.body).not.toMatch(/10\.244\.\d+\.\d+/);
    // While the pod keeps failing, new requests get the same answer at once.
    const again = await timed(host);
    console.log(`crashing service: next request answered ${again.status} after ${again.ms} ms`);
    expect(again.status).toBe(503);
    expect(again.body).toBe(first.body);
    const failed = await waitFor('a ColdStartFailed event', async () =>
      (await events('crash')).find((e) => e.reason === 'ColdStartFailed'),
    );
    expect(failed.message).toMatch(
      /^Cold start failed: container app exited with code 3.*\(CrashLoopBackOff\)/,
    );
    expect(await failFastTotal('crash', 'CrashLoopBackOff')).toBeGreaterThanOrEqual(2);

    // The user fixes the app: the next request waits for the new pod and gets 200.
    await kubectlOk([
      'patch',
      'ssvc',
      'crash',
      '-n',
      ns.name,
      '--type=json',
      '-p',
      '[{"op":"remove","path":"/spec/template/spec/containers/0/command"}]',
    ]);
    const fixed = await waitFor(
      'a 200 after the fix',
      async () => {
        const res = await timed(host);
        return res.status === 200 ? res : undefined;
      },
      120_000,
    );
    expect(fixed.body).toMatch(/^hello from crash-/);
  });

  it('answers a service whose image cannot be pulled with 503 naming the image', async () => {
    const host = await deploy('noimage', { image: 'registry.invalid/nothing:1' });
    const res = await timed(host);
    console.log(`missing image: answered ${res.status} after ${res.ms} ms`);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('10');
    expect(res.body).toMatch(
      new RegExp(
        `^service ${ns.name}/noimage cannot start: container app: image "registry.invalid/nothing:1" cannot be pulled \\((ErrImagePull|ImagePullBackOff)\\)\\n$`,
      ),
    );
  });

  it('waits for a slow start without errors and serves it', async () => {
    // The app listens 8 s after its container starts: no error, just slow.
    const host = await deploy('slow', {
      command: ['node', '-e', "setTimeout(() => import('/app/probe-app.mjs'), 8000)"],
    });
    const res = await timed(host);
    console.log(`slow start: answered ${res.status} after ${res.ms} ms`);
    expect(res.status).toBe(200);
    expect(res.ms).toBeGreaterThan(8_000);
  });
});
