// The control plane gone mid-traffic, on the local cluster with zeroscale installed by its chart:
// kube-apiserver stopped for 30 s, then etcd stopped for 30 s, each under steady load through
// 127.0.0.1:8080. Warm services keep serving from what the activators know; a request for a
// service at zero is answered at once with 503 and the reason (nothing can start a pod); when the
// API is back everything reconciles: the cold service wakes and a new service becomes Ready.
import { describe, expect, it } from 'vitest';
import { type RestartableComponent, startComponent, stopComponent } from '../../dev/cluster/cluster.ts';
import { kubectlOk, waitFor, waitServiceReady } from '../../dev/cluster/kube.ts';
import { serverlessService } from '../../dev/cluster/manifests.ts';
import { request, runLoad } from '../../dev/load.ts';
import { zeroscaleNamespace } from './suite.ts';

const ns = zeroscaleNamespace('outage');

async function deploy(name: string, scaling: Record<string, unknown>): Promise<string> {
  const manifest = serverlessService(name, {
    timeoutSeconds: 90,
    scaling: { stableWindow: '6s', ...scaling },
  });
  await kubectlOk(['apply', '-n', ns.name, '-f', '-'], JSON.stringify(manifest));
  const svc = await waitServiceReady(ns.name, name);
  return new URL(svc.status!.url!).host;
}

async function outage(component: RestartableComponent, warm: string, cold: string, created: string) {
  const load = runLoad({ host: warm, path: '/', concurrency: 4, durationMs: 45_000, timeoutMs: 60_000 });
  await new Promise((r) => setTimeout(r, 3_000));
  // From the stop signal: kube-apiserver fails /readyz while it shuts down, before it exits.
  const stoppedAt = Date.now();
  await stopComponent(component);
  // The activators notice within a few seconds; then a request for the service at zero is
  // answered at once, not held to its 90 s timeout.
  const answer = await waitFor(
    'a 503 naming the API for the service at zero',
    async () => {
      const res = await request(cold, '/', undefined, 20_000);
      return res.status === 503 ? res : undefined;
    },
    25_000,
    1_000,
  );
  console.log(
    `${component} stopped: service at zero answered ${answer.status} ${Date.now() - stoppedAt} ms after the stop`,
  );
  expect(answer.headers['x-zeroscale-error']).toBe('SERVICE_CANNOT_START');
  expect(answer.body).toMatch(
    /cannot start: the Kubernetes API is unavailable.*\(KubernetesApiUnavailable\)\n$/,
  );
  await new Promise((r) => setTimeout(r, Math.max(0, 30_000 - (Date.now() - stoppedAt))));
  await startComponent(component);
  const r = await load;
  console.log(
    `${component} stopped for 30 s: warm service ${r.byStatus['200'] ?? 0} of ${r.total} requests 200`,
  );
  expect(r.failures).toEqual([]);

  // Back: the service at zero wakes and serves, and a service created now becomes Ready.
  const woke = await waitFor(
    'the service at zero serving again',
    async () => {
      const res = await request(cold, '/', undefined, 90_000);
      return res.status === 200 ? res : undefined;
    },
    120_000,
    1_000,
  );
  expect(woke.body).toMatch(/^hello from /);
  await deploy(created, { minScale: 0, initialScale: 0 });
}

describe('the control plane gone for 30 s', () => {
  it('keeps warm services serving and answers cold ones clearly while kube-apiserver is stopped', async () => {
    const warm = await deploy('warm', { minScale: 1 });
    const cold = await deploy('asleep', { minScale: 0, initialScale: 0 });
    await outage('kube-apiserver', warm, cold, 'after-apiserver');
  });

  it('does the same while etcd is stopped', async () => {
    const warm = await deploy('warm2', { minScale: 1 });
    const cold = await deploy('asleep2', { minScale: 0, initialScale: 0 });
    await outage('etcd', warm, cold, 'after-etcd');
  });
});
