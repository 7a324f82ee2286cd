// A concurrency breaker with a bounded FIFO wait queue, used per service by the activator and per
// pod by the queue-proxy: at most `capacity` requests in flight, at most `queueDepth` waiting.

import { ZeroscaleError } from '../errors.ts';

/** Stable codes a caller can map to a response; see `breakerError`. */
export type BreakerErrorCode = 'QUEUE_FULL' | 'DEADLINE_EXCEEDED' | 'REQUEST_ABORTED' | 'SHUTTING_DOWN';

export interface BreakerOptions {
  /** Requests allowed in flight; a non-negative integer or `Infinity`. 0 holds everything. */
  readonly capacity: number;
  /** Requests allowed to wait behind the in-flight ones; a non-negative integer. */
  readonly queueDepth: number;
}

/** Builds the error a breaker rejects with, so callers and tests share one catalogue. */
export function breakerError(code: BreakerErrorCode, message: string, cause?: unknown): ZeroscaleError {
  // 503 for a full queue: the service may catch up, so the client may retry (after Retry-After).
  // 504 for a deadline: the request's whole timeout (queue time included) was spent.
  // No status for an abort: the client is gone and nothing can be sent to it.
  const httpStatus = code === 'DEADLINE_EXCEEDED' ? 504 : code === 'REQUEST_ABORTED' ? undefined : 503;
  return new ZeroscaleError(code, message, httpStatus === undefined ? { cause } : { httpStatus, cause });
}

// One node per waiting request. It is its own abort listener (EventTarget accepts objects with
// `handleEvent`), so waiting costs this node and a promise, and no listener closure per request.
class Waiter {
  prev: Waiter | undefined = undefined;
  next: Waiter | undefined = undefined;
  /** True while linked into the queue; false once admitted, abandoned or rejected. */
  waiting = true;
  readonly signal: AbortSignal | undefined;
  readonly resolve: () => void;
  readonly reject: (err: ZeroscaleError) => void;
  readonly #abandon: (waiter: Waiter) => void;

  constructor(
    abandon: (waiter: Waiter) => void,
    signal: AbortSignal | undefined,
    resolve: () => void,
    reject: (err: ZeroscaleError) => void,
  ) {
    this.#abandon = abandon;
    this.signal = signal;
    this.resolve = resolve;
    this.reject = reject;
  }

  handleEvent(): void {
    this.#abandon(this);
  }
}

export class Breaker {
  #capacity: number;
  #queueDepth: number;
  #inFlight = 0;
  #queued = 0;
  // Doubly linked list: FIFO admission at the head, O(1) removal of an abandoned waiter anywhere.
  #head: Waiter | undefined = undefined;
  #tail: Waiter | undefined = undefined;
  // One closure per breaker, shared by all its waiters, called when a waiter's signal aborts.
  readonly #abandon = (waiter: Waiter): void => {
    if (!waiter.waiting) return; // admitted or rejected in the same tick as the abort
    this.#unlink(waiter);
    waiter.reject(abortError(waiter.signal?.reason));
  };

  constructor(options: BreakerOptions) {
    this.#capacity = checkCapacity(options.capacity);
    this.#queueDepth = checkQueueDepth(options.queueDepth);
  }

  get capacity(): number {
    return this.#capacity;
  }
  get queueDepth(): number {
    return this.#queueDepth;
  }
  /** Requests holding a slot now. May exceed `capacity` for a while after it shrank. */
  get inFlight(): number {
    return this.#inFlight;
  }
  /** Requests waiting for a slot now. */
  get queued(): number {
    return this.#queued;
  }

  /**
   * Takes a slot without waiting, or returns false. Never jumps the queue: while anyone waits, a
   * newcomer is not admitted ahead of them. The hot path tries this first to avoid a promise.
   */
  tryAcquire(): boolean {
    if (this.#head !== undefined || this.#inFlight >= this.#capacity) return false;
    this.#inFlight++;
    return true;
  }

  /**
   * Resolves once the caller holds a slot; it must then call `release()` exactly once. Rejects with
   * QUEUE_FULL at once when the queue is full, and when `signal` aborts (before or while waiting)
   * with the reason mapped by `abortError`: the request's deadline and the client's disconnect
   * arrive as one signal, so the breaker needs no timers of its own.
   */
  acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortError(signal.reason));
    if (this.tryAcquire()) return Promise.resolve();
    if (this.#queued >= this.#queueDepth) {
      return Promise.reject(
        breakerError(
          'QUEUE_FULL',
          `request queue full: ${this.#inFlight} in flight, ${this.#queued} waiting (limit ${this.#queueDepth})`,
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const waiter = new Waiter(this.#abandon, signal, resolve, reject);
      this.#append(waiter);
      signal?.addEventListener('abort', waiter, { once: true });
    });
  }

  /** Gives back a slot and hands it to the oldest waiter, if capacity allows. */
  release(): void {
    if (this.#inFlight <= 0) {
      throw new ZeroscaleError('BREAKER_RELEASE_UNDERFLOW', 'release() called with no request in flight');
    }
    this.#inFlight--;
    this.#admit();
  }

  /**
   * Changes capacity at runtime (pods came or went). Growing admits waiters at once; shrinking lets
   * the requests already in flight finish and admits no one until in-flight drops below the limit.
   */
  setCapacity(capacity: number): void {
    this.#capacity = checkCapacity(capacity);
    this.#admit();
  }

  /** Changes the queue limit; requests already waiting keep their place even beyond the new limit. */
  setQueueDepth(queueDepth: number): void {
    this.#queueDepth = checkQueueDepth(queueDepth);
  }

  /** Rejects every waiting request with `error` (the service was deleted, the process is stopping). */
  rejectWaiting(error: ZeroscaleError): void {
    while (this.#head !== undefined) {
      const waiter = this.#head;
      this.#unlink(waiter);
      waiter.reject(error);
    }
  }

  #admit(): void {
    while (this.#head !== undefined && this.#inFlight < this.#capacity) {
      const waiter = this.#head;
      this.#unlink(waiter);
      this.#inFlight++;
      waiter.resolve();
    }
  }

  #append(waiter: Waiter): void {
    waiter.prev = this.#tail;
    if (this.#tail === undefined) this.#head = waiter;
    else this.#tail.next = waiter;
    this.#tail = waiter;
    this.#queued++;
  }

  #unlink(waiter: Waiter): void {
    if (waiter.prev === undefined) this.#head = waiter.next;
    else waiter.prev.next = waiter.next;
    if (waiter.next === undefined) this.#tail = waiter.prev;
    else waiter.next.prev = waiter.prev;
    waiter.prev = undefined;
    waiter.next = undefined;
    waiter.waiting = false;
    this.#queued--;
    waiter.signal?.removeEventListener('abort', waiter);
  }
}

/**
 * Maps an abort reason to a breaker error. A ZeroscaleError reason is kept as is (the caller chose
 * it); a TimeoutError (from `AbortSignal.timeout`) is the request's deadline; anything else means
 * the client went away.
 */
export function abortError(reason: unknown): ZeroscaleError {
  if (reason instanceof ZeroscaleError) return reason;
  if (reason instanceof Error && reason.name === 'TimeoutError') {
    return breakerError('DEADLINE_EXCEEDED', 'request deadline passed while waiting for capacity', reason);
  }
  return breakerError('REQUEST_ABORTED', 'request was abandoned while waiting for capacity', reason);
}

function checkCapacity(capacity: number): number {
  if (capacity === Number.POSITIVE_INFINITY || (Number.isInteger(capacity) && capacity >= 0)) return capacity;
  throw new ZeroscaleError(
    'INVALID_OPTIONS',
    `breaker capacity must be an integer >= 0 or Infinity, got ${capacity}`,
  );
}

function checkQueueDepth(queueDepth: number): number {
  if (Number.isInteger(queueDepth) && queueDepth >= 0) return queueDepth;
  throw new ZeroscaleError(
    'INVALID_OPTIONS',
    `breaker queueDepth must be an integer >= 0, got ${queueDepth}`,
  );
}
