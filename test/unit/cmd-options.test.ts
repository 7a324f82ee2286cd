import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { parseAutoscalerOptions } from '../../src/autoscaler/options.ts';
import {
  boolean,
  bytes,
  decimal,
  duration,
  integer,
  millis,
  oneOf,
  port,
  readOptions,
  seconds,
  text,
} from '../../src/cmd/options.ts';
import { type SignalTarget, stopOnce, stopOnSignals } from '../../src/cmd/shutdown.ts';
import { parseControllerOptions } from '../../src/controller/options.ts';
import { silentLogger } from '../../src/telemetry/log.ts';

describe('readOptions', () => {
  const specs = {
    port: port(1)({ flag: 'port', env: 'X_PORT', default: 8080 }),
    namespace: text({ flag: 'namespace', env: ['X_NAMESPACE', 'POD_NAMESPACE'], default: 'system' }),
    token: text({ env: 'X_TOKEN' }),
    drainMs: seconds({ env: 'X_DRAIN_SECONDS', default: 5_000 }),
    leaseMs: millis({ env: 'X_LEASE_MS', default: 15_000 }),
    graceMs: duration({ flag: 'grace', env: 'X_GRACE', default: 30_000 }),
    bodyBytes: bytes({ env: 'X_BODY_BYTES', default: 1024 }),
    rate: decimal({ above: 1 })({ env: 'X_RATE', default: 2 }),
    enabled: boolean({ env: 'X_ENABLED', default: true }),
    level: oneOf(['info', 'debug'])({ env: 'X_LEVEL', default: 'info' }),
    depth: integer(0, 100)({ env: 'X_DEPTH' }),
  };

  const cases: readonly {
    name: string;
    env: Record<string, string>;
    argv?: string[];
    expected: Record<string, unknown>;
  }[] = [
    {
      name: 'defaults, in the code units (ms, bytes)',
      env: {},
      expected: {
        port: 8080,
        namespace: 'system',
        token: undefined,
        drainMs: 5_000,
        leaseMs: 15_000,
        graceMs: 30_000,
        bodyBytes: 1024,
        rate: 2,
        enabled: true,
        level: 'info',
        depth: undefined,
      },
    },
    {
      name: 'each unit converted: seconds and durations to ms',
      env: {
        X_DRAIN_SECONDS: '1.5',
        X_LEASE_MS: '250',
        X_GRACE: '1m30s',
        X_BODY_BYTES: '0',
        X_RATE: '1.5',
        X_ENABLED: 'false',
        X_LEVEL: 'debug',
        X_DEPTH: '100',
      },
      expected: {
        drainMs: 1_500,
        leaseMs: 250,
        graceMs: 90_000,
        bodyBytes: 0,
        rate: 1.5,
        enabled: false,
        level: 'debug',
        depth: 100,
      },
    },
    {
      name: 'the first variable set wins; empty counts as unset; values are trimmed',
      env: { X_NAMESPACE: '', POD_NAMESPACE: ' pods ', X_TOKEN: ' t ' },
      expected: { namespace: 'pods', token: 't' },
    },
    {
      name: 'a flag wins over the environment',
      env: { X_PORT: '1', X_GRACE: '1s' },
      argv: ['--port', '9000', '--grace=2s'],
      expected: { port: 9000, graceMs: 2_000 },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(readOptions(specs, c.env, c.argv)).toMatchObject(c.expected);
    });
  }

  const badEnv: readonly [Record<string, string>, string][] = [
    [{ X_PORT: 'abc' }, 'X_PORT: expected an integer port 1-65535, got "abc"'],
    [{ X_PORT: '0' }, 'X_PORT: expected an integer port 1-65535, got "0"'],
    [{ X_DRAIN_SECONDS: '-1' }, 'X_DRAIN_SECONDS: expected a number of seconds >= 0, got "-1"'],
    [{ X_LEASE_MS: '1.5' }, 'X_LEASE_MS: expected an integer number of milliseconds >= 0, got "1.5"'],
    [{ X_GRACE: '30' }, 'X_GRACE: expected a duration such as 30s, got "30"'],
    [{ X_BODY_BYTES: '1k' }, 'X_BODY_BYTES: expected an integer >= 0, got "1k"'],
    [{ X_RATE: '1' }, 'X_RATE: expected a number > 1, got "1"'],
    [{ X_ENABLED: 'yes' }, 'X_ENABLED: expected true or false, got "yes"'],
    [{ X_LEVEL: 'loud' }, 'X_LEVEL: expected one of info, debug, got "loud"'],
    [{ X_DEPTH: '101' }, 'X_DEPTH: expected an integer 0-100, got "101"'],
  ];
  for (const [env, message] of badEnv) {
    it(`refuses ${JSON.stringify(env)} with INVALID_ENV naming the variable`, () => {
      expect(() => readOptions(specs, env)).toThrow(
        expect.objectContaining({ code: 'INVALID_ENV', message }),
      );
    });
  }

  const badFlags: readonly [string[], string][] = [
    [['--port', '70000'], '--port: expected an integer port 1-65535, got "70000"'],
    [['--nope', 'x'], "'--nope'"],
  ];
  for (const [argv, message] of badFlags) {
    it(`refuses ${argv.join(' ')} with INVALID_OPTION naming the flag`, () => {
      expect(() => readOptions(specs, { X_PORT: '1' }, argv)).toThrow(
        expect.objectContaining({ code: 'INVALID_OPTION', message: expect.stringContaining(message) }),
      );
    });
  }

  it('refuses a required option that is not set, naming every source', () => {
    const required = { name: text({ flag: 'name', env: 'X_NAME', required: true }) };
    expect(() => readOptions(required, {})).toThrow(
      expect.objectContaining({ code: 'INVALID_ENV', message: '--name or X_NAME: is not set' }),
    );
    expect(readOptions(required, { X_NAME: 'a' })).toEqual({ name: 'a' });
  });
});

describe('the control plane options', () => {
  it('keeps the autoscaler defaults and names a bad variable', () => {
    expect(parseAutoscalerOptions([], { POD_NAME: 'as-1' })).toMatchObject({
      namespace: 'zeroscale-system',
      port: 8080,
      metricsPort: 9090,
      scaleToZeroGracePeriodMs: 30_000,
      maxScaleUpRate: 1000,
      maxScaleDownRate: 2,
      enableScaleToZero: true,
      leaseDurationMs: 15_000,
      logLevel: 'info',
      identity: expect.stringMatching(/^as-1_/),
    });
    expect(() => parseAutoscalerOptions([], { ZEROSCALE_AUTOSCALER_PORT: 'abc' })).toThrow(
      expect.objectContaining({
        code: 'INVALID_ENV',
        message: 'ZEROSCALE_AUTOSCALER_PORT: expected an integer port 1-65535, got "abc"',
      }),
    );
    expect(() => parseAutoscalerOptions(['--max-scale-down-rate', 'fast'], {})).toThrow(
      expect.objectContaining({
        code: 'INVALID_OPTION',
        message: expect.stringContaining('--max-scale-down-rate'),
      }),
    );
  });

  it('keeps the controller defaults; flags as the chart passes them', () => {
    expect(
      parseControllerOptions(['--namespace', 'zs', '--activator-service', 'act', '--activator-port', '80'], {
        ZEROSCALE_INTERNAL_TOKEN: ' tok ',
      }),
    ).toMatchObject({
      namespace: 'zs',
      activatorService: 'act',
      activatorPort: 80,
      metricsPort: 9090,
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      internalToken: 'tok',
    });
    expect(() => parseControllerOptions([], { ZEROSCALE_RENEW_DEADLINE_MS: 'soon' })).toThrow(
      expect.objectContaining({
        code: 'INVALID_ENV',
        message: expect.stringContaining('ZEROSCALE_RENEW_DEADLINE_MS'),
      }),
    );
  });
});

describe('stopOnSignals', () => {
  class FakeProcess extends EventEmitter implements SignalTarget {
    readonly exits: number[] = [];
    exit(code: number): void {
      this.exits.push(code);
    }
  }
  const settle = () => new Promise((resolve) => setImmediate(resolve));

  function harness() {
    const proc = new FakeProcess();
    const calls: string[] = [];
    stopOnSignals(
      {
        drain: async () => {
          calls.push('drain');
        },
        close: async () => {
          calls.push('close');
        },
      },
      {
        log: silentLogger(),
        process: proc,
        beforeExit: async () => {
          calls.push('beforeExit');
        },
      },
    );
    return { proc, calls };
  }

  it('drains on the first SIGTERM, then exits 0', async () => {
    const { proc, calls } = harness();
    proc.emit('SIGTERM', 'SIGTERM');
    await settle();
    expect(calls).toEqual(['drain', 'beforeExit']);
    expect(proc.exits).toEqual([0]);
  });

  it('stops at once on a second SIGTERM (exit 0) or on SIGINT (exit 130)', async () => {
    const a = harness();
    a.proc.emit('SIGTERM', 'SIGTERM');
    a.proc.emit('SIGTERM', 'SIGTERM');
    await settle();
    expect(a.calls).toEqual(['drain', 'close', 'beforeExit', 'beforeExit']);
    expect(a.proc.exits).toEqual([0, 0]);
    const b = harness();
    b.proc.emit('SIGINT', 'SIGINT');
    await settle();
    expect(b.calls).toEqual(['close', 'beforeExit']);
    expect(b.proc.exits).toEqual([130]);
  });

  it('exits 1 when stopping fails', async () => {
    const proc = new FakeProcess();
    stopOnSignals(
      { drain: () => Promise.reject(new Error('lease')), close: async () => {} },
      { log: silentLogger(), process: proc },
    );
    proc.emit('SIGTERM', 'SIGTERM');
    await settle();
    expect(proc.exits).toEqual([1]);
  });

  it('stopOnce runs a stop without a drain once, whichever signal comes', async () => {
    let stops = 0;
    const s = stopOnce(async () => {
      stops++;
    });
    await Promise.all([s.drain(), s.close(), s.drain()]);
    expect(stops).toBe(1);
  });
});
