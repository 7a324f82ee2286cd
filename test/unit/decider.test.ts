import { describe, expect, it } from 'vitest';
import { MetricSeries, panicWindowMs, type WindowAverages } from '../../src/autoscaler/scaling/buckets.ts';
import {
  assertScalingSpec,
  chooseMode,
  DEFAULT_SCALING_SPEC,
  type DeciderState,
  decideScale,
  excessBurstCapacity,
  initialDeciderState,
  resolveTargets,
  type ScaleDecision,
  type ScalingSpec,
} from '../../src/autoscaler/scaling/decider.ts';
import type { ServingPhase } from '../../src/autoscaler/scaling/scale-to-zero.ts';
import { isZeroscaleError } from '../../src/errors.ts';

// Time is t0 + ms; no test sleeps. Defaults: target 100 × 70 % = 70 per pod, TBC 211, window 60 s.
const t0 = Date.UTC(2026, 0, 1);
const s = (seconds: number) => seconds * 1_000;
const longAgo = t0 - s(3_600);

const spec = (overrides: Partial<ScalingSpec> = {}): ScalingSpec => ({
  ...DEFAULT_SCALING_SPEC,
  ...overrides,
});
const avg = (stable: number, panic = stable): WindowAverages => ({ stable, panic });
const active = (sinceMs = longAgo): ServingPhase => ({ kind: 'active', sinceMs });

/** A settled service: calm, active for an hour, initialised. */
const settled = (phase: ServingPhase = active()): DeciderState => ({
  panic: { kind: 'calm' },
  delayWindow: [],
  phase,
  scaleTargetInitialized: true,
});

/** The parts of a decision a table row checks; absent fields are not checked. */
interface Expected {
  readonly kind?: ScaleDecision['kind'];
  readonly desiredScale?: number;
  readonly reason?: ScaleDecision['reason'];
  readonly panicking?: boolean;
  readonly excessBurstCapacity?: number;
  readonly mode?: ScaleDecision['mode'];
  readonly phase?: ServingPhase['kind'];
  readonly recheckAfterMs?: number | undefined;
}

/** Every checked field of a decision; `desiredScale` is −1 for a no-decision. */
function summary(decision: ScaleDecision) {
  return {
    kind: decision.kind,
    desiredScale: decision.kind === 'scale' ? decision.desiredScale : -1,
    reason: decision.reason,
    panicking: decision.panicking,
    excessBurstCapacity: decision.excessBurstCapacity,
    mode: decision.mode,
    phase: decision.state.phase.kind,
    recheckAfterMs: decision.recheckAfterMs,
  };
}

interface Case {
  readonly name: string;
  readonly spec?: Partial<ScalingSpec>;
  readonly averages: WindowAverages | undefined;
  readonly readyPods: number;
  readonly state?: DeciderState;
  readonly activatorInPathSinceMs?: number;
  readonly release?: 'idle' | 'budget';
  readonly reachable?: boolean;
  readonly now?: number;
  readonly expected: Expected;
}

function decide(c: Case): ScaleDecision {
  return decideScale(
    {
      spec: spec(c.spec),
      averages: c.averages,
      readyPods: c.readyPods,
      state: c.state ?? settled(),
      activatorInPathSinceMs: c.activatorInPathSinceMs,
      ...(c.release === undefined ? {} : { release: c.release }),
      ...(c.reachable === undefined ? {} : { reachable: c.reachable }),
    },
    t0 + (c.now ?? 0),
  );
}

const singleDecisions: readonly Case[] = [
  // No data, one pod, the basic formula.
  {
    name: 'no data: no decision, and proxy while 1 pod cannot cover the burst (100 − 211 < 0)',
    averages: undefined,
    readyPods: 1,
    expected: { kind: 'no-decision', reason: 'no-data', excessBurstCapacity: -111, mode: 'proxy' },
  },
  {
    name: 'no data with 3 idle pods: serve (300 − 211 = 89)',
    averages: undefined,
    readyPods: 3,
    expected: { kind: 'no-decision', reason: 'no-data', excessBurstCapacity: 89, mode: 'serve' },
  },
  {
    name: 'one pod exactly at target: ceil(70 / 70) = 1',
    averages: avg(70),
    readyPods: 1,
    expected: { desiredScale: 1, reason: 'stable', panicking: false },
  },
  {
    name: 'one pod just over target: ceil(71 / 70) = 2, and 2 / 1 >= 200 % is already a panic',
    averages: avg(71),
    readyPods: 1,
    expected: { desiredScale: 2, reason: 'panic', panicking: true },
  },
  {
    name: 'sustained concurrency 350 on 5 pods: ceil(350 / 70) = 5',
    averages: avg(350),
    readyPods: 5,
    expected: {
      desiredScale: 5,
      reason: 'stable',
      panicking: false,
      excessBurstCapacity: -61,
      mode: 'proxy',
    },
  },
  {
    name: 'worked example: 4 pods, stable 350, panic 420 → 5; 6 / 4 < 2 so calm; EBC 400 − 211 − 420',
    averages: avg(350, 420),
    readyPods: 4,
    expected: { desiredScale: 5, reason: 'stable', panicking: false, excessBurstCapacity: -231 },
  },
  {
    name: 'utilisation 100 %: target 10, concurrency 30 → 3',
    spec: { target: 10, targetUtilizationPercentage: 100 },
    averages: avg(30),
    readyPods: 3,
    expected: { desiredScale: 3, reason: 'stable' },
  },
  {
    name: 'containerConcurrency caps the concurrency target: min(100, 10) × 70 % = 7; 20 / 7 → 3',
    spec: { containerConcurrency: 10 },
    averages: avg(20),
    readyPods: 3,
    expected: { desiredScale: 3, reason: 'stable', excessBurstCapacity: -201 },
  },
  // The RPS metric.
  {
    name: 'rps: 300 req/s at target 200 × 70 % = 140 → ceil(2.14) = 3',
    spec: { metric: 'rps', target: 200 },
    averages: avg(300),
    readyPods: 3,
    expected: { desiredScale: 3, reason: 'stable', panicking: false },
  },
  {
    name: 'rps ignores containerConcurrency: still 140 per pod, 300 → 3',
    spec: { metric: 'rps', target: 200, containerConcurrency: 10 },
    averages: avg(300),
    readyPods: 3,
    expected: { desiredScale: 3, reason: 'stable' },
  },
  {
    name: 'rps panic: 1000 req/s in the panic window on 2 pods → ceil(7.14) = 8, 8 / 2 >= 2',
    spec: { metric: 'rps', target: 200 },
    averages: avg(200, 1_000),
    readyPods: 2,
    expected: { desiredScale: 8, reason: 'panic', panicking: true },
  },
  // Rate limits.
  {
    name: 'max scale-up rate 2 on 2 pods: 10 wanted, ceil(2 × 2) = 4 allowed',
    spec: { maxScaleUpRate: 2 },
    averages: avg(700),
    readyPods: 2,
    expected: { desiredScale: 4, reason: 'max-scale-up-rate', panicking: true },
  },
  {
    name: 'max scale-up rate 1.1 on 2 pods: ceil(2.2) = 3 still lets it grow by one',
    spec: { maxScaleUpRate: 1.1 },
    averages: avg(350, 140),
    readyPods: 2,
    expected: { desiredScale: 3, reason: 'max-scale-up-rate' },
  },
  {
    name: 'max scale-down rate 2 on 10 pods: 1 wanted, floor(10 / 2) = 5 kept',
    averages: avg(70),
    readyPods: 10,
    expected: { desiredScale: 5, reason: 'max-scale-down-rate' },
  },
  {
    name: 'max scale-down rate 2 on 7 pods: floor(3.5) = 3',
    averages: avg(0),
    readyPods: 7,
    expected: { desiredScale: 3, reason: 'max-scale-down-rate' },
  },
  {
    name: 'max scale-down rate 4 on 10 pods: floor(2.5) = 2',
    spec: { maxScaleDownRate: 4 },
    averages: avg(0),
    readyPods: 10,
    expected: { desiredScale: 2, reason: 'max-scale-down-rate' },
  },
  // From zero and activation scale.
  {
    name: 'from zero: the first request (concurrency 1) wants ceil(1 / 70) = 1 pod; phase active',
    averages: avg(1),
    readyPods: 0,
    state: settled({ kind: 'zero', sinceMs: longAgo }),
    expected: {
      desiredScale: 1,
      reason: 'stable',
      phase: 'active',
      mode: 'proxy',
      excessBurstCapacity: -212,
    },
  },
  {
    name: 'from zero with activationScale 3: 3 pods',
    spec: { activationScale: 3 },
    averages: avg(1),
    readyPods: 0,
    state: settled({ kind: 'zero', sinceMs: longAgo }),
    expected: { desiredScale: 3, reason: 'activation-scale', phase: 'active' },
  },
  {
    name: 'from zero, a burst of 200: ceil(200 / 70) = 3 on 1 (virtual) pod is a panic',
    averages: avg(20, 200),
    readyPods: 0,
    state: settled({ kind: 'zero', sinceMs: longAgo }),
    expected: { desiredScale: 3, reason: 'panic', panicking: true, phase: 'active' },
  },
  {
    name: 'activationScale stays a floor while demand lasts: 1 pod wanted on 3 → 3',
    spec: { activationScale: 3 },
    averages: avg(10),
    readyPods: 3,
    expected: { desiredScale: 3, reason: 'activation-scale' },
  },
  {
    name: 'activationScale does not hold pods without demand: 0 stays 0 at zero',
    spec: { activationScale: 3 },
    averages: avg(0),
    readyPods: 0,
    state: settled({ kind: 'zero', sinceMs: longAgo }),
    expected: { desiredScale: 0, reason: 'scaled-to-zero', phase: 'zero' },
  },
  {
    name: 'activationScale below the demand changes nothing: 350 → 5',
    spec: { activationScale: 3 },
    averages: avg(350),
    readyPods: 5,
    expected: { desiredScale: 5, reason: 'stable' },
  },
  {
    name: 'maxScale caps activationScale: activation 5, max 2 → 2',
    spec: { activationScale: 5, maxScale: 2 },
    averages: avg(1),
    readyPods: 0,
    state: settled({ kind: 'zero', sinceMs: longAgo }),
    expected: { desiredScale: 2, reason: 'max-scale' },
  },
  // min, max, initial.
  {
    name: 'minScale 2 holds 2 without load',
    spec: { minScale: 2 },
    averages: avg(0),
    readyPods: 2,
    expected: { desiredScale: 2, reason: 'min-scale', phase: 'active' },
  },
  {
    name: 'maxScale 6 caps 10',
    spec: { maxScale: 6 },
    averages: avg(700),
    readyPods: 8,
    expected: { desiredScale: 6, reason: 'max-scale', panicking: false },
  },
  {
    name: 'initialScale 5 is a floor until 5 pods were once ready (2 ready, no load → 5)',
    spec: { initialScale: 5 },
    averages: avg(0),
    readyPods: 2,
    state: { ...settled(active(t0)), scaleTargetInitialized: false },
    expected: { desiredScale: 5, reason: 'initial-scale' },
  },
  {
    name: 'initialScale 5 no longer holds once reached: 5 ready, no load → floor(5 / 2) = 2',
    spec: { initialScale: 5 },
    averages: avg(0),
    readyPods: 5,
    state: { ...settled(active(t0)), scaleTargetInitialized: false },
    expected: { desiredScale: 2, reason: 'max-scale-down-rate' },
  },
  {
    name: 'initialScale 0 at zero: no load keeps it at zero',
    spec: { initialScale: 0 },
    averages: avg(0),
    readyPods: 0,
    state: settled({ kind: 'zero', sinceMs: t0 }),
    expected: { desiredScale: 0, reason: 'scaled-to-zero', phase: 'zero' },
  },
  // Released by the predictive idle policy.
  {
    name: 'released: the stable window of 1 pod of demand is not waited out; straight to zero with the activator in path',
    averages: avg(20, 0),
    readyPods: 1,
    state: settled(active(t0)),
    activatorInPathSinceMs: t0 - 60_000,
    release: 'idle',
    now: 1_000,
    expected: { desiredScale: 0, reason: 'scaled-to-zero', phase: 'zero' },
  },
  {
    name: 'released without the activator in path: one pod waits for it (no request can be lost)',
    averages: avg(20, 0),
    readyPods: 1,
    state: settled(active(t0)),
    release: 'idle',
    now: 1_000,
    expected: { desiredScale: 1, reason: 'waiting-for-activator', phase: 'inactive' },
  },
  // A revision no traffic reaches (Knative's Reachability): zero at once, past every floor and gate.
  {
    name: 'unreachable with load and minScale 3: zero at once, no delay, no activator wait',
    spec: { minScale: 3, scaleDownDelayMs: 60_000 },
    averages: avg(300, 300),
    readyPods: 5,
    reachable: false,
    expected: { desiredScale: 0, reason: 'unreachable', phase: 'zero', mode: 'proxy', panicking: false },
  },
  {
    name: 'unreachable with no data: still zero (no decision is not an answer here)',
    averages: undefined,
    readyPods: 2,
    reachable: false,
    expected: { kind: 'scale', desiredScale: 0, reason: 'unreachable', phase: 'zero' },
  },
  {
    name: 'reachable again at zero: the ordinary rules (a request wakes it)',
    averages: avg(1, 1),
    readyPods: 0,
    reachable: true,
    state: settled({ kind: 'zero', sinceMs: t0 - 10_000 }),
    expected: { desiredScale: 1, phase: 'active' },
  },
  {
    name: 'released, minScale 2: the floors still hold',
    spec: { minScale: 2 },
    averages: avg(20, 0),
    readyPods: 3,
    release: 'idle',
    expected: { desiredScale: 2, reason: 'min-scale', phase: 'active' },
  },
  {
    name: 'released while panicking: panic wins, no scale-down',
    averages: avg(140, 290),
    readyPods: 2,
    release: 'idle',
    expected: { desiredScale: 5, reason: 'panic', panicking: true },
  },
  {
    name: 'released for a spent budget (Reject) while panicking: the budget wins',
    averages: avg(140, 290),
    readyPods: 2,
    activatorInPathSinceMs: t0 - 60_000,
    state: settled(active(t0 - 120_000)),
    release: 'budget',
    expected: { desiredScale: 0, reason: 'scaled-to-zero' },
  },
  {
    name: 'released, scale-down delay 30 s: the delay does not hold the pods',
    spec: { scaleDownDelayMs: 30_000 },
    averages: avg(140, 0),
    readyPods: 2,
    activatorInPathSinceMs: t0 - 60_000,
    release: 'idle',
    state: settled(active(t0 - 120_000)),
    expected: { desiredScale: 0, reason: 'scaled-to-zero' },
  },
  // Excess burst capacity and mode.
  {
    name: 'EBC: 3 pods, panic 50 → floor(300 − 211 − 50) = 39, serve',
    averages: avg(50),
    readyPods: 3,
    expected: { excessBurstCapacity: 39, mode: 'serve' },
  },
  {
    name: 'EBC rounds down: panic 50.5 → floor(38.5) = 38',
    averages: avg(50.5),
    readyPods: 3,
    expected: { excessBurstCapacity: 38, mode: 'serve' },
  },
  {
    name: 'EBC: 2 idle pods → 200 − 211 = −11, proxy',
    averages: avg(0),
    readyPods: 2,
    expected: { excessBurstCapacity: -11, mode: 'proxy' },
  },
  {
    name: 'TBC 0: EBC 0, serve as soon as a pod is ready',
    spec: { targetBurstCapacity: 0 },
    averages: avg(60),
    readyPods: 1,
    expected: { excessBurstCapacity: 0, mode: 'serve' },
  },
  {
    name: 'TBC 0 without a ready pod: proxy (nothing to send to)',
    spec: { targetBurstCapacity: 0 },
    averages: avg(1),
    readyPods: 0,
    expected: { excessBurstCapacity: 0, mode: 'proxy' },
  },
  {
    name: 'TBC −1 (unlimited): EBC −1, always proxy',
    spec: { targetBurstCapacity: -1 },
    averages: avg(0),
    readyPods: 50,
    expected: { excessBurstCapacity: -1, mode: 'proxy' },
  },
];

describe('decideScale, one decision', () => {
  it.each(singleDecisions)('$name', (c) => {
    expect(summary(decide(c))).toMatchObject(c.expected);
  });
});

/** One tick of a scenario: inputs at t0 + at, and what the decision must be. */
interface Tick {
  readonly at: number;
  readonly averages: WindowAverages | undefined;
  readonly readyPods: number;
  readonly activatorInPathSinceMs?: number;
  readonly expected: Expected;
}

interface Scenario {
  readonly name: string;
  readonly spec?: Partial<ScalingSpec>;
  readonly state: DeciderState;
  readonly ticks: readonly Tick[];
}

const scenarios: readonly Scenario[] = [
  {
    name: 'panic: enters on a burst, never scales down in panic, exits a stable window after the last burst',
    state: settled(),
    ticks: [
      // 290 in the panic window on 2 pods: ceil(290 / 70) = 5, 5 / 2 = 2.5 >= 2.
      {
        at: 0,
        averages: avg(140, 290),
        readyPods: 2,
        expected: { desiredScale: 5, reason: 'panic', panicking: true },
      },
      // The burst is over: 3 would do, but panic holds 5.
      {
        at: s(2),
        averages: avg(150),
        readyPods: 5,
        expected: { desiredScale: 5, reason: 'panic-no-scale-down', panicking: true },
      },
      // Still panicking exactly a window after the last burst (the exit needs strictly more).
      {
        at: s(60),
        averages: avg(150),
        readyPods: 5,
        expected: { desiredScale: 5, reason: 'panic-no-scale-down', panicking: true },
      },
      // Calm: back to the stable count ceil(150 / 70) = 3 (floor(5 / 2) = 2 allows it).
      {
        at: s(62),
        averages: avg(150),
        readyPods: 5,
        expected: { desiredScale: 3, reason: 'stable', panicking: false },
      },
    ],
  },
  {
    name: 'panic: a second burst extends the panic and raises its floor',
    state: settled(),
    ticks: [
      { at: 0, averages: avg(140, 290), readyPods: 2, expected: { desiredScale: 5, panicking: true } },
      // 700 on 5 pods: 10 / 5 = 2 >= 2, over again at 30 s; the floor becomes 10.
      { at: s(30), averages: avg(200, 700), readyPods: 5, expected: { desiredScale: 10, reason: 'panic' } },
      {
        at: s(62),
        averages: avg(210),
        readyPods: 10,
        expected: { desiredScale: 10, reason: 'panic-no-scale-down' },
      },
      { at: s(90), averages: avg(210), readyPods: 10, expected: { desiredScale: 10, panicking: true } },
      // 30 s + 60 s < 92 s: calm, ceil(210 / 70) = 3, limited by floor(10 / 2) = 5.
      {
        at: s(92),
        averages: avg(210),
        readyPods: 10,
        expected: { desiredScale: 5, reason: 'max-scale-down-rate', panicking: false },
      },
    ],
  },
  {
    name: 'panic: no data keeps the panic state as it was',
    state: settled(),
    ticks: [
      { at: 0, averages: avg(140, 290), readyPods: 2, expected: { desiredScale: 5, panicking: true } },
      { at: s(2), averages: undefined, readyPods: 2, expected: { kind: 'no-decision', panicking: true } },
      {
        at: s(4),
        averages: avg(70),
        readyPods: 5,
        expected: { desiredScale: 5, reason: 'panic-no-scale-down' },
      },
    ],
  },
  {
    name: 'scale-down delay 10 s holds the maximum of the last 10 s, then lets go',
    spec: { scaleDownDelayMs: s(10), maxScaleDownRate: 100 },
    state: settled(),
    ticks: [
      { at: 0, averages: avg(560), readyPods: 8, expected: { desiredScale: 8, reason: 'stable' } },
      {
        at: s(2),
        averages: avg(210),
        readyPods: 8,
        expected: { desiredScale: 8, reason: 'scale-down-delay' },
      },
      {
        at: s(8),
        averages: avg(210),
        readyPods: 8,
        expected: { desiredScale: 8, reason: 'scale-down-delay' },
      },
      { at: s(10), averages: avg(210), readyPods: 8, expected: { desiredScale: 3, reason: 'stable' } },
      // A rise is never delayed.
      { at: s(12), averages: avg(420, 200), readyPods: 3, expected: { desiredScale: 6, reason: 'stable' } },
    ],
  },
  {
    name: 'no scale-down delay: the drop is immediate',
    spec: { maxScaleDownRate: 100 },
    state: settled(),
    ticks: [
      { at: 0, averages: avg(560), readyPods: 8, expected: { desiredScale: 8 } },
      { at: s(2), averages: avg(210), readyPods: 8, expected: { desiredScale: 3, reason: 'stable' } },
    ],
  },
  {
    name: 'scale to zero, fast path: the activator has been in the path all along (1 pod, EBC < 0)',
    state: settled(),
    ticks: [
      {
        at: 0,
        averages: avg(0),
        readyPods: 1,
        activatorInPathSinceMs: longAgo,
        expected: { desiredScale: 0, reason: 'scaled-to-zero', phase: 'zero', mode: 'proxy' },
      },
      {
        at: s(2),
        averages: avg(0),
        readyPods: 0,
        activatorInPathSinceMs: longAgo,
        expected: { desiredScale: 0, reason: 'scaled-to-zero', phase: 'zero' },
      },
    ],
  },
  {
    name: 'scale to zero from serve mode: proxy first, wait for the activator, then the grace period',
    spec: { targetBurstCapacity: 0 },
    state: settled(),
    ticks: [
      {
        at: -s(2),
        averages: avg(30),
        readyPods: 1,
        expected: { desiredScale: 1, mode: 'serve', phase: 'active' },
      },
      {
        at: 0,
        averages: avg(0),
        readyPods: 1,
        expected: { desiredScale: 1, reason: 'waiting-for-activator', phase: 'inactive', mode: 'proxy' },
      },
      {
        at: s(10),
        averages: avg(0),
        readyPods: 1,
        activatorInPathSinceMs: t0 + s(10),
        expected: {
          desiredScale: 1,
          reason: 'scale-to-zero-grace',
          phase: 'inactive',
          recheckAfterMs: s(20),
        },
      },
      // Inactive for the whole 30 s grace, with the activator confirmed: zero.
      {
        at: s(30),
        averages: avg(0),
        readyPods: 1,
        activatorInPathSinceMs: t0 + s(10),
        expected: { desiredScale: 0, reason: 'scaled-to-zero', phase: 'zero', mode: 'proxy' },
      },
    ],
  },
  {
    name: 'scale to zero waits as long as the activator is not confirmed in the path',
    spec: { targetBurstCapacity: 0 },
    state: settled(),
    ticks: [
      {
        at: 0,
        averages: avg(0),
        readyPods: 1,
        expected: { desiredScale: 1, reason: 'waiting-for-activator' },
      },
      {
        at: s(300),
        averages: avg(0),
        readyPods: 1,
        expected: { desiredScale: 1, reason: 'waiting-for-activator' },
      },
    ],
  },
  {
    name: 'pod retention 120 s keeps the last pod after going inactive',
    spec: { scaleToZeroPodRetentionMs: s(120) },
    state: settled(),
    ticks: [
      {
        at: 0,
        averages: avg(0),
        readyPods: 1,
        activatorInPathSinceMs: longAgo,
        expected: { desiredScale: 1, reason: 'scale-to-zero-pod-retention', recheckAfterMs: s(120) },
      },
      {
        at: s(50),
        averages: avg(0),
        readyPods: 1,
        activatorInPathSinceMs: longAgo,
        expected: { desiredScale: 1, reason: 'scale-to-zero-pod-retention', recheckAfterMs: s(70) },
      },
      {
        at: s(120),
        averages: avg(0),
        readyPods: 1,
        activatorInPathSinceMs: longAgo,
        expected: { desiredScale: 0, reason: 'scaled-to-zero' },
      },
    ],
  },
  {
    name: 'a service active for less than a stable window keeps its pod',
    state: settled(active(t0)),
    ticks: [
      {
        at: s(10),
        averages: avg(0),
        readyPods: 1,
        activatorInPathSinceMs: longAgo,
        expected: {
          desiredScale: 1,
          reason: 'active-for-less-than-stable-window',
          phase: 'active',
          recheckAfterMs: s(50),
        },
      },
      {
        at: s(60),
        averages: avg(0),
        readyPods: 1,
        activatorInPathSinceMs: longAgo,
        expected: { desiredScale: 0, reason: 'scaled-to-zero', phase: 'zero' },
      },
    ],
  },
  {
    name: 'demand returning while inactive makes the service active again',
    spec: { targetBurstCapacity: 0 },
    state: settled(),
    ticks: [
      {
        at: 0,
        averages: avg(0),
        readyPods: 1,
        expected: { desiredScale: 1, phase: 'inactive', mode: 'proxy' },
      },
      {
        at: s(2),
        averages: avg(5),
        readyPods: 1,
        activatorInPathSinceMs: t0 + s(2),
        expected: { desiredScale: 1, reason: 'stable', phase: 'active', mode: 'serve' },
      },
    ],
  },
  {
    name: 'scale to zero disabled: one pod stays',
    spec: { enableScaleToZero: false },
    state: settled(),
    ticks: [
      {
        at: 0,
        averages: avg(0),
        readyPods: 1,
        activatorInPathSinceMs: longAgo,
        expected: { desiredScale: 1, reason: 'scale-to-zero-disabled', phase: 'active' },
      },
    ],
  },
  {
    name: 'minScale 1 never goes to zero',
    spec: { minScale: 1 },
    state: settled(),
    ticks: [
      {
        at: s(600),
        averages: avg(0),
        readyPods: 1,
        activatorInPathSinceMs: longAgo,
        expected: { desiredScale: 1, reason: 'min-scale', phase: 'active' },
      },
    ],
  },
  {
    name: 'a restarted autoscaler with 4 ready pods starts in panic and does not drop them on thin data',
    state: initialDeciderState({ spec: DEFAULT_SCALING_SPEC, readyPods: 4, nowMs: t0, phase: active() }),
    ticks: [
      {
        at: s(2),
        averages: avg(70),
        readyPods: 4,
        expected: { desiredScale: 4, reason: 'panic-no-scale-down', panicking: true },
      },
      // A stable window later the panic is over: ceil(70 / 70) = 1, floor(4 / 2) = 2.
      {
        at: s(62),
        averages: avg(70),
        readyPods: 4,
        expected: { desiredScale: 2, reason: 'max-scale-down-rate', panicking: false },
      },
    ],
  },
];

describe('decideScale, scenarios', () => {
  it.each(scenarios)('$name', ({ spec: overrides, state, ticks }) => {
    let current = state;
    for (const tick of ticks) {
      const decision = decideScale(
        {
          spec: spec(overrides),
          averages: tick.averages,
          readyPods: tick.readyPods,
          state: current,
          activatorInPathSinceMs: tick.activatorInPathSinceMs,
        },
        t0 + tick.at,
      );
      expect({ at: tick.at, ...summary(decision) }).toMatchObject({ at: tick.at, ...tick.expected });
      current = decision.state;
    }
  });

  it('keeps the scale-down delay history bounded to ceil(delay / 2 s) entries', () => {
    const delayed = spec({ scaleDownDelayMs: s(30) });
    let state = settled();
    for (let i = 0; i < 1_000; i++) {
      // A falling load is the worst case for the history: every value may still be the maximum.
      const decision = decideScale(
        { spec: delayed, averages: avg(70_000 - i * 70), readyPods: 1_000, state },
        t0 + s(2 * i),
      );
      state = decision.state;
    }
    expect(state.delayWindow.length).toBeLessThanOrEqual(15);
  });

  it('does not change the state it was given', () => {
    const state = settled();
    const snapshot = structuredClone(state);
    decideScale({ spec: spec(), averages: avg(140, 290), readyPods: 2, state }, t0);
    expect(state).toEqual(snapshot);
  });
});

describe('decideScale fed by a MetricSeries', () => {
  // One pod serving concurrency 35 for 30 s, then nothing; the queue-proxy reports every second
  // (zeros included) and the autoscaler decides every 2 s.
  function run(overrides: Partial<ScalingSpec>, inPath: (nowMs: number) => number) {
    const scaling = spec(overrides);
    const series = new MetricSeries({
      stableWindowMs: scaling.stableWindowMs,
      panicWindowMs: panicWindowMs(scaling.stableWindowMs, scaling.panicWindowPercentage),
    });
    let state = settled();
    let mode = 'proxy';
    let activatorSince: number | undefined;
    const desiredAt = new Map<number, number>();
    for (let sec = 0; sec <= 200; sec++) {
      const now = t0 + s(sec);
      series.record(now, sec < 30 ? 35 : 0);
      if (sec % 2 !== 0) continue;
      const decision = decideScale(
        {
          spec: scaling,
          averages: series.averages(now),
          readyPods: 1,
          state,
          activatorInPathSinceMs: activatorSince,
        },
        now,
      );
      state = decision.state;
      mode = decision.mode;
      // The shell switches the endpoints and confirms the activator answers on the next tick.
      activatorSince = mode === 'proxy' ? (activatorSince ?? inPath(now)) : undefined;
      if (decision.kind === 'scale') desiredAt.set(sec, decision.desiredScale);
    }
    return desiredAt;
  }

  it('goes to zero a stable window after the last request when the activator was already in the path', () => {
    // The last non-zero second is 29; it leaves the 60 s window at 89 s: the decision at 90 s is 0.
    const desired = run({}, (now) => now);
    expect(desired.get(88)).toBe(1);
    expect(desired.get(90)).toBe(0);
    expect(desired.get(200)).toBe(0);
  });

  it('goes to zero a stable window plus the grace period after the last request from serve mode', () => {
    // TBC 0 keeps the pod in serve mode; at 90 s the service goes inactive (proxy), the activator
    // is confirmed at 90 s, and the 30 s grace ends at 120 s.
    const desired = run({ targetBurstCapacity: 0 }, (now) => now);
    expect(desired.get(88)).toBe(1);
    expect(desired.get(90)).toBe(1);
    expect(desired.get(118)).toBe(1);
    expect(desired.get(120)).toBe(0);
  });

  it('settles at ceil(C / (T·U)) for a sustained concurrency C', () => {
    const scaling = spec();
    const series = new MetricSeries({ stableWindowMs: s(60), panicWindowMs: s(6) });
    let state = settled();
    let ready = 1;
    let desired = 0;
    for (let sec = 0; sec <= 180; sec++) {
      series.record(t0 + s(sec), 500);
      if (sec % 2 !== 0) continue;
      const decision = decideScale(
        { spec: scaling, averages: series.averages(t0 + s(sec)), readyPods: ready, state },
        t0 + s(sec),
      );
      state = decision.state;
      if (decision.kind === 'scale') desired = decision.desiredScale;
      ready = desired; // pods become ready by the next tick
    }
    // ceil(500 / 70) = ceil(7.14) = 8
    expect(desired).toBe(8);
    expect(state.panic.kind).toBe('calm');
  });
});

describe('resolveTargets', () => {
  it.each([
    { name: 'defaults', overrides: {}, expected: { targetValue: 70, totalValue: 100 } },
    {
      name: 'CC caps a concurrency target',
      overrides: { containerConcurrency: 10 },
      expected: { targetValue: 7, totalValue: 10 },
    },
    {
      name: 'CC above the target does not raise it',
      overrides: { containerConcurrency: 500 },
      expected: { targetValue: 70, totalValue: 100 },
    },
    {
      name: 'rps',
      overrides: { metric: 'rps' as const, target: 200 },
      expected: { targetValue: 140, totalValue: 200 },
    },
    {
      name: 'floor 0.01',
      overrides: { target: 0.01, targetUtilizationPercentage: 1 },
      expected: { targetValue: 0.01, totalValue: 0.01 },
    },
  ])('$name', ({ overrides, expected }) => {
    expect(resolveTargets(spec(overrides))).toEqual(expected);
  });
});

describe('excessBurstCapacity', () => {
  it.each([
    { tbc: 211, ready: 3, total: 100, panic: 50, expected: 39 },
    { tbc: 211, ready: 0, total: 100, panic: 1, expected: -212 },
    { tbc: 211, ready: 2, total: 100, panic: 0, expected: -11 },
    { tbc: 0, ready: 0, total: 100, panic: 500, expected: 0 },
    { tbc: -1, ready: 100, total: 100, panic: 0, expected: -1 },
    { tbc: 10, ready: 2, total: 10, panic: 2.5, expected: 7 },
  ])('TBC $tbc, $ready pods × $total, panic $panic → $expected', ({ tbc, ready, total, panic, expected }) => {
    expect(excessBurstCapacity(tbc, ready, total, panic)).toBe(expected);
  });
});

describe('chooseMode', () => {
  it.each([
    { ebc: 39, phase: 'active' as const, readyPods: 3, expected: 'serve' },
    { ebc: 0, phase: 'active' as const, readyPods: 1, expected: 'serve' },
    { ebc: -1, phase: 'active' as const, readyPods: 3, expected: 'proxy' },
    { ebc: 0, phase: 'active' as const, readyPods: 0, expected: 'proxy' },
    { ebc: 100, phase: 'inactive' as const, readyPods: 1, expected: 'proxy' },
    { ebc: 100, phase: 'zero' as const, readyPods: 0, expected: 'proxy' },
  ])('EBC $ebc, $phase, $readyPods ready → $expected', ({ ebc, phase, readyPods, expected }) => {
    expect(chooseMode(ebc, { phase, readyPods })).toBe(expected);
  });
});

describe('initialDeciderState', () => {
  it.each([
    { name: 'new service, initialScale 1', readyPods: 0, initialScale: 1, panic: 'calm', phase: 'active' },
    {
      name: 'new service, initialScale 0: at zero',
      readyPods: 0,
      initialScale: 0,
      panic: 'calm',
      phase: 'zero',
    },
    { name: 'restart with 1 pod: calm', readyPods: 1, initialScale: 1, panic: 'calm', phase: 'active' },
    {
      name: 'restart with 4 pods: panicking',
      readyPods: 4,
      initialScale: 1,
      panic: 'panicking',
      phase: 'active',
    },
  ])('$name', ({ readyPods, initialScale, panic, phase }) => {
    const state = initialDeciderState({ spec: spec({ initialScale }), readyPods, nowMs: t0 });
    expect({ panic: state.panic.kind, phase: state.phase.kind }).toEqual({ panic, phase });
  });

  it('holds the ready count as the panic floor after a restart', () => {
    const state = initialDeciderState({ spec: spec(), readyPods: 4, nowMs: t0 });
    expect(state.panic).toEqual({ kind: 'panicking', sinceMs: t0, lastOverThresholdMs: t0, maxDesired: 4 });
  });
});

describe('assertScalingSpec', () => {
  it('accepts the defaults', () => {
    expect(() => assertScalingSpec(DEFAULT_SCALING_SPEC)).not.toThrow();
  });

  it.each([
    { name: 'target 0', overrides: { target: 0 } },
    { name: 'utilisation 0', overrides: { targetUtilizationPercentage: 0 } },
    { name: 'utilisation 101', overrides: { targetUtilizationPercentage: 101 } },
    { name: 'min above max', overrides: { minScale: 5, maxScale: 3 } },
    { name: 'fractional minScale', overrides: { minScale: 1.5 } },
    { name: 'scale-up rate 1', overrides: { maxScaleUpRate: 1 } },
    { name: 'scale-down rate 1', overrides: { maxScaleDownRate: 1 } },
    { name: 'TBC −2', overrides: { targetBurstCapacity: -2 } },
    { name: 'negative grace', overrides: { scaleToZeroGracePeriodMs: -1 } },
    { name: 'stable window under a second', overrides: { stableWindowMs: 500 } },
  ])('refuses $name with INVALID_SCALING_SPEC', ({ overrides }) => {
    let caught: unknown;
    try {
      assertScalingSpec(spec(overrides));
    } catch (err) {
      caught = err;
    }
    expect(isZeroscaleError(caught, 'INVALID_SCALING_SPEC')).toBe(true);
  });
});
