// One service's writes to the outside (replicas, status): never two at once, only the newest
// value, only when it is worth writing, and after a failure not again before a back-off. Offered
// every tick; costs a comparison when there is nothing to write. No timers: the next offer retries.

export interface WritePolicy<T> {
  /** Whether `next` must be written, given the last value written successfully and when. */
  needsWrite(next: T, written: T | undefined, writtenAtMs: number, nowMs: number): boolean;
}

export interface CoalescingWriterOptions<T> {
  readonly write: (value: T) => Promise<void>;
  readonly policy: WritePolicy<T>;
  /** Called with each failure and the number of consecutive failures so far. */
  readonly onError: (err: unknown, failures: number) => void;
  /** Back-off after n consecutive failures: min(max, base × 2^(n − 1)). Defaults 1 s and 30 s. */
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
}

export class CoalescingWriter<T> {
  readonly #options: CoalescingWriterOptions<T>;
  #written: T | undefined;
  #writtenAtMs = Number.NEGATIVE_INFINITY;
  #inFlight = false;
  /** The newest value offered while a write was in flight, and when; written next if still needed. */
  #pending: { value: T; atMs: number } | undefined;
  #failures = 0;
  #retryAtMs = Number.NEGATIVE_INFINITY;

  constructor(options: CoalescingWriterOptions<T>) {
    this.#options = options;
  }

  /** The last value written successfully. */
  get written(): T | undefined {
    return this.#written;
  }

  get inFlight(): boolean {
    return this.#inFlight;
  }

  /** Writes `value` now if the policy wants it and nothing is in flight or backing off. */
  offer(value: T, nowMs: number): void {
    if (this.#inFlight) {
      this.#pending = { value, atMs: nowMs };
      return;
    }
    if (nowMs < this.#retryAtMs) return;
    if (!this.#options.policy.needsWrite(value, this.#written, this.#writtenAtMs, nowMs)) return;
    this.#start(value, nowMs);
  }

  #start(value: T, nowMs: number): void {
    this.#inFlight = true;
    let written: Promise<void>;
    try {
      written = this.#options.write(value);
    } catch (err) {
      // A write that throws instead of rejecting must not leave the writer in flight for ever.
      written = Promise.reject(err);
    }
    written.then(
      () => this.#settled(value, nowMs, undefined),
      (err: unknown) => this.#settled(value, nowMs, err ?? new Error('write failed')),
    );
  }

  #settled(value: T, atMs: number, err: unknown): void {
    this.#inFlight = false;
    if (err === undefined) {
      this.#written = value;
      this.#writtenAtMs = atMs;
      this.#failures = 0;
      this.#retryAtMs = Number.NEGATIVE_INFINITY;
    } else {
      this.#failures++;
      const base = this.#options.backoffBaseMs ?? 1_000;
      const max = this.#options.backoffMaxMs ?? 30_000;
      this.#retryAtMs = atMs + Math.min(max, base * 2 ** (this.#failures - 1));
      this.#options.onError(err, this.#failures);
    }
    const pending = this.#pending;
    this.#pending = undefined;
    if (pending !== undefined) this.offer(pending.value, pending.atMs);
  }
}
