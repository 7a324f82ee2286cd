// Reading the body of a request that waits for capacity (held while its service is cold, queued
// for a slot). Only reading a socket shows that its client left: the FIN comes after the body
// bytes, so a waiter whose body sat unread in a full TCP window stayed until its deadline and
// could still be forwarded. While a request waits, its body is read into a small buffer, bounded
// per request and per process; past a bound reading pauses (the deadline then still ends it).

import { type MetricsRegistry, registerCollected } from '../telemetry/collected.ts';
import type { ClientRequest } from './client-message.ts';
import { hasUnreadBody } from './framing.ts';

/** Bytes the held bodies of one process may buffer at once; shared by all its waiting requests. */
export class HeldBodyBudget {
  readonly limitBytes: number;
  readonly perRequestBytes: number;
  #used = 0;
  /** Held requests whose reading paused at a bound (counted once each). */
  paused = 0;

  constructor(options: { limitBytes: number; perRequestBytes: number }) {
    this.limitBytes = options.limitBytes;
    this.perRequestBytes = options.perRequestBytes;
  }

  get usedBytes(): number {
    return this.#used;
  }

  /** Takes `n` bytes if they fit in both bounds, given `held` bytes already taken by the request. */
  take(n: number, held: number): boolean {
    if (held + n > this.perRequestBytes || this.#used + n > this.limitBytes) return false;
    this.#used += n;
    return true;
  }

  give(n: number): void {
    this.#used -= n;
  }
}

const kHeldBody = Symbol('zeroscale.heldBody');
interface WithHeldBody {
  [kHeldBody]?: HeldBody | undefined;
}

class HeldBody {
  readonly req: ClientRequest & WithHeldBody;
  readonly budget: HeldBodyBudget;
  readonly chunks: Buffer[] = [];
  bytes = 0;
  reading = true;

  constructor(req: ClientRequest, budget: HeldBodyBudget) {
    this.req = req;
    this.budget = budget;
  }

  stopReading(): void {
    if (!this.reading) return;
    this.reading = false;
    this.req.removeListener('data', onHeldData);
    if (!this.req.readableEnded) this.req.pause();
  }

  release(): Buffer[] {
    this.stopReading();
    this.budget.give(this.bytes);
    this.bytes = 0;
    this.req[kHeldBody] = undefined;
    return this.chunks;
  }
}

function onHeldData(this: ClientRequest & WithHeldBody, chunk: Buffer): void {
  const held = this[kHeldBody];
  if (held === undefined) return;
  if (!held.budget.take(chunk.length, held.bytes)) {
    // Put back, unread: the request goes on from here when it is forwarded.
    held.stopReading();
    this.unshift(chunk);
    held.budget.paused++;
    return;
  }
  held.bytes += chunk.length;
  held.chunks.push(chunk);
}

/**
 * Starts reading the body of a request that is about to wait. Nothing is done for a request
 * whose body already arrived (or that has none): its client's leaving is seen anyway.
 */
export function holdBody(req: ClientRequest, budget: HeldBodyBudget): void {
  const r = req as ClientRequest & WithHeldBody;
  if (!hasUnreadBody(req) || r[kHeldBody] !== undefined) return;
  const held = new HeldBody(req, budget);
  r[kHeldBody] = held;
  req.on('data', onHeldData);
  req.resume();
}

/** Stops reading a waiting request's body; its buffered chunks stay for `takeHeldChunks`. */
export function pauseHeldBody(req: ClientRequest): void {
  (req as ClientRequest & WithHeldBody)[kHeldBody]?.stopReading();
}

/** The chunks read while the request waited, in order, and frees their budget; once. */
export function takeHeldChunks(req: ClientRequest): Buffer[] | undefined {
  const held = (req as ClientRequest & WithHeldBody)[kHeldBody];
  return held?.release();
}

// Bytes put back by restoreHeldChunks are bounded by the one who put them back.
const UNCOUNTED = new HeldBodyBudget({
  limitBytes: Number.POSITIVE_INFINITY,
  perRequestBytes: Number.POSITIVE_INFINITY,
});

/**
 * Puts body chunks already sent back in front of the rest of the request, for `takeHeldChunks`:
 * an upstream that refused the request without acting on it (an HTTP/2 stream refused, or past a
 * GOAWAY) lets it be sent again whole. The caller bounds how much it keeps for this.
 */
export function restoreHeldChunks(req: ClientRequest, chunks: readonly Buffer[]): void {
  const held = new HeldBody(req, UNCOUNTED);
  held.reading = false;
  held.chunks.push(...chunks);
  (req as ClientRequest & WithHeldBody)[kHeldBody] = held;
}

/** Frees what a request that will not be forwarded had buffered. */
export function dropHeldBody(req: ClientRequest): void {
  takeHeldChunks(req);
}

/** The budget as `<prefix>_held_body_bytes`, `…_limit` and `<prefix>_held_body_paused_total`. */
export function registerHeldBodyMetrics(
  registry: MetricsRegistry,
  prefix: string,
  budget: HeldBodyBudget,
): void {
  registerCollected(
    registry,
    `${prefix}_held_body_bytes`,
    'Body bytes read from requests while they wait for capacity, so that a client leaving is seen.',
    'gauge',
    () => [{ value: budget.usedBytes, labels: {} }],
  );
  registerCollected(
    registry,
    `${prefix}_held_body_bytes_limit`,
    'Most body bytes all waiting requests may hold; past it (or past the per-request bound) reading pauses.',
    'gauge',
    () => [{ value: budget.limitBytes, labels: {} }],
  );
  registerCollected(
    registry,
    `${prefix}_held_body_paused_total`,
    'Waiting requests whose body reading paused at a bound (their client leaving is then seen at the deadline).',
    'counter',
    () => [{ value: budget.paused, labels: {} }],
  );
}
