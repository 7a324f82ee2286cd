// A real Prometheus (Debian's package) scrapes every component on the local cluster with the
// discovery the chart gives: pods annotated prometheus.io/scrape (controller, autoscaler,
// activator) and the queue-proxy containers' `metrics` port (what the chart's PodMonitor selects).
// Debian's Prometheus 2.42 has no Kubernetes discovery, so the test turns the same pod selection
// into file_sd targets. After a cold start PromQL returns its duration and phases; after a load
// step, desired pods and panic mode.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeClient, kubectlOk, testNamespace, waitFor, waitServiceReady } from '../../dev/cluster/kube.ts';
import { serverlessService } from '../../dev/cluster/manifests.ts';
import { installZeroscale } from '../../dev/cluster/zeroscale.ts';
import { request, runLoad } from '../../dev/load.ts';

const client = kubeClient();
let ns: { name: string; remove: () => Promise<void> };
let prometheus: ChildProcess | undefined;
let promPort = 0;
let dir = '';
let discovery: NodeJS.Timeout | undefined;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen({ host: '127.0.0.1', port: 0 }, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** The chart's discovery, as file_sd targets: annotated pods and queue-proxy metrics ports. */
async function writeTargets(): Promise<void> {
  const pods = await client.get<{ items: V1Pod[] }>('/api/v1/pods');
  const groups: { targets: string[]; labels: Record<string, string> }[] = [];
  for (const p of pods.items) {
    const ip = p.status?.podIP;
    if (!ip || p.status?.phase !== 'Running') continue;
    const labels = { namespace: p.metadata?.namespace ?? '', pod: p.metadata?.name ?? '' };
    const a = p.metadata?.annotations ?? {};
    if (a['prometheus.io/scrape'] === 'true') {
      groups.push({
        targets: [`${ip}:${a['prometheus.io/port'] ?? '9090'}`],
        labels: { ...labels, __metrics_path__: a['prometheus.io/path'] ?? '/metrics' },
      });
    }
    const qp = p.spec?.containers
      .find((c) => c.name === 'queue-proxy')
      ?.ports?.find((x) => x.name === 'metrics');
    if (qp) groups.push({ targets: [`${ip}:${qp.containerPort}`], labels });
  }
  const file = path.join(dir, 'targets.json');
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(groups));
  fs.renameSync(`${file}.tmp`, file);
}

async function query(promql: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const res = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await res.json()) as {
    status: string;
    data: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  if (body.status !== 'success') throw new Error(`query failed: ${JSON.stringify(body)}`);
  return body.data.result;
}

beforeAll(async () => {
  // Installed by `make test-deps` (scripts/ensure-prometheus.sh); the test installs nothing.
  if (!fs.existsSync('/usr/bin/prometheus'))
    throw new Error('prometheus not found at /usr/bin/prometheus: run `make test-deps`');
  await installZeroscale();
  ns = await testNamespace('prom');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zeroscale-prom-'));
  await writeTargets();
  discovery = setInterval(() => void writeTargets().catch(() => undefined), 1_000);
  fs.writeFileSync(
    path.join(dir, 'prometheus.yml'),
    [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      'scrape_configs:',
      '  - job_name: zeroscale',
      '    honor_labels: true',
      '    file_sd_configs: [{ files: [targets.json], refresh_interval: 1s }]',
    ].join('\n'),
  );
  promPort = await freePort();
  prometheus = spawn(
    '/usr/bin/prometheus',
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ],
    {
      stdio: [
        'ignore',
        fs.openSync(path.join(dir, 'prometheus.log'), 'a'),
        fs.openSync(path.join(dir, 'prometheus.log'), 'a'),
      ],
    },
  );
  await waitFor(
    'Prometheus ready',
    async () => (await fetch(`http://127.0.0.1:${promPort}/-/ready`)).ok,
    30_000,
  );
}, 300_000);

afterAll(async () => {
  clearInterval(discovery);
  prometheus?.kill('SIGTERM');
  await ns.remove();
  client.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function deploy(name: string, scaling: Record<string, unknown>): Promise<string> {
  await kubectlOk(
    ['apply', '-n', ns.name, '-f', '-'],
    JSON.stringify(serverlessService(name, { scaling: { stableWindow: '6s', ...scaling } })),
  );
  await waitServiceReady(ns.name, name);
  return `${name}.${ns.name}.example.com`;
}

describe('Prometheus scraping the components', () => {
  it('scrapes the controller, autoscaler and activators through their pod annotations', async () => {
    const up = await waitFor(
      'every component up',
      async () => {
        const r = await query('sum by (component) (zeroscale_build_info)');
        const components = new Set(r.map((x) => x.metric.component));
        return ['controller', 'autoscaler', 'activator'].every((c) => components.has(c))
          ? components
          : undefined;
      },
      60_000,
    );
    expect(up.size).toBeGreaterThanOrEqual(3);
    // Each of them, the queue-proxies too, exports its memory and CPU.
    const without = await query('zeroscale_build_info unless on (instance) process_resident_memory_bytes');
    expect(without.map((x) => x.metric.component)).toEqual([]);
  });

  it('returns a cold start and its phases by PromQL', async () => {
    const host = await deploy('coldprom', { minScale: 0, initialScale: 0 });
    expect((await request(host, '/')).status).toBe(200);
    const sel = `namespace="${ns.name}",service="coldprom"`;
    const count = await waitFor(
      'the cold start in Prometheus',
      async () => {
        const r = await query(`sum(zeroscale_cold_start_duration_seconds_count{${sel}})`);
        return Number(r[0]?.value[1] ?? 0) >= 1 ? Number(r[0]!.value[1]) : undefined;
      },
      60_000,
    );
    expect(count).toBeGreaterThanOrEqual(1);
    const duration = await query(`sum(zeroscale_cold_start_duration_seconds_sum{${sel}})`);
    expect(Number(duration[0]?.value[1])).toBeGreaterThan(0);
    const phases = await query(`sum by (phase) (zeroscale_cold_start_phase_duration_seconds_count{${sel}})`);
    const names = phases.map((p) => p.metric.phase);
    expect(names).toEqual(
      expect.arrayContaining([
        'decision',
        'pod_created',
        'pod_scheduled',
        'pod_discovered',
        'pod_ready',
        'forwarded',
      ]),
    );
  });

  it('shows desired pods and panic mode after a load step', async () => {
    const host = await deploy('stepprom', { target: 2, targetUtilizationPercentage: 100, maxScale: 6 });
    const load = runLoad({ host, path: '/sleep?ms=300', concurrency: 12, durationMs: 15_000 });
    const sel = `namespace="${ns.name}",service="stepprom"`;
    const desired = await waitFor(
      'desired pods above 1 in Prometheus',
      async () => {
        const r = await query(`max_over_time(zeroscale_autoscaler_desired_pods{${sel}}[1m])`);
        return Number(r[0]?.value[1] ?? 0) > 1 ? Number(r[0]!.value[1]) : undefined;
      },
      60_000,
    );
    expect(desired).toBeGreaterThan(1);
    const panic = await waitFor(
      'panic mode seen in Prometheus',
      async () => {
        const r = await query(`max_over_time(zeroscale_autoscaler_panic_mode{${sel}}[1m])`);
        return r[0]?.value[1] === '1' ? true : undefined;
      },
      60_000,
    );
    expect(panic).toBe(true);
    const result = await load;
    expect(result.failures).toEqual([]);
    // What the service spent: pod-seconds, and the requests served, close to what the load sent
    // (the autoscaler measures them from the reported rates, so within a margin).
    const served = await waitFor(
      'the requests served in Prometheus',
      async () => {
        const r = await query(`sum(zeroscale_requests_served_total{${sel}})`);
        const v = Number(r[0]?.value[1] ?? 0);
        return v >= 0.7 * result.total ? v : undefined;
      },
      60_000,
    );
    expect(served).toBeLessThan(1.3 * result.total);
    const podSeconds = Number(
      (await query(`sum(zeroscale_replica_seconds_total{${sel}})`))[0]?.value[1] ?? 0,
    );
    // More than one pod for most of the 15 s of load.
    expect(podSeconds).toBeGreaterThan(15);
    const cpu = Number((await query(`sum(zeroscale_requested_cpu_seconds_total{${sel}})`))[0]?.value[1] ?? 0);
    expect(cpu).toBeGreaterThan(0);
  });
});
