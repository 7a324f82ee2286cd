// What a request costs while it waits for capacity, kept small: 10,000 may wait at once. A held
// request is its own abort signal for the Breaker (no AbortController per request) and its own
// node in a deadline list (one per activator service, one per queue-proxy), so one timer per
// list, not one per request, ends the requests whose deadline passed. The one mechanism for
// waiting in both proxies.

import type { EventEmitter } from 'node:events';
import { type Clock, systemClock, type Timer } from '../clock.ts';
import type { ZeroscaleError } from '../errors.ts';

/** The listener objects the Breaker registers (its waiters). */
interface AbortListener {
  handleEvent(event: Event): void;
}

/**
 * The part of AbortSignal that `Breaker.acquire` uses: `aborted`, `reason` and one 'abort'
 * listener object. A request is aborted at most once: by its deadline or by its client leaving.
 */
export class HeldSignal {
  aborted = false;
  reason: unknown = undefined;
  #listener: AbortListener | undefined = undefined;
  /** Absolute deadline, in the DeadlineList clock's monotonicNow() ms (performance.now()). */
  deadline = 0;
  prevHeld: HeldSignal | undefined = undefined;
  nextHeld: HeldSignal | undefined = undefined;
  /** Linked into a DeadlineList (or timed by its own timer there, see `DeadlineList.add`). */
  held = false;
  ownTimer: Timer | undefined = undefined;

  addEventListener(_type: 'abort', listener: AbortListener): void {
    this.#listener = listener;
  }

  removeEventListener(_type: 'abort', listener: AbortListener): void {
    if (this.#listener === listener) this.#listener = undefined;
  }

  abort(reason?: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listener = this.#listener;
    this.#listener = undefined;
    listener?.handleEvent(ABORT_EVENT);
  }

  /** Typed view for `Breaker.acquire`, which reads only the members above. */
  asSignal(): AbortSignal {
    return this as unknown as AbortSignal;
  }
}

const ABORT_EVENT = new Event('abort');

/**
 * Held requests of one service in deadline order. All requests of a service share its timeout,
 * so arrival order is deadline order and the earliest deadline is always at the head (a timeout
 * lowered while requests wait is honoured at the latest when the older heads expire). A request
 * with a shorter deadline of its own (a gRPC client's grpc-timeout) would break that order: it
 * gets a timer of its own instead of a place in the list.
 */
export class DeadlineList {
  #head: HeldSignal | undefined = undefined;
  #tail: HeldSignal | undefined = undefined;
  #timer: Timer | undefined = undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  /** Requests whose deadline came before the tail's: each on its own timer. */
  readonly #ownTimed = new Set<HeldSignal>();
  readonly #expired: (held: HeldSignal) => ZeroscaleError;
  readonly #clock: Clock;

  /**
   * `expired` makes the abort reason of a request whose deadline passed. The clock must be the one
   * the deadlines are on: the system clock for requests stamped with performance.now().
   */
  constructor(expired: (held: HeldSignal) => ZeroscaleError, clock: Clock = systemClock) {
    this.#expired = expired;
    this.#clock = clock;
  }

  add(held: HeldSignal): void {
    if (this.#tail !== undefined && held.deadline < this.#tail.deadline) {
      held.held = true;
      this.#ownTimed.add(held);
      held.ownTimer = this.#clock.setTimeout(
        () => {
          held.ownTimer = undefined;
          held.held = false;
          this.#ownTimed.delete(held);
          held.abort(this.#expired(held));
        },
        Math.max(0, held.deadline - this.#clock.monotonicNow()),
      );
      return;
    }
    held.prevHeld = this.#tail;
    held.nextHeld = undefined;
    if (this.#tail === undefined) this.#head = held;
    else this.#tail.nextHeld = held;
    this.#tail = held;
    held.held = true;
    if (held.deadline < this.#timerAt) this.#arm(held.deadline);
  }

  remove(held: HeldSignal): void {
    if (!held.held) return;
    held.held = false;
    if (held.ownTimer !== undefined) {
      this.#clock.clearTimeout(held.ownTimer);
      held.ownTimer = undefined;
      this.#ownTimed.delete(held);
      return;
    }
    if (held.prevHeld === undefined) this.#head = held.nextHeld;
    else held.prevHeld.nextHeld = held.nextHeld;
    if (held.nextHeld === undefined) this.#tail = held.prevHeld;
    else held.nextHeld.prevHeld = held.prevHeld;
    held.prevHeld = undefined;
    held.nextHeld = undefined;
    if (this.#head === undefined) this.#disarm();
  }

  /** Stops the timer; the requests are ended by other means (shutdown, service removal). */
  clear(): void {
    this.#disarm();
    while (this.#head !== undefined) this.remove(this.#head);
    for (const held of this.#ownTimed) this.remove(held);
  }

  #arm(at: number): void {
    this.#disarm();
    this.#timerAt = at;
    this.#timer = this.#clock.setTimeout(() => this.#expire(), Math.max(0, at - this.#clock.monotonicNow()));
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
  }

  #expire(): void {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const now = this.#clock.monotonicNow();
    while (this.#head !== undefined && this.#head.deadline <= now) {
      const held = this.#head;
      this.remove(held);
      held.abort(this.#expired(held));
    }
    if (this.#head !== undefined) this.#arm(this.#head.deadline);
  }
}

const kHeld = Symbol('zeroscale.held');
interface WatchedClient {
  [kHeld]?: HeldSignal | undefined;
}

// Module-level: no closure per held request.
function onHeldClientClose(this: WatchedClient): void {
  this[kHeld]?.abort();
}

/** Aborts `held` when `client` (its response or upgrade socket) closes, until `unwatchClient`. */
export function watchClient(client: EventEmitter, held: HeldSignal): void {
  (client as EventEmitter & WatchedClient)[kHeld] = held;
  client.once('close', onHeldClientClose);
}

export function unwatchClient(client: EventEmitter): void {
  (client as EventEmitter & WatchedClient)[kHeld] = undefined;
  client.removeListener('close', onHeldClientClose);
}
