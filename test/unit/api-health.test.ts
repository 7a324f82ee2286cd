// The activator's view of the Kubernetes API: unavailable after the configured unreachable /readyz
// polls in a row, or after no ready answer for a while; a slow or struggling API (polls timing
// out, or answered not ready, as on a saturated node) is not an outage until then. Available
// again on the first ready answer, each change told once.
import { describe, expect, it } from 'vitest';
import { API_UNAVAILABLE_REASON, ApiHealthProbe } from '../../src/activator/api-health.ts';
import type { ServiceFailure } from '../../src/activator/sources.ts';
import { ZeroscaleError } from '../../src/errors.ts';
import { KubeApiError, type KubeClient } from '../../src/kube/rest.ts';
import { silentLogger } from '../../src/telemetry/log.ts';

type Answer = 'ready' | 'unready' | 'unreachable' | 'timeout' | 'etcdSlow';

const errors = {
  unreachable: () => new Error('connect ECONNREFUSED 127.0.0.1:6443'),
  unready: () => new KubeApiError('GET', '/readyz', 500, 'Unknown', '[-]etcd failed: reason withheld'),
  timeout: () => new ZeroscaleError('KUBE_API_TIMEOUT', 'GET /readyz timed out'),
  // As kube-apiserver answered on a saturated node: its etcd health call timed out, etcd's
  // readiness check passed.
  etcdSlow: () =>
    new KubeApiError(
      'GET',
      '/readyz',
      500,
      'Unknown',
      '[+]ping ok\n[-]etcd failed: reason withheld\n[+]etcd-readiness ok\n',
    ),
};

/** Runs a probe through `answers` (each poll takes `pollMs` of the fake clock); what it told. */
async function run(answers: Answer[], pollMs: number) {
  let now = 1_000_000;
  const script = [...answers];
  const paths: string[] = [];
  const client = {
    request: async (_method: string, path: string) => {
      paths.push(path);
      now += pollMs;
      const answer = script.shift() ?? 'ready';
      if (answer !== 'ready') throw errors[answer]();
      return 'ok';
    },
  } as unknown as KubeClient;
  const probe = new ApiHealthProbe(client, {
    intervalMs: 1,
    timeoutMs: 5_000,
    failuresBefore: 2,
    unreadyMs: 10_000,
    silentMs: 30_000,
    log: silentLogger(),
    now: () => now,
  });
  const told: (string | undefined)[] = [];
  probe.subscribe((u: ServiceFailure | undefined) => told.push(u?.reason));
  probe.start();
  const deadline = Date.now() + 5_000;
  while (paths.length <= answers.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
  probe.stop();
  return { told, paths, checks: Object.fromEntries(probe.checks()) };
}

describe('ApiHealthProbe', () => {
  it('says unavailable after two unreachable polls in a row and available again after one ready', async () => {
    const r = await run(
      ['ready', 'unreachable', 'ready', 'unreachable', 'unreachable', 'unreachable', 'ready', 'ready'],
      10,
    );
    // One blip (a single refused connection) is not an outage; three in a row are, once; a ready
    // answer ends it.
    expect(r.told).toEqual([API_UNAVAILABLE_REASON, undefined]);
    expect(new Set(r.paths)).toEqual(new Set(['/readyz']));
    expect(r.checks).toMatchObject({ unreachable: 4, unready: 0, timeout: 0 });
  });

  it('does not call a slow or struggling API unavailable within the unready time', async () => {
    // Polls of 2 s that time out or answer not ready (etcd slow): 8 s without a ready answer.
    const r = await run(['ready', 'timeout', 'unready', 'unready', 'timeout', 'ready'], 2_000);
    expect(r.told).toEqual([]);
    expect(r.checks).toMatchObject({ timeout: 2, unready: 2 });
  });

  it('calls the API unavailable once no poll has been ready for the unready time', async () => {
    const r = await run(['ready', 'unready', 'timeout', 'unready', 'unready', 'unready', 'ready'], 2_500);
    // The fourth poll after the last ready one is 10 s after it: unavailable, once; ready ends it.
    expect(r.told).toEqual([API_UNAVAILABLE_REASON, undefined]);
  });

  it('gives polls that time out the longer silent time: slow is not gone', async () => {
    // 5 s polls that time out: 25 s without a ready answer is still available.
    const slow = await run(['ready', 'timeout', 'timeout', 'timeout', 'timeout', 'timeout', 'ready'], 5_000);
    expect(slow.told).toEqual([]);
    // 30 s of them is an outage; an answered not-ready at 15 s would have been one too.
    const silent = await run(
      ['ready', 'timeout', 'timeout', 'timeout', 'timeout', 'timeout', 'timeout', 'ready'],
      5_000,
    );
    expect(silent.told).toEqual([API_UNAVAILABLE_REASON, undefined]);
    const answered = await run(['ready', 'timeout', 'timeout', 'unready', 'ready'], 5_000);
    expect(answered.told).toEqual([API_UNAVAILABLE_REASON, undefined]);
  });

  it('gives a not-ready answer with etcd still ready the silent time too', async () => {
    const slow = await run(
      ['ready', 'etcdSlow', 'etcdSlow', 'etcdSlow', 'etcdSlow', 'etcdSlow', 'ready'],
      5_000,
    );
    expect(slow.told).toEqual([]);
    expect(slow.checks).toMatchObject({ unready: 5 });
    const gone = await run(
      ['ready', 'etcdSlow', 'etcdSlow', 'etcdSlow', 'etcdSlow', 'etcdSlow', 'etcdSlow', 'ready'],
      5_000,
    );
    expect(gone.told).toEqual([API_UNAVAILABLE_REASON, undefined]);
  });

  it('needs the unreachable polls in a row: an answer between them starts the count again', async () => {
    const r = await run(['unreachable', 'unready', 'unreachable', 'timeout', 'unreachable', 'ready'], 1_000);
    expect(r.told).toEqual([]);
  });
});
