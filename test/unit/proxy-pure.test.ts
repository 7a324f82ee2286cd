// Pure parts of the proxies: failure classification, client error kinds, internal header scan,
// request metrics, the deadline list of held requests, the activator's report and the drain's
// quiet period, on a ManualClock.

import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { buildReport, StatReporter } from '../../src/activator/reporter.ts';
import type { ServiceThrottler } from '../../src/activator/service-throttler.ts';
import type { ActivatorReport } from '../../src/autoscaler/metrics/protocol.ts';
import { ManualClock } from '../../src/clock.ts';
import { Breaker } from '../../src/dataplane/breaker.ts';
import { waitForQuiet } from '../../src/dataplane/drain.ts';
import { DeadlineList, HeldSignal } from '../../src/dataplane/held.ts';
import { RequestStats } from '../../src/dataplane/stats.ts';
import { ZeroscaleError } from '../../src/errors.ts';
import { classifyUpstreamError, failureAnswer, proxyFailure } from '../../src/http/failures.ts';
import { HeldBodyBudget } from '../../src/http/held-body.ts';
import { type InternalMarks, InternalToken, scanInternalHeaders } from '../../src/http/internal-headers.ts';
import { registerRequestMetrics, ServiceRequestMetrics } from '../../src/http/request-metrics.ts';
import { clientErrorKind } from '../../src/http/server.ts';

const err = (code: string): Error & { code: string } => Object.assign(new Error(code), { code });

describe('classifyUpstreamError', () => {
  const cases: readonly {
    name: string;
    code: string;
    connected: boolean;
    bodyBytes: number;
    idempotent?: boolean;
    expected: { code: string; status: number; retryable: boolean };
  }[] = [
    {
      name: 'refused',
      code: 'ECONNREFUSED',
      connected: false,
      bodyBytes: 0,
      expected: { code: 'UPSTREAM_CONNECT_FAILED', status: 502, retryable: true },
    },
    {
      name: 'unreachable',
      code: 'EHOSTUNREACH',
      connected: false,
      bodyBytes: 0,
      expected: { code: 'UPSTREAM_CONNECT_FAILED', status: 502, retryable: true },
    },
    {
      name: 'reset while connecting',
      code: 'ECONNRESET',
      connected: false,
      bodyBytes: 0,
      expected: { code: 'UPSTREAM_CONNECT_FAILED', status: 502, retryable: true },
    },
    {
      name: 'reset before any body byte',
      code: 'ECONNRESET',
      connected: true,
      bodyBytes: 0,
      expected: { code: 'UPSTREAM_RESET', status: 502, retryable: true },
    },
    {
      name: 'broken pipe before any body byte',
      code: 'EPIPE',
      connected: true,
      bodyBytes: 0,
      expected: { code: 'UPSTREAM_RESET', status: 502, retryable: true },
    },
    {
      name: 'POST reset after its head went out: never again (the app may have acted on it)',
      code: 'ECONNRESET',
      connected: true,
      bodyBytes: 0,
      idempotent: false,
      expected: { code: 'UPSTREAM_RESET', status: 502, retryable: false },
    },
    {
      name: 'POST refused while connecting: nothing reached the wire, sent again',
      code: 'ECONNREFUSED',
      connected: false,
      bodyBytes: 0,
      idempotent: false,
      expected: { code: 'UPSTREAM_CONNECT_FAILED', status: 502, retryable: true },
    },
    {
      name: 'reset after body bytes: never again',
      code: 'ECONNRESET',
      connected: true,
      bodyBytes: 10,
      expected: { code: 'UPSTREAM_RESET', status: 502, retryable: false },
    },
    {
      name: 'invalid response',
      code: 'HPE_INVALID_CONSTANT',
      connected: true,
      bodyBytes: 0,
      expected: { code: 'UPSTREAM_PROTOCOL_ERROR', status: 502, retryable: false },
    },
    {
      name: 'anything else',
      code: 'EMFILE',
      connected: false,
      bodyBytes: 0,
      expected: { code: 'UPSTREAM_ERROR', status: 502, retryable: false },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const failure = classifyUpstreamError(err(c.code), '10.0.0.1:8012', {
        connected: c.connected,
        bodyBytesSent: c.bodyBytes,
        idempotent: c.idempotent ?? true,
      });
      expect(failure).toMatchObject({ ...c.expected, responseStarted: false });
      expect(failure.reason).toContain('10.0.0.1:8012');
      expect(failure.reason).toContain(c.code);
      // The client's answer never names the pod.
      expect(failureAnswer(failure).message).not.toContain('10.0.0.1');
    });
  }

  it('gives timeouts 504, a large body 413, a gone client 499', () => {
    expect(proxyFailure('REQUEST_TIMEOUT', 'x').status).toBe(504);
    expect(proxyFailure('RESPONSE_START_TIMEOUT', 'x').status).toBe(504);
    expect(proxyFailure('IDLE_TIMEOUT', 'x').status).toBe(504);
    expect(proxyFailure('BODY_TOO_LARGE', 'x').status).toBe(413);
    expect(proxyFailure('CLIENT_ABORTED', 'x').status).toBe(499);
  });
});

describe('clientErrorKind', () => {
  const cases: readonly [string | undefined, string][] = [
    ['HPE_HEADER_OVERFLOW', 'headers-too-large'],
    ['ERR_HTTP_REQUEST_TIMEOUT', 'headers-timeout'],
    ['HPE_INVALID_METHOD', 'bad-request'],
    ['HPE_INVALID_HEADER_TOKEN', 'bad-request'],
    ['ECONNRESET', 'connection-error'],
    [undefined, 'bad-request'],
  ];
  for (const [code, kind] of cases) {
    it(`${code} → ${kind}`, () => expect(clientErrorKind(code === undefined ? {} : { code })).toBe(kind));
  }
});

describe('InternalToken', () => {
  it('matches only the configured token, and nothing when none is configured', () => {
    const token = new InternalToken('s3cret-token');
    expect(token.value).toBe('s3cret-token');
    expect(token.matches('s3cret-token')).toBe(true);
    expect(token.matches('s3cret-tokem')).toBe(false);
    expect(token.matches('1')).toBe(false);
    expect(token.matches(undefined)).toBe(false);
    for (const none of [undefined, '', '   ']) {
      const off = new InternalToken(none);
      expect(off.value).toBeUndefined();
      expect(off.matches('1')).toBe(false);
      expect(off.matches('')).toBe(false);
    }
  });
});

describe('scanInternalHeaders', () => {
  const cases: readonly { name: string; raw: string[]; expected: InternalMarks }[] = [
    { name: 'none', raw: ['Host', 'a', 'Accept', '*/*'], expected: { probe: undefined, proxied: undefined } },
    {
      name: 'probe, any case',
      raw: ['X-Zeroscale-Probe', ' queue '],
      expected: { probe: 'queue', proxied: undefined },
    },
    {
      name: 'proxied mark',
      raw: ['x-zeroscale-proxied', '1'],
      expected: { probe: undefined, proxied: '1' },
    },
    {
      name: 'proxied value is passed on, trimmed, to be checked against the token',
      raw: ['x-zeroscale-proxied', ' s3cret '],
      expected: { probe: undefined, proxied: 's3cret' },
    },
    {
      name: 'look-alike of the same length',
      raw: ['x-zeroscale-probf', 'queue'],
      expected: { probe: undefined, proxied: undefined },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      // The scratch object is reused: results of an earlier scan must not leak into the next.
      const scratch: InternalMarks = { probe: 'stale', proxied: 'stale' };
      expect(scanInternalHeaders(c.raw, scratch)).toEqual(c.expected);
    });
  }
});

describe('ServiceRequestMetrics', () => {
  it('counts by status code and class and fills cumulative duration buckets at scrape time', async () => {
    const m = new ServiceRequestMetrics<'queue-full'>({ namespace: 'default', service: 'hello' });
    m.observe(200, 0.0005);
    m.observe(204, 0.02);
    m.observe(503, 700);
    m.observe(0, 0.001);
    m.reject('queue-full');
    m.inFlight = () => 3;
    const registry = new Registry();
    registerRequestMetrics(registry, 'zeroscale_test', () => [m]);
    const text = await registry.metrics();
    expect(text).toContain(
      'zeroscale_test_requests_total{namespace="default",service="hello",code="200",code_class="2xx"} 1',
    );
    expect(text).toContain(
      'zeroscale_test_requests_total{namespace="default",service="hello",code="204",code_class="2xx"} 1',
    );
    expect(text).toContain(
      'zeroscale_test_requests_total{namespace="default",service="hello",code="503",code_class="5xx"} 1',
    );
    // No response (status 0) is not a code: such requests show as rejections or failures.
    expect(text).not.toMatch(/requests_total\{[^}]*code="0"/);
    expect(text).toContain(
      'zeroscale_test_rejected_requests_total{namespace="default",service="hello",reason="queue-full"} 1',
    );
    expect(text).toContain('zeroscale_test_in_flight_requests{namespace="default",service="hello"} 3');
    expect(text).toContain(
      'zeroscale_test_request_duration_seconds_bucket{namespace="default",service="hello",le="0.001"} 2',
    );
    expect(text).toContain(
      'zeroscale_test_request_duration_seconds_bucket{namespace="default",service="hello",le="0.025"} 3',
    );
    expect(text).toContain(
      'zeroscale_test_request_duration_seconds_bucket{namespace="default",service="hello",le="600"} 3',
    );
    expect(text).toContain(
      'zeroscale_test_request_duration_seconds_bucket{namespace="default",service="hello",le="+Inf"} 4',
    );
    expect(text).toContain(
      'zeroscale_test_request_duration_seconds_count{namespace="default",service="hello"} 4',
    );
    expect(text).toContain('# TYPE zeroscale_test_request_duration_seconds histogram');
  });
});

describe('HeldSignal and DeadlineList', () => {
  it('is an abort signal the Breaker accepts: abandoning removes the waiter', async () => {
    const breaker = new Breaker({ capacity: 0, queueDepth: 5 });
    const held = new HeldSignal();
    const waiting = breaker.acquire(held.asSignal());
    expect(breaker.queued).toBe(1);
    held.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'REQUEST_ABORTED' });
    expect(breaker.queued).toBe(0);
  });

  it('passes a ZeroscaleError reason through, and aborts only once', async () => {
    const breaker = new Breaker({ capacity: 0, queueDepth: 5 });
    const held = new HeldSignal();
    const waiting = breaker.acquire(held.asSignal());
    held.abort(new ZeroscaleError('DEADLINE_EXCEEDED', 'late', { httpStatus: 504 }));
    held.abort(new ZeroscaleError('OTHER', 'ignored'));
    await expect(waiting).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    expect(held.reason).toMatchObject({ code: 'DEADLINE_EXCEEDED' });
  });

  it('expires held requests in deadline order with one timer, skipping removed ones', () => {
    const expired: string[] = [];
    const clock = new ManualClock(1_000);
    const list = new DeadlineList(() => new ZeroscaleError('DEADLINE_EXCEEDED', 'late'), clock);
    const now = clock.monotonicNow();
    const make = (name: string, inMs: number): HeldSignal => {
      const h = new HeldSignal();
      h.deadline = now + inMs;
      h.addEventListener('abort', { handleEvent: () => expired.push(name) });
      list.add(h);
      return h;
    };
    make('a', 10);
    const b = make('b', 20);
    make('c', 30);
    list.remove(b);
    clock.advance(9);
    expect(expired).toEqual([]);
    clock.advance(21);
    expect(expired).toEqual(['a', 'c']);
    expect(b.aborted).toBe(false);
    expect(clock.pendingTimers).toBe(0);
    list.clear();
  });
});

describe('buildReport', () => {
  const service = (key: string, clock: ManualClock, queued = 0): ServiceThrottler => {
    const stats = new RequestStats(clock);
    const breaker = new Breaker({ capacity: 0, queueDepth: 10 });
    for (let i = 0; i < queued; i++) void breaker.acquire().catch(() => {});
    return { key, stats, breaker } as unknown as ServiceThrottler;
  };

  it('reports time-weighted concurrency, rate and queued, leaving out idle services', () => {
    const clock = new ManualClock(0);
    const busy = service('default/busy', clock);
    const idle = service('default/idle', clock);
    const cold = service('default/cold', clock, 2);
    busy.stats.requestStarted(false);
    clock.advance(500);
    busy.stats.requestFinished(false);
    clock.advance(500);
    const report = buildReport('act-1', 1000, [busy, idle, cold]);
    expect(report).toEqual({
      activator: 'act-1',
      intervalMs: 1000,
      services: [
        { service: 'default/busy', averageConcurrency: 0.5, requestsPerSecond: 1, queued: 0 },
        { service: 'default/cold', averageConcurrency: 0, requestsPerSecond: 0, queued: 2 },
      ],
    });
    clock.advance(1000);
    expect(buildReport('act-1', 1000, [busy, idle])).toBeUndefined();
  });

  it('StatReporter sends one report per interval on its clock, with the interval it measured', async () => {
    const clock = new ManualClock(0);
    const busy = service('default/busy', clock);
    const reports: ActivatorReport[] = [];
    const reporter = new StatReporter({
      activator: 'act-1',
      intervalMs: 1_000,
      clock,
      services: () => [busy],
      client: { report: async (r) => void reports.push(r), poke: async () => {} },
      onError: () => {},
    });
    reporter.start();
    busy.stats.requestStarted(false);
    clock.advance(999);
    expect(reports).toHaveLength(0);
    clock.advance(1);
    clock.advance(1_000);
    expect(reports.map((r) => [r.intervalMs, r.services[0]?.averageConcurrency])).toEqual([
      [1_000, 1],
      [1_000, 1],
    ]);
    reporter.stop();
    clock.advance(5_000);
    expect(reports).toHaveLength(2);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('waitForQuiet', () => {
  it('ends once no request arrived for the quiet period, counted from the last arrival', async () => {
    const clock = new ManualClock(0);
    let lastArrival = 0;
    let done = false;
    void waitForQuiet({ clock, lastArrival: () => lastArrival, quietMs: 500, stopped: () => false }).then(
      () => {
        done = true;
      },
    );
    await clock.tick(400);
    lastArrival = clock.now(); // a request during the drain: 500 ms more from here
    await clock.tick(400);
    expect(done).toBe(false);
    await clock.tick(100);
    expect(done).toBe(true);
    expect(clock.now()).toBe(900);
  });

  it('ends at once when the proxy was stopped another way', async () => {
    const clock = new ManualClock(0);
    await waitForQuiet({ clock, lastArrival: () => 0, quietMs: 60_000, stopped: () => true });
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('HeldBodyBudget', () => {
  it('takes bytes within both the per-request and the process bound, and gives them back', () => {
    const budget = new HeldBodyBudget({ limitBytes: 100, perRequestBytes: 60 });
    expect(budget.take(50, 0)).toBe(true);
    expect(budget.take(20, 50)).toBe(false); // over the request's 60
    expect(budget.take(40, 0)).toBe(true); // another request: 90 of 100
    expect(budget.take(20, 0)).toBe(false); // over the process's 100
    expect(budget.usedBytes).toBe(90);
    budget.give(50);
    expect(budget.take(20, 0)).toBe(true);
    expect(budget.usedBytes).toBe(60);
  });
});
