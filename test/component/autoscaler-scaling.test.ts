// The autoscaler's runtime over real sockets on 127.0.0.1: fake queue-proxies scraped over HTTP,
// activator reports and pokes posted to the stats server. Time is a ManualClock: driven tick by
// tick, except in the last test, where the autoscaler's own 1 s timer loop runs on it.
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunningAutoscaler, startAutoscaler } from '../../src/autoscaler/index.ts';
import { type MemoryServiceOptions, memoryService } from '../../src/autoscaler/memory.ts';
import {
  type ActivatorReport,
  AUTOSCALER_POKE_PATH,
  AUTOSCALER_STATS_PATH,
} from '../../src/autoscaler/metrics/protocol.ts';
import { type Clock, ManualClock, systemClock } from '../../src/clock.ts';
import { silentLogger } from '../../src/telemetry/log.ts';
import { FakeFleet, waitFor } from './autoscaler-fleet.ts';

const NS = 'default';
const NEVER_MS = 3_600_000;
const t0 = Date.UTC(2026, 0, 1);

interface World {
  readonly fleet: FakeFleet;
  readonly running: RunningAutoscaler;
  readonly clock: Clock;
}

const worlds: World[] = [];
afterEach(async () => {
  for (const world of worlds.splice(0)) {
    await world.running.stop();
    await world.fleet.close();
  }
});

interface WorldOptions {
  clock?: Clock;
  tickMs?: number;
  graceMs?: number;
  /** Another autoscaler on the same pods (a standby beside a leader); it is closed with the first. */
  fleet?: FakeFleet;
  leading?: boolean;
}

async function world(options: WorldOptions = {}): Promise<World> {
  const clock = options.clock ?? new ManualClock(t0);
  const fleet = options.fleet ?? new FakeFleet(clock);
  const running = await startAutoscaler({
    leading: options.leading ?? true,
    source: fleet.source,
    target: fleet,
    logger: silentLogger(),
    registry: new Registry(),
    port: 0,
    host: '127.0.0.1',
    clock,
    // The loop ticks once an hour of clock time unless told otherwise: the test ticks by hand.
    config: {
      tickMs: options.tickMs ?? NEVER_MS,
      cluster: { scaleToZeroGracePeriodMs: options.graceMs ?? 30_000 },
    },
    scrape: { timeoutMs: 2_000 },
  });
  const w = { fleet, running, clock };
  // A shared fleet is closed once, by the world that made it (afterEach runs in order).
  worlds.push(options.fleet === undefined ? w : { ...w, fleet: new FakeFleet(clock) });
  return w;
}

async function addService(w: World, name: string, pods: number, options: MemoryServiceOptions) {
  w.fleet.source.set(memoryService(NS, name, options));
  await w.fleet.setScale({ namespace: NS, name }, pods);
  w.fleet.events.length = 0;
  return w.fleet.load(NS, name);
}

/** A second passes and a tick runs to its end over the sockets; then the writes settle. */
async function tick(w: World): Promise<void> {
  (w.clock as ManualClock).advance(1_000);
  await w.running.autoscaler.tick();
  await w.fleet.settled();
}

/**
 * Lets the autoscaler's own timer loop run on the ManualClock, a second of clock time at a time,
 * each tick's scrapes and writes over the sockets done, until `done` or `limitMs` of clock time.
 */
async function runLoopUntil(w: World, what: string, done: () => boolean, limitMs: number): Promise<void> {
  const clock = w.clock as ManualClock;
  for (let ms = 0; ms < limitMs; ms += 1_000) {
    await clock.tick(1_000);
    await w.running.autoscaler.idle();
    await w.fleet.settled();
    if (done()) return;
  }
  throw new Error(`${what}: not within ${limitMs} ms of clock time`);
}

async function post(port: number, path: string, body: unknown): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  await res.arrayBuffer();
  return res.status;
}

describe('autoscaler over sockets', () => {
  it('scales a cold service 0 → activationScale on a poke, before any tick', async () => {
    const w = await world({ clock: systemClock });
    w.fleet.source.set(memoryService(NS, 'cold', { scaling: { initialScale: 0, activationScale: 3 } }));
    // The loop ticks once an hour: only the poke can scale it.
    expect(
      await post(w.running.port, AUTOSCALER_POKE_PATH, { service: 'default/cold', activator: 'a-0' }),
    ).toBe(204);
    await waitFor('3 pods', () => w.fleet.replicas(NS, 'cold') === 3);
    expect(w.fleet.events.filter((e) => e.what === 'scale')).toMatchObject([{ replicas: 3 }]);
  });

  it('settles sustained concurrency C at ceil(C / (T × U)) pods, counting activator traffic once', async () => {
    const w = await world();
    // C = 10 in flight, 6 of them through the activator; T = 4, U = 50 % → ceil(10 / 2) = 5.
    const load = await addService(w, 'steady', 1, {
      scaling: { stableWindow: '6s', target: 4, targetUtilizationPercentage: 50 },
    });
    load.total = 10;
    load.proxied = 6;
    const report: ActivatorReport = {
      activator: 'a-0',
      intervalMs: 1_000,
      services: [{ service: 'default/steady', averageConcurrency: 6, requestsPerSecond: 0, queued: 0 }],
    };
    for (let i = 0; i < 20; i++) {
      expect(await post(w.running.port, AUTOSCALER_STATS_PATH, report)).toBe(204);
      await tick(w);
    }
    expect(w.fleet.replicas(NS, 'steady')).toBe(5);
    expect(w.running.autoscaler.inspect(NS, 'steady')).toMatchObject({
      desiredPods: 5,
      stableConcurrency: 10,
      panicking: false,
    });
    const scales = w.fleet.events.length;
    for (let i = 0; i < 8; i++) {
      await post(w.running.port, AUTOSCALER_STATS_PATH, report);
      await tick(w);
    }
    expect(w.fleet.events.length).toBe(scales);
  });

  it('enters panic on a burst and scales up at the first tick after it', async () => {
    const w = await world();
    const load = await addService(w, 'bursty', 2, {
      scaling: { stableWindow: '6s', target: 4, targetUtilizationPercentage: 50, maxScale: 12 },
    });
    load.total = 4;
    for (let i = 0; i < 8; i++) await tick(w);
    expect(w.running.autoscaler.inspect(NS, 'bursty')).toMatchObject({ desiredPods: 2, panicking: false });
    load.total = 40;
    await tick(w);
    // Panic window 1 s: 40 / 2 = 20 pods wanted, 20 / 2 ready >= 200 % → panic; capped at maxScale 12.
    expect(w.running.autoscaler.inspect(NS, 'bursty')).toMatchObject({ panicking: true, desiredPods: 12 });
    await waitFor('12 pods', () => w.fleet.replicas(NS, 'bursty') === 12);
  });

  it('goes to zero after the stable window and the grace period, once the activator is in the path', async () => {
    const w = await world({ graceMs: 3_000 });
    // Burst capacity 0: the pods serve directly while active; the activator enters when idle.
    await addService(w, 'idle', 1, { scaling: { stableWindow: '6s', targetBurstCapacity: 0 } });
    for (let i = 0; i < 15; i++) await tick(w);
    expect(w.fleet.replicas(NS, 'idle')).toBe(0);
    const seconds = w.fleet.events.map(
      (e) => `${(e.atMs - t0) / 1_000}s ${e.what}${e.replicas === undefined ? '' : ` ${e.replicas}`}`,
    );
    // First decision at 1 s (active from then), idle for the window → proxy at 7 s, zero 3 s later.
    expect(seconds).toEqual(['1s scale 1', '7s activator-in-path', '10s scale 0']);
    expect(w.fleet.statuses.get('default/idle')).toMatchObject({
      mode: 'proxy',
      desiredScale: 0,
      phase: { kind: 'zero' },
    });
  });

  it('runs the real loop: settles under load, then goes to zero through the activator handshake', async () => {
    const w = await world({ tickMs: 1_000, graceMs: 1_000 });
    const load = await addService(w, 'live', 1, {
      scaling: { stableWindow: '6s', target: 2, targetUtilizationPercentage: 100, targetBurstCapacity: 0 },
    });
    load.total = 6;
    await runLoopUntil(w, '3 pods under load', () => w.fleet.replicas(NS, 'live') === 3, 10_000);
    load.total = 0;
    await runLoopUntil(w, 'zero pods once idle', () => w.fleet.replicas(NS, 'live') === 0, 25_000);
    const inPath = w.fleet.events.find((e) => e.what === 'activator-in-path');
    const zero = w.fleet.events.find((e) => e.what === 'scale' && e.replicas === 0);
    expect(inPath).toBeDefined();
    expect(zero!.atMs - inPath!.atMs).toBeGreaterThanOrEqual(1_000);
  });

  describe('a hot standby that takes over', () => {
    // 4 pods carry 16 in flight (target 4 per pod); the load drops to 4 at DROP_S and the leader
    // stops one second later. A stable window (6 s) after the drop, one pod is enough.
    const DROP_S = 12;
    const TAKEOVER_S = DROP_S + 1;
    const spec: MemoryServiceOptions = {
      scaling: { stableWindow: '6s', target: 4, targetUtilizationPercentage: 100, maxScale: 8 },
    };

    /** Seconds after the drop at which the service went to 1 pod, with `next` leading from TAKEOVER_S. */
    async function scaleDownAfterDrop(next: 'same' | 'standby' | 'fresh'): Promise<number> {
      const clock = new ManualClock(t0);
      const leader = await world({ clock });
      const load = await addService(leader, 'cooling', 4, spec);
      const standby =
        next === 'standby' ? await world({ clock, fleet: leader.fleet, leading: false }) : undefined;
      load.total = 16;
      let deciding = [leader, ...(standby ? [standby] : [])];
      for (let s = 1; s <= 40; s++) {
        if (s === DROP_S) load.total = 4;
        if (s === TAKEOVER_S && next !== 'same') {
          await leader.running.stop();
          const successor = standby ?? (await world({ clock, fleet: leader.fleet }));
          successor.running.autoscaler.lead();
          deciding = [successor];
        }
        clock.advance(1_000);
        await Promise.all(deciding.map((w) => w.running.autoscaler.tick()));
        await leader.fleet.settled();
        if (leader.fleet.replicas(NS, 'cooling') === 1) return s - DROP_S;
      }
      throw new Error('never went to 1 pod');
    }

    it('writes nothing and exports no service gauges while standing by', async () => {
      const clock = new ManualClock(t0);
      const leader = await world({ clock });
      const load = await addService(leader, 'quiet', 2, spec);
      load.total = 20;
      const standby = await world({ clock, fleet: leader.fleet, leading: false });
      clock.advance(1_000);
      await standby.running.autoscaler.tick();
      await leader.fleet.settled();
      // The standby wants 5 pods, as the leader would, but only the leader may say so.
      expect(standby.running.autoscaler.inspect(NS, 'quiet')).toMatchObject({ desiredPods: 5 });
      expect(leader.fleet.events).toEqual([]);
      expect(leader.fleet.statuses.size).toBe(0);
      standby.running.autoscaler.lead();
      clock.advance(1_000);
      await standby.running.autoscaler.tick();
      await leader.fleet.settled();
      expect(leader.fleet.replicas(NS, 'quiet')).toBe(5);
    });

    it("scales down on the old leader's schedule, where a fresh leader holds every pod a stable window longer", async () => {
      const undisturbed = await scaleDownAfterDrop('same');
      const standby = await scaleDownAfterDrop('standby');
      const fresh = await scaleDownAfterDrop('fresh');
      expect(standby).toBe(undisturbed);
      expect(fresh).toBeGreaterThanOrEqual(TAKEOVER_S - DROP_S + 6);
      expect(fresh).toBeGreaterThan(undisturbed);
    });
  });
});
