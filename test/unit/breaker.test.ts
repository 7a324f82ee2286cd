import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { Breaker, type BreakerOptions } from '../../src/dataplane/breaker.ts';
import { isZeroscaleError, ZeroscaleError } from '../../src/errors.ts';

// A scenario is a list of steps against one breaker; each request is named so the table can say
// what became of it. Outcomes: 'admitted', 'waiting', or the error code it was rejected with.
type Step =
  | { readonly acquire: string; readonly withSignal?: boolean }
  | { readonly release: number }
  | { readonly abort: string; readonly reason?: unknown }
  | { readonly setCapacity: number }
  | { readonly setQueueDepth: number }
  | { readonly rejectWaiting: string };

interface Expected {
  readonly inFlight: number;
  readonly queued: number;
  readonly outcomes: Readonly<Record<string, string>>;
  /** Order in which requests were admitted. */
  readonly admitted?: readonly string[];
  /** HTTP status of each rejected request's error. */
  readonly statuses?: Readonly<Record<string, number | undefined>>;
}

interface Case {
  readonly name: string;
  readonly options: BreakerOptions;
  readonly steps: readonly Step[];
  readonly expected: Expected;
}

const timeout = () => new DOMException('deadline', 'TimeoutError');

const cases: readonly Case[] = [
  {
    name: 'admits up to capacity at once and queues the rest',
    options: { capacity: 2, queueDepth: 2 },
    steps: [{ acquire: 'a' }, { acquire: 'b' }, { acquire: 'c' }],
    expected: { inFlight: 2, queued: 1, outcomes: { a: 'admitted', b: 'admitted', c: 'waiting' } },
  },
  {
    name: 'rejects at once with 503 when the queue is full',
    options: { capacity: 1, queueDepth: 1 },
    steps: [{ acquire: 'a' }, { acquire: 'b' }, { acquire: 'c' }],
    expected: {
      inFlight: 1,
      queued: 1,
      outcomes: { a: 'admitted', b: 'waiting', c: 'QUEUE_FULL' },
      statuses: { c: 503 },
    },
  },
  {
    name: 'queue depth 0 rejects whatever cannot run now',
    options: { capacity: 1, queueDepth: 0 },
    steps: [{ acquire: 'a' }, { acquire: 'b' }],
    expected: { inFlight: 1, queued: 0, outcomes: { a: 'admitted', b: 'QUEUE_FULL' } },
  },
  {
    name: 'admits waiters in arrival order as slots free up',
    options: { capacity: 1, queueDepth: 3 },
    steps: [{ acquire: 'a' }, { acquire: 'b' }, { acquire: 'c' }, { acquire: 'd' }, { release: 3 }],
    expected: {
      inFlight: 1,
      queued: 0,
      outcomes: { a: 'admitted', b: 'admitted', c: 'admitted', d: 'admitted' },
      admitted: ['a', 'b', 'c', 'd'],
    },
  },
  {
    name: 'a client that gives up leaves the queue and the next waiter takes its turn',
    options: { capacity: 1, queueDepth: 2 },
    steps: [
      { acquire: 'a' },
      { acquire: 'b', withSignal: true },
      { acquire: 'c' },
      { abort: 'b' },
      { release: 1 },
    ],
    expected: {
      inFlight: 1,
      queued: 0,
      outcomes: { a: 'admitted', b: 'REQUEST_ABORTED', c: 'admitted' },
      admitted: ['a', 'c'],
      statuses: { b: undefined },
    },
  },
  {
    name: 'a freed queue place can be taken by a newcomer',
    options: { capacity: 1, queueDepth: 1 },
    steps: [{ acquire: 'a' }, { acquire: 'b', withSignal: true }, { abort: 'b' }, { acquire: 'c' }],
    expected: { inFlight: 1, queued: 1, outcomes: { a: 'admitted', b: 'REQUEST_ABORTED', c: 'waiting' } },
  },
  {
    name: 'a deadline (TimeoutError) while queued gives 504',
    options: { capacity: 1, queueDepth: 1 },
    steps: [{ acquire: 'a' }, { acquire: 'b', withSignal: true }, { abort: 'b', reason: timeout() }],
    expected: {
      inFlight: 1,
      queued: 0,
      outcomes: { a: 'admitted', b: 'DEADLINE_EXCEEDED' },
      statuses: { b: 504 },
    },
  },
  {
    name: 'a ZeroscaleError abort reason is passed through unchanged',
    options: { capacity: 0, queueDepth: 1 },
    steps: [
      { acquire: 'a', withSignal: true },
      { abort: 'a', reason: new ZeroscaleError('SERVICE_DELETED', 'gone', { httpStatus: 404 }) },
    ],
    expected: { inFlight: 0, queued: 0, outcomes: { a: 'SERVICE_DELETED' }, statuses: { a: 404 } },
  },
  {
    name: 'aborting after admission changes nothing',
    options: { capacity: 1, queueDepth: 1 },
    steps: [{ acquire: 'a', withSignal: true }, { abort: 'a' }],
    expected: { inFlight: 1, queued: 0, outcomes: { a: 'admitted' } },
  },
  {
    name: 'capacity 0 holds every request until capacity grows, then admits in order',
    options: { capacity: 0, queueDepth: 10 },
    steps: [{ acquire: 'a' }, { acquire: 'b' }, { acquire: 'c' }, { setCapacity: 2 }],
    expected: {
      inFlight: 2,
      queued: 1,
      outcomes: { a: 'admitted', b: 'admitted', c: 'waiting' },
      admitted: ['a', 'b'],
    },
  },
  {
    name: 'shrinking lets in-flight requests finish and admits no one above the new limit',
    options: { capacity: 3, queueDepth: 5 },
    steps: [
      { acquire: 'a' },
      { acquire: 'b' },
      { acquire: 'c' },
      { setCapacity: 1 },
      { acquire: 'd' },
      { release: 2 },
    ],
    expected: {
      inFlight: 1,
      queued: 1,
      outcomes: { a: 'admitted', b: 'admitted', c: 'admitted', d: 'waiting' },
    },
  },
  {
    name: 'after shrinking, the waiter goes once in-flight drops below the limit',
    options: { capacity: 3, queueDepth: 5 },
    steps: [
      { acquire: 'a' },
      { acquire: 'b' },
      { acquire: 'c' },
      { setCapacity: 1 },
      { acquire: 'd' },
      { release: 3 },
    ],
    expected: {
      inFlight: 1,
      queued: 0,
      outcomes: { a: 'admitted', b: 'admitted', c: 'admitted', d: 'admitted' },
      admitted: ['a', 'b', 'c', 'd'],
    },
  },
  {
    name: 'unlimited capacity never queues',
    options: { capacity: Number.POSITIVE_INFINITY, queueDepth: 0 },
    steps: [{ acquire: 'a' }, { acquire: 'b' }, { acquire: 'c' }],
    expected: { inFlight: 3, queued: 0, outcomes: { a: 'admitted', b: 'admitted', c: 'admitted' } },
  },
  {
    name: 'a smaller queue depth keeps the waiters already queued but refuses new ones',
    options: { capacity: 0, queueDepth: 3 },
    steps: [{ acquire: 'a' }, { acquire: 'b' }, { setQueueDepth: 1 }, { acquire: 'c' }],
    expected: { inFlight: 0, queued: 2, outcomes: { a: 'waiting', b: 'waiting', c: 'QUEUE_FULL' } },
  },
  {
    name: 'rejectWaiting empties the queue and leaves in-flight requests alone',
    options: { capacity: 1, queueDepth: 3 },
    steps: [{ acquire: 'a' }, { acquire: 'b' }, { acquire: 'c' }, { rejectWaiting: 'SHUTTING_DOWN' }],
    expected: {
      inFlight: 1,
      queued: 0,
      outcomes: { a: 'admitted', b: 'SHUTTING_DOWN', c: 'SHUTTING_DOWN' },
      statuses: { b: 503, c: 503 },
    },
  },
];

// Lets every settled promise run its handlers; no time passes.
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

async function run(c: Case) {
  const breaker = new Breaker(c.options);
  const outcomes: Record<string, string> = {};
  const statuses: Record<string, number | undefined> = {};
  const admitted: string[] = [];
  const controllers = new Map<string, AbortController>();
  for (const step of c.steps) {
    if ('acquire' in step) {
      const id = step.acquire;
      const controller = step.withSignal ? new AbortController() : undefined;
      if (controller) controllers.set(id, controller);
      outcomes[id] = 'waiting';
      breaker.acquire(controller?.signal).then(
        () => {
          outcomes[id] = 'admitted';
          admitted.push(id);
        },
        (err: unknown) => {
          outcomes[id] = isZeroscaleError(err) ? err.code : 'unexpected';
          statuses[id] = isZeroscaleError(err) ? err.httpStatus : -1;
        },
      );
    } else if ('release' in step) {
      for (let i = 0; i < step.release; i++) breaker.release();
    } else if ('abort' in step) {
      const controller = controllers.get(step.abort)!;
      controller.abort(step.reason);
    } else if ('setCapacity' in step) {
      breaker.setCapacity(step.setCapacity);
    } else if ('setQueueDepth' in step) {
      breaker.setQueueDepth(step.setQueueDepth);
    } else {
      breaker.rejectWaiting(new ZeroscaleError(step.rejectWaiting, 'stopping', { httpStatus: 503 }));
    }
    await settle();
  }
  return { breaker, outcomes, statuses, admitted, controllers };
}

describe('Breaker', () => {
  it.each(cases)('$name', async (c) => {
    const { breaker, outcomes, statuses, admitted } = await run(c);
    expect(outcomes).toEqual(c.expected.outcomes);
    expect(breaker.inFlight).toBe(c.expected.inFlight);
    expect(breaker.queued).toBe(c.expected.queued);
    if (c.expected.admitted) expect(admitted).toEqual(c.expected.admitted);
    if (c.expected.statuses) {
      for (const [id, status] of Object.entries(c.expected.statuses)) expect(statuses[id]).toBe(status);
    }
  });

  it('takes a waiter off the queue synchronously when its signal aborts', async () => {
    const breaker = new Breaker({ capacity: 0, queueDepth: 1 });
    const controller = new AbortController();
    const pending = breaker.acquire(controller.signal);
    expect(breaker.queued).toBe(1);
    controller.abort();
    // The place is free before any promise handler has run.
    expect(breaker.queued).toBe(0);
    await expect(pending).rejects.toMatchObject({ code: 'REQUEST_ABORTED' });
  });

  it('removes its abort listener once a waiter is admitted or abandoned', async () => {
    const breaker = new Breaker({ capacity: 0, queueDepth: 2 });
    const admittedSignal = new AbortController().signal;
    const abandoned = new AbortController();
    const admitted = breaker.acquire(admittedSignal);
    const rejected = breaker.acquire(abandoned.signal);
    expect(getEventListeners(admittedSignal, 'abort')).toHaveLength(1);
    breaker.setCapacity(1);
    abandoned.abort();
    await admitted;
    await expect(rejected).rejects.toMatchObject({ code: 'REQUEST_ABORTED' });
    expect(getEventListeners(admittedSignal, 'abort')).toHaveLength(0);
    expect(getEventListeners(abandoned.signal, 'abort')).toHaveLength(0);
  });

  it.each([
    { name: 'client already gone', reason: undefined, code: 'REQUEST_ABORTED' },
    { name: 'deadline already passed', reason: timeout(), code: 'DEADLINE_EXCEEDED' },
  ])('rejects an already-aborted signal without taking a slot: $name', async ({ reason, code }) => {
    const breaker = new Breaker({ capacity: 5, queueDepth: 5 });
    await expect(breaker.acquire(AbortSignal.abort(reason))).rejects.toMatchObject({ code });
    expect(breaker.inFlight).toBe(0);
    expect(breaker.queued).toBe(0);
  });

  it.each([
    { name: 'room', options: { capacity: 2, queueDepth: 0 }, held: 1, expected: true },
    { name: 'full', options: { capacity: 2, queueDepth: 0 }, held: 2, expected: false },
    { name: 'capacity 0', options: { capacity: 0, queueDepth: 1 }, held: 0, expected: false },
  ])('tryAcquire takes a slot only when there is room: $name', ({ options, held, expected }) => {
    const breaker = new Breaker(options);
    for (let i = 0; i < held; i++) expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.tryAcquire()).toBe(expected);
    expect(breaker.inFlight).toBe(held + (expected ? 1 : 0));
  });

  it('refuses a release with nothing in flight', () => {
    const breaker = new Breaker({ capacity: 1, queueDepth: 0 });
    expect(() => breaker.release()).toThrow(expect.objectContaining({ code: 'BREAKER_RELEASE_UNDERFLOW' }));
  });

  it.each([
    { name: 'negative capacity', options: { capacity: -1, queueDepth: 0 } },
    { name: 'fractional capacity', options: { capacity: 1.5, queueDepth: 0 } },
    { name: 'NaN capacity', options: { capacity: Number.NaN, queueDepth: 0 } },
    { name: 'unbounded queue', options: { capacity: 1, queueDepth: Number.POSITIVE_INFINITY } },
    { name: 'negative queue', options: { capacity: 1, queueDepth: -3 } },
  ])('rejects invalid options: $name', ({ options }) => {
    expect(() => new Breaker(options)).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }));
  });
});
