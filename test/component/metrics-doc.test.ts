// docs/metrics.md lists every zeroscale_* metric: the metrics each component registers are read
// from real registries and compared with the names in the first column of the page's tables.

import fs from 'node:fs';
import path from 'node:path';
import type { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { AutoscalerMetrics } from '../../src/autoscaler/autoscaler-metrics.ts';
import { KubeScaleTarget } from '../../src/autoscaler/kube/target.ts';
import { StatsServer } from '../../src/autoscaler/statserver/stats-server.ts';
import { systemClock } from '../../src/clock.ts';
import { LeaderElector } from '../../src/kube/leader.ts';
import { OwnWrites } from '../../src/kube/own-writes.ts';
import type { KubeClient } from '../../src/kube/rest.ts';
import { WorkQueue } from '../../src/kube/workqueue.ts';
import { silentLogger } from '../../src/telemetry/log.ts';
import { createRegistry } from '../../src/telemetry/metrics.ts';
import { startActivatorRig, startTestQueueProxy } from './proxy-harness.ts';

function names(registry: Registry): string[] {
  return registry
    .getMetricsAsArray()
    .map((m) => m.name)
    .filter((n) => n.startsWith('zeroscale_'));
}

async function registeredMetrics(): Promise<Set<string>> {
  const all = new Set<string>();
  const activator = createRegistry('activator');
  const rig = await startActivatorRig(undefined, {}, { registry: activator });
  await rig.close();
  const queue = createRegistry('queue-proxy');
  const qp = await startTestQueueProxy(1, {}, { registry: queue });
  await qp.close();
  const autoscaler = createRegistry('autoscaler');
  new AutoscalerMetrics(autoscaler, () => []);
  new StatsServer({
    sink: { recordReport: () => {}, poke: () => 'decided' },
    logger: silentLogger(),
    registry: autoscaler,
  });
  new LeaderElector({} as KubeClient, {
    namespace: 'zeroscale-system',
    name: 'zeroscale-autoscaler',
    identity: 'test',
    component: 'autoscaler',
    registry: autoscaler,
    clock: systemClock,
  });
  new KubeScaleTarget({} as KubeClient, {
    log: silentLogger(),
    ownerOf: () => undefined,
    registry: autoscaler,
  });
  const controller = createRegistry('controller');
  new WorkQueue(
    { name: 'serverlessservice', workers: 1, maxLength: 1, registry: controller },
    async () => undefined,
  );
  new OwnWrites({ registry: controller });
  for (const registry of [activator, queue, autoscaler, controller])
    for (const n of names(registry)) all.add(n);
  return all;
}

function documentedMetrics(): Set<string> {
  const text = fs.readFileSync(path.resolve(import.meta.dirname, '../../docs/metrics.md'), 'utf8');
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('| `zeroscale_')) continue;
    const firstCell = line.split('|')[1]!;
    for (const m of firstCell.matchAll(/`(zeroscale_[a-z0-9_]+)`/g)) out.add(m[1]!);
  }
  return out;
}

describe('docs/metrics.md', () => {
  it('lists every zeroscale metric the components register, and no other', async () => {
    const registered = await registeredMetrics();
    const documented = documentedMetrics();
    expect([...registered].filter((n) => !documented.has(n)).sort(), 'registered but not documented').toEqual(
      [],
    );
    expect([...documented].filter((n) => !registered.has(n)).sort(), 'documented but not registered').toEqual(
      [],
    );
    expect(registered.size).toBeGreaterThan(50);
  });
});
