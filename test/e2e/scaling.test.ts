// End to end on the local cluster, everything installed by the Helm chart, traffic only through
// the activator on 127.0.0.1:8080: cold starts, settling at the KPA's pod count, panic, scale to
// zero and back, minScale/initialScale/activationScale, a hard concurrency limit, and an
// autoscaler restart under load — without a failed request.
import http from 'node:http';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { kubeClient, kubectlOk, servingRevision, waitFor, waitServiceReady } from '../../dev/cluster/kube.ts';
import { serverlessService } from '../../dev/cluster/manifests.ts';
import { systemNamespace } from '../../dev/cluster/zeroscale.ts';
import { request, runLoad } from '../../dev/load.ts';
import { SERVICE_LABEL } from '../../src/api/labels.ts';
import { QUEUE_PROXY_HTTP_PORT } from '../../src/api/queue-proxy.ts';
import type { Revision } from '../../src/api/revision.ts';
import { POD_DELETION_COST_ANNOTATION } from '../../src/autoscaler/deletion-cost.ts';
import { podOfIdentity } from '../../src/kube/leader.ts';
import { zeroscaleNamespace } from './suite.ts';

const client = kubeClient();
const ns = zeroscaleNamespace('e2e');
const created = ns.created;

afterAll(() => client.close());

interface ServiceOptions {
  readonly scaling?: Record<string, unknown>;
  readonly containerConcurrency?: number;
  readonly budget?: Record<string, unknown>;
}

async function deploy(name: string, o: ServiceOptions = {}): Promise<string> {
  // Short windows keep the scenarios quick; 6 s is Knative's smallest stable window.
  const manifest = serverlessService(name, {
    ...o,
    timeoutSeconds: 120,
    scaling: { stableWindow: '6s', ...o.scaling },
  });
  await kubectlOk(['apply', '-n', ns.name, '-f', '-'], JSON.stringify(manifest));
  created.push(name);
  const svc = await waitServiceReady(ns.name, name);
  return new URL(svc.status!.url!).host;
}

/** Each service's one revision (no test here changes a template), looked up once. */
const revisions = new Map<string, string>();
async function revisionOf(name: string): Promise<string> {
  let rev = revisions.get(name);
  if (rev === undefined) {
    rev = await servingRevision(ns.name, name);
    revisions.set(name, rev);
  }
  return rev;
}
const deployment = async (name: string) =>
  client.get<V1Deployment>(`/apis/apps/v1/namespaces/${ns.name}/deployments/${await revisionOf(name)}`);
/** The revision a service runs: where the autoscaler publishes its status and conditions. */
const ssvc = async (name: string) =>
  client.get<Revision>(
    `/apis/serving.zeroscale.dev/v1alpha1/namespaces/${ns.name}/revisions/${await revisionOf(name)}`,
  );

async function waitReplicas(
  name: string,
  check: (n: number) => boolean,
  what: string,
  timeoutMs = 90_000,
): Promise<number> {
  return waitFor(
    `${name}: ${what}`,
    async () => {
      const n = (await deployment(name)).spec?.replicas ?? -1;
      return check(n) ? n : undefined;
    },
    timeoutMs,
  );
}

/** Samples spec.replicas every 250 ms while `during` runs; returns the smallest value seen. */
async function minReplicasDuring<T>(name: string, during: Promise<T>): Promise<{ result: T; min: number }> {
  let min = Number.POSITIVE_INFINITY;
  let done = false;
  const sampler = (async () => {
    while (!done) {
      min = Math.min(min, (await deployment(name)).spec?.replicas ?? 0);
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  const result = await during;
  done = true;
  await sampler;
  return { result, min };
}

describe('scale from and to zero', () => {
  it('answers the first request at zero with 200, then goes back to zero with no traffic', async () => {
    const host = await deploy('cold', { scaling: { minScale: 0, initialScale: 0 } });
    expect((await deployment('cold')).spec?.replicas).toBe(0);
    const res = await request(host, '/');
    expect(res.status).toBe(200);
    expect(res.body).toMatch(/^hello from cold-/);
    await waitReplicas('cold', (n) => n === 0, 'back at zero after the stable window and grace period');
    const active = (await ssvc('cold')).status?.conditions?.find((c) => c.type === 'Active');
    expect(active?.reason).toBe('ScaledToZero');
    // The cold start and both scale decisions are Events on the service (kubectl describe ssvc).
    const events = await waitFor(
      'ColdStart, ScaledUp and ScaledDown events',
      async () => {
        const out = await kubectlOk([
          'get',
          'events',
          '-n',
          ns.name,
          '--field-selector',
          'involvedObject.kind=ServerlessService,involvedObject.name=cold',
          '-o',
          'json',
        ]);
        const items = (JSON.parse(out) as { items: { reason: string; message: string }[] }).items;
        const reasons = new Set(items.map((e) => e.reason));
        return ['ColdStart', 'ScaledUp', 'ScaledDown'].every((r) => reasons.has(r)) ? items : undefined;
      },
      30_000,
    );
    expect(events.find((e) => e.reason === 'ColdStart')?.message).toMatch(
      /^Cold start served its first request after \d+ ms \(.*pod_ready/,
    );
    expect(events.find((e) => e.reason === 'ScaledUp')?.message).toBe(
      `Scaled from 0 to 1 pods (revision ${await revisionOf('cold')})`,
    );
  });

  it('answers 200 concurrent requests to a service at zero, every one with 200', async () => {
    const host = await deploy('herd', { scaling: { minScale: 0, initialScale: 0, maxScale: 4 } });
    const result = await runLoad({ host, path: '/sleep?ms=50', concurrency: 200, requests: 200 });
    expect(result.failures).toEqual([]);
    expect(result.byStatus['200']).toBe(200);
  });

  it('wakes activationScale pods at once from zero', async () => {
    const host = await deploy('wake3', { scaling: { minScale: 0, initialScale: 0, activationScale: 3 } });
    expect((await request(host, '/')).status).toBe(200);
    await waitReplicas('wake3', (n) => n >= 3, 'three pods on the first request');
  });
});

describe('scaling under load', () => {
  it('settles at ceil(C / (T·U)) pods under sustained concurrency, and a burst enters panic', async () => {
    // C = 6 in flight, T = 2, U = 100 % → 3 pods.
    const host = await deploy('steady', {
      scaling: { target: 2, targetUtilizationPercentage: 100, maxScale: 8 },
    });
    const load = runLoad({ host, path: '/sleep?ms=300', concurrency: 6, durationMs: 30_000 });
    const settled = await waitFor(
      'desired scale settles at 3 ± 1',
      async () => {
        const s = await ssvc('steady');
        const d = s.status?.autoscaler?.desiredScale;
        return d !== undefined && d >= 2 && d <= 4 && !s.status?.autoscaler?.panicking ? d : undefined;
      },
      60_000,
    );
    expect(settled).toBeGreaterThanOrEqual(2);
    const burst = runLoad({ host, path: '/sleep?ms=300', concurrency: 24, durationMs: 10_000 });
    const panic = await waitFor(
      'panic with more pods wanted',
      async () => {
        const a = (await ssvc('steady')).status?.autoscaler;
        return a?.panicking && (a.desiredScale ?? 0) > settled ? a : undefined;
      },
      30_000,
    );
    expect(panic.desiredScale).toBeGreaterThanOrEqual(6);
    const [steadyResult, burstResult] = await Promise.all([load, burst]);
    expect(steadyResult.failures).toEqual([]);
    expect(burstResult.failures).toEqual([]);
  });

  it('scales down under steady load and to zero after it without one failed request', async () => {
    const host = await deploy('shrink', {
      scaling: { target: 2, targetUtilizationPercentage: 100, maxScale: 6 },
    });
    const high = await runLoad({ host, path: '/sleep?ms=200', concurrency: 8, durationMs: 12_000 });
    expect(high.failures).toEqual([]);
    const peak = (await deployment('shrink')).spec?.replicas ?? 0;
    expect(peak).toBeGreaterThanOrEqual(3);
    const low = runLoad({ host, path: '/sleep?ms=200', concurrency: 1, durationMs: 20_000 });
    await waitReplicas('shrink', (n) => n < peak, 'fewer pods under lighter load', 30_000);
    expect((await low).failures).toEqual([]);
    await waitReplicas('shrink', (n) => n === 0, 'zero after the load stopped');
    expect((await request(host, '/')).status).toBe(200); // and it wakes again
  });

  it('serves 100 parallel slow requests with containerConcurrency 1 and maxScale 10, all 200', async () => {
    const host = await deploy('single', { containerConcurrency: 1, scaling: { maxScale: 10 } });
    const result = await runLoad({ host, path: '/sleep?ms=500', concurrency: 100, requests: 100 });
    expect(result.failures).toEqual([]);
    expect(result.byStatus['200']).toBe(100);
    expect((await deployment('single')).spec?.replicas).toBeLessThanOrEqual(10);
  });
});

describe('bounds', () => {
  it('holds minScale with no traffic past the stable window and grace period', async () => {
    await deploy('floor', { scaling: { minScale: 2 } });
    await waitReplicas('floor', (n) => n === 2, 'two pods');
    // The idle service is decided on every second; none of those decisions may go below 2.
    const watchFor = new Promise((r) => setTimeout(r, 15_000));
    const { min } = await minReplicasDuring('floor', watchFor);
    expect(min).toBe(2);
  });
});

/** The service's pods that are not being deleted, with their addresses once they have one. */
async function livePods(name: string): Promise<V1Pod[]> {
  const list = await client.get<{ items: V1Pod[] }>(`/api/v1/namespaces/${ns.name}/pods`, {
    labelSelector: `${SERVICE_LABEL}=${name}`,
  });
  return list.items.filter((p) => p.metadata?.deletionTimestamp === undefined);
}

/** A request straight to one pod's queue-proxy, on its address on the test bridge. */
function podRequest(ip: string, host: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: ip, port: QUEUE_PROXY_HTTP_PORT, path, headers: { host }, timeout: 120_000 },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${path} on ${ip}: no answer in 120 s`)));
    req.on('error', reject);
    req.end();
  });
}

/** The sum over a component's replicas of the sample whose line starts with `series`, from their /metrics. */
async function componentSample(component: 'autoscaler' | 'activator', series: string): Promise<number> {
  const pods = await client.get<{ items: V1Pod[] }>(`/api/v1/namespaces/${systemNamespace}/pods`, {
    labelSelector: `app.kubernetes.io/component=${component}`,
  });
  let total = 0;
  for (const p of pods.items) {
    if (!p.status?.podIP) continue;
    const text = await fetch(`http://${p.status.podIP}:9090/metrics`).then((r) => r.text());
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    total += line === undefined ? 0 : Number(line.split(' ')[1]);
  }
  return total;
}

/** Pod annotation writes of all autoscaler replicas (only the leader writes). */
const deletionCostWrites = () =>
  componentSample('autoscaler', 'zeroscale_autoscaler_deletion_cost_writes_total{result="written"}');

describe('scale-down', () => {
  it('removes idle pods first: the pod with long requests in flight stays and its requests finish', async () => {
    const name = 'idle-first';
    const host = await deploy(name, { scaling: { minScale: 4, initialScale: 4 } });
    const ready = await waitFor(
      'four ready pods',
      async () => {
        const pods = await livePods(name);
        const isReady = (p: V1Pod) =>
          p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
        return pods.length === 4 && pods.every(isReady) ? pods : undefined;
      },
      120_000,
    );
    const busy = ready[2]!;
    const long = Array.from({ length: 2 }, () => podRequest(busy.status!.podIP!, host, '/sleep?ms=30000'));
    await waitFor(
      'the autoscaler sees the busy pod',
      async () => ((await ssvc(name)).status?.autoscaler?.observedConcurrency ?? 0) >= 1 || undefined,
      30_000,
    );
    const writesBefore = await deletionCostWrites();
    // Two requests need one pod: dropping the floor lets the autoscaler remove three of four.
    await kubectlOk([
      'patch',
      'ssvc',
      name,
      '-n',
      ns.name,
      '--type=merge',
      '-p',
      '{"spec":{"scaling":{"minScale":1}}}',
    ]);
    const left = await waitFor(
      'one pod left',
      async () => {
        const pods = await livePods(name);
        return pods.length === 1 ? pods : undefined;
      },
      60_000,
    );
    expect(left[0]!.metadata!.name).toBe(busy.metadata!.name);
    expect(Number(left[0]!.metadata!.annotations?.[POD_DELETION_COST_ANNOTATION])).toBeGreaterThan(0);
    expect(await Promise.all(long)).toEqual([200, 200]);
    // One write: the busy pod's cost. Idle pods keep Kubernetes' default and cost no request.
    expect((await deletionCostWrites()) - writesBefore).toBe(1);
  }, 180_000);
});

describe('warm windows', () => {
  it('has the pods of a scheduled window ready when it opens, and goes back to zero after it', async () => {
    // A window at the next minute boundary at least 40 s away (the lead before a cold start is
    // measured is 30 s), for 20 s.
    const minute = 60_000;
    let opens = Math.ceil(Date.now() / minute) * minute;
    if (opens - Date.now() < 40_000) opens += minute;
    const cron = `${new Date(opens).getUTCMinutes()} * * * *`;
    await deploy('warm', {
      scaling: { minScale: 0, initialScale: 0, schedules: [{ cron, duration: '20s', minScale: 2 }] },
    });
    const next = await waitFor(
      'the next window in status',
      async () => (await ssvc('warm')).status?.autoscaler?.nextWarmWindow,
      30_000,
    );
    expect(Date.parse(next)).toBe(opens);
    expect((await deployment('warm')).spec?.replicas).toBe(0);
    await waitFor('the window opens', async () => Date.now() >= opens || undefined, 2 * minute, 100);
    const atOpening = await ssvc('warm');
    expect(atOpening.status?.replicas?.ready).toBe(2);
    expect(atOpening.status?.autoscaler?.warmWindow).toMatchObject({
      minScale: 2,
      start: new Date(opens).toISOString().replace('.000Z', 'Z'),
    });
    await waitReplicas('warm', (n) => n === 0, 'back to zero after the window', 90_000);
  }, 300_000);
});

describe('predictive idle policy', () => {
  it('learns a client that calls every 15 s, lets the pod go between calls and has it ready for the next', async () => {
    const host = await deploy('timer', {
      scaling: { minScale: 0, initialScale: 0, idlePolicy: 'Predictive' },
    });
    const timerRevision = await revisionOf('timer');
    const coldStarts = () =>
      componentSample(
        'activator',
        `zeroscale_cold_starts_total{namespace="${ns.name}",service="${timerRevision}"}`,
      );
    const period = 15_000;
    const start = Date.now();
    let before = 0;
    let zeroBetween = 0;
    // 11 calls: the first is cold; the next five idle times are learned with the pod kept; from
    // the 7th call on the plan lets the pod go after each call and starts it before the next.
    for (let k = 0; k < 11; k++) {
      if (k === 6) before = await coldStarts();
      let sawZero = false;
      await waitFor(
        `call ${k} is due`,
        async () => {
          if (k >= 6 && (await deployment('timer')).status?.readyReplicas === undefined) sawZero = true;
          return Date.now() >= start + k * period || undefined;
        },
        period + 5_000,
        250,
      );
      if (sawZero) zeroBetween++;
      expect((await request(host, '/')).status).toBe(200);
    }
    // Calls 6–10 found a ready pod: no cold start began for them.
    expect((await coldStarts()) - before).toBe(0);
    // And the pod was gone between calls (not simply kept): pre-warmed, every time but the first.
    expect(zeroBetween).toBeGreaterThanOrEqual(4);
    const prediction = (await ssvc('timer')).status?.autoscaler?.prediction;
    expect(prediction).toMatchObject({ state: 'learned' });
    expect(prediction?.windows).toHaveLength(1);
  }, 300_000);
});

describe('budget', () => {
  /** The BudgetExceeded condition once it has `status`. */
  const budgetCondition = (name: string, status: 'True' | 'False', timeoutMs: number) =>
    waitFor(
      `BudgetExceeded ${status}`,
      async () => {
        const c = (await ssvc(name)).status?.conditions?.find((x) => x.type === 'BudgetExceeded');
        return c?.status === status ? c : undefined;
      },
      timeoutMs,
    );

  it('Cap: holds a loaded service at its cap when the window is spent, serving every request, and lifts as it rolls', async () => {
    const host = await deploy('capped', {
      scaling: { target: 1, targetUtilizationPercentage: 100, maxScale: 4 },
      budget: { window: '1m', replicaSeconds: 60, maxScale: 1 },
    });
    const load = runLoad({ host, path: '/sleep?ms=200', concurrency: 3, durationMs: 45_000 });
    await waitReplicas('capped', (n) => n >= 2, 'more pods under load', 30_000);
    const spent = await budgetCondition('capped', 'True', 60_000);
    expect(spent.reason).toBe('Capped');
    expect(spent.message).toMatch(
      /^budget spent: used \d+ of 60 replica-seconds in the last 60s; held at 1 pod/,
    );
    await waitReplicas('capped', (n) => n === 1, 'held at 1 pod', 30_000);
    expect((await ssvc('capped')).status?.autoscaler?.budget).toMatchObject({ limit: 60, cappedAt: 1 });
    const events = await client.get<{ items: { reason?: string; message?: string }[] }>(
      `/api/v1/namespaces/${ns.name}/events`,
      // The autoscaler's Events go on the ServerlessService, naming the revision.
      { fieldSelector: 'involvedObject.name=capped,involvedObject.kind=ServerlessService' },
    );
    expect(events.items.map((e) => e.reason)).toContain('BudgetExceeded');
    expect((await load).failures).toEqual([]);
    // No more load: the spending leaves the one-minute window and the budget lifts by itself.
    const lifted = await budgetCondition('capped', 'False', 90_000);
    expect(lifted.reason).toBe('WithinBudget');
  }, 300_000);

  it('Reject: answers 429 with the reason once the window is spent, and serves again after it rolls', async () => {
    const host = await deploy('refused', { budget: { window: '1m', replicaSeconds: 10, action: 'Reject' } });
    expect((await request(host, '/')).status).toBe(200);
    const refused = await waitFor(
      'a 429',
      async () => {
        const r = await request(host, '/');
        return r.status === 429 ? r : undefined;
      },
      60_000,
      500,
    );
    expect(refused.headers['retry-after']).toBe('60');
    expect(refused.body).toMatch(
      /^service [a-z0-9-]+\/refused: budget spent: used \d+ of 10 replica-seconds in the last 60s; requests are refused with 429/,
    );
    await waitReplicas('refused', (n) => n === 0, 'scaled to zero', 60_000);
    // At zero nothing is spent: a minute later the budget has lifted and a request cold-starts.
    await waitFor(
      'served again',
      async () => (await request(host, '/')).status === 200 || undefined,
      120_000,
      1_000,
    );
  }, 300_000);
});

describe('autoscaler restart', () => {
  it('does not drop a loaded service to zero or lose requests when the autoscaler restarts', async () => {
    const host = await deploy('survivor', {
      scaling: { target: 2, targetUtilizationPercentage: 100, maxScale: 6 },
    });
    const load = runLoad({ host, path: '/sleep?ms=200', concurrency: 4, durationMs: 25_000 });
    await waitReplicas('survivor', (n) => n >= 2, 'two or more pods under load', 60_000);
    const lease = await client.get<{ spec: { holderIdentity?: string } }>(
      `/apis/coordination.k8s.io/v1/namespaces/${systemNamespace}/leases/zeroscale-autoscaler`,
    );
    await kubectlOk([
      'delete',
      'pod',
      podOfIdentity(lease.spec.holderIdentity!),
      '-n',
      systemNamespace,
      '--wait=false',
    ]);
    const { result, min } = await minReplicasDuring('survivor', load);
    expect(result.failures).toEqual([]);
    expect(min).toBeGreaterThan(0);
  });
});
