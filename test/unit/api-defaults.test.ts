import { describe, expect, it } from 'vitest';
import {
  BUILTIN_SERVING_DEFAULTS,
  type ResolvedScaling,
  resolveServerlessServiceSpec,
  type ServingDefaults,
} from '../../src/api/defaults.ts';
import { parseServerlessServiceSpec } from '../../src/api/parse.ts';

const template = { spec: { containers: [{ image: 'hello', ports: [{ containerPort: 8080 }] }] } };

const builtinResolved: ResolvedScaling = {
  minScale: 0,
  maxScale: 0,
  initialScale: 1,
  activationScale: 1,
  metric: 'concurrency',
  target: 100,
  targetUtilizationPercentage: 70,
  stableWindowMs: 60_000,
  panicWindowPercentage: 10,
  panicThresholdPercentage: 200,
  scaleDownDelayMs: 0,
  scaleToZeroPodRetentionMs: 0,
  targetBurstCapacity: 211,
  schedules: [],
  idlePolicy: 'Fixed',
};

const withDefaults = (scaling: Partial<ServingDefaults['scaling']>): ServingDefaults => ({
  ...BUILTIN_SERVING_DEFAULTS,
  scaling: { ...BUILTIN_SERVING_DEFAULTS.scaling, ...scaling },
});

describe('resolveServerlessServiceSpec', () => {
  const cases: [string, Record<string, unknown>, ServingDefaults, Partial<ResolvedScaling>][] = [
    ['nothing given: the built-in defaults', {}, BUILTIN_SERVING_DEFAULTS, {}],
    [
      'explicit values win',
      {
        scaling: {
          minScale: 1,
          maxScale: 5,
          initialScale: 2,
          activationScale: 3,
          stableWindow: '2m',
          scaleDownDelay: '30s',
          scaleToZeroPodRetention: '1m30s',
          targetBurstCapacity: -1,
          panicWindowPercentage: 20,
          panicThresholdPercentage: 150,
          targetUtilizationPercentage: 50,
        },
      },
      BUILTIN_SERVING_DEFAULTS,
      {
        minScale: 1,
        maxScale: 5,
        initialScale: 2,
        activationScale: 3,
        stableWindowMs: 120_000,
        scaleDownDelayMs: 30_000,
        scaleToZeroPodRetentionMs: 90_000,
        targetBurstCapacity: -1,
        panicWindowPercentage: 20,
        panicThresholdPercentage: 150,
        targetUtilizationPercentage: 50,
      },
    ],
    [
      'cluster defaults fill the gaps',
      {},
      withDefaults({ stableWindow: '30s', maxScale: 20 }),
      { stableWindowMs: 30_000, maxScale: 20 },
    ],
    [
      'initialScale is raised to minScale',
      { scaling: { minScale: 3 } },
      BUILTIN_SERVING_DEFAULTS,
      { minScale: 3, initialScale: 3 },
    ],
    [
      'a default maxScale caps an explicit minScale',
      { scaling: { minScale: 8 } },
      withDefaults({ maxScale: 5 }),
      { minScale: 5, maxScale: 5, initialScale: 5 },
    ],
    [
      'a small maxScale caps the default activation scale',
      { scaling: { maxScale: 2 } },
      withDefaults({ activationScale: 4 }),
      { maxScale: 2, activationScale: 2 },
    ],
    [
      'target defaults to containerConcurrency',
      { containerConcurrency: 10 },
      BUILTIN_SERVING_DEFAULTS,
      { target: 10 },
    ],
    [
      'target is capped at containerConcurrency',
      { containerConcurrency: 10, scaling: { target: 50 } },
      BUILTIN_SERVING_DEFAULTS,
      { target: 10 },
    ],
    [
      'a target below containerConcurrency stays',
      { containerConcurrency: 10, scaling: { target: 4 } },
      BUILTIN_SERVING_DEFAULTS,
      { target: 4 },
    ],
    [
      'rps takes the rps default',
      { scaling: { metric: 'rps' } },
      BUILTIN_SERVING_DEFAULTS,
      { metric: 'rps', target: 200 },
    ],
    [
      'rps ignores containerConcurrency',
      { containerConcurrency: 5, scaling: { metric: 'rps', target: 300 } },
      BUILTIN_SERVING_DEFAULTS,
      { metric: 'rps', target: 300 },
    ],
    [
      'the cluster metric default applies',
      {},
      withDefaults({ metric: 'rps' }),
      { metric: 'rps', target: 200 },
    ],
  ];

  it.each(cases)('%s', (_name, fields, defaults, expected) => {
    const spec = parseServerlessServiceSpec({ template, ...fields });
    const resolved = resolveServerlessServiceSpec(spec, defaults);
    expect(resolved.scaling).toEqual({ ...builtinResolved, ...expected });
  });

  it('takes containerConcurrency and timeoutSeconds from the spec, else the defaults', () => {
    const spec = parseServerlessServiceSpec({ template, timeoutSeconds: 30 });
    const resolved = resolveServerlessServiceSpec(spec, {
      ...BUILTIN_SERVING_DEFAULTS,
      containerConcurrency: 7,
    });
    expect(resolved).toMatchObject({ containerConcurrency: 7, timeoutSeconds: 30, template });
  });
});

describe('warm windows', () => {
  const withSchedule = (schedule: Record<string, unknown>) =>
    parseServerlessServiceSpec({ template, scaling: { maxScale: 3, schedules: [schedule] } });

  it('resolves a schedule: UTC by default, the duration in ms, minScale capped at maxScale', () => {
    const spec = withSchedule({ cron: '30 8 * * 1-5', duration: '1h', minScale: 5 });
    expect(resolveServerlessServiceSpec(spec, BUILTIN_SERVING_DEFAULTS).scaling.schedules).toEqual([
      { cron: '30 8 * * 1-5', timeZone: 'UTC', durationMs: 3_600_000, minScale: 3 },
    ]);
  });

  it.each([
    [
      { cron: '61 8 * * *', duration: '1h', minScale: 1 },
      'spec.scaling.schedules[0]: cron "61 8 * * *": Invalid value for minute: 61',
    ],
    [
      { cron: '0 8 * * *', timeZone: 'Europe/Atlantis', duration: '1h', minScale: 1 },
      'unknown time zone "Europe/Atlantis"',
    ],
  ])('refuses %o, naming the schedule', (schedule, message) => {
    expect(() => resolveServerlessServiceSpec(withSchedule(schedule), BUILTIN_SERVING_DEFAULTS)).toThrow(
      message,
    );
  });
});

describe('spec.budget', () => {
  const withBudget = (budget: NonNullable<Parameters<typeof resolveServerlessServiceSpec>[0]['budget']>) => ({
    template,
    budget,
  });

  it('resolves a replica-seconds budget with the defaults: action Cap, cap at the pods it had', () => {
    const resolved = resolveServerlessServiceSpec(
      withBudget({ window: '1h', replicaSeconds: 3600 }),
      BUILTIN_SERVING_DEFAULTS,
    );
    expect(resolved.budget).toEqual({
      windowMs: 3_600_000,
      limit: 3600,
      unit: 'replica-seconds',
      action: 'Cap',
      maxScale: undefined,
    });
    expect(resolveServerlessServiceSpec({ template }, BUILTIN_SERVING_DEFAULTS).budget).toBeUndefined();
  });

  it('refuses a cost budget when the cluster has no prices, naming the ConfigMap keys', () => {
    expect(() =>
      resolveServerlessServiceSpec(withBudget({ window: '1h', cost: 5 }), BUILTIN_SERVING_DEFAULTS),
    ).toThrow(/spec\.budget\.cost.*price-per-vcpu-second and price-per-gib-second/);
    const priced = { ...BUILTIN_SERVING_DEFAULTS, prices: { vcpuSecond: 0.00002, gibSecond: 0.000002 } };
    expect(
      resolveServerlessServiceSpec(withBudget({ window: '24h', cost: 5, action: 'Reject' }), priced).budget,
    ).toEqual({ windowMs: 86_400_000, limit: 5, unit: 'cost', action: 'Reject', maxScale: undefined });
  });
});
