// A token bucket for writes to the apiserver that may be skipped or put off when there are too
// many at once (pod deletion costs, Events, non-urgent status). Pure: the clock is the caller's.

/** At most `perSecond` writes a second on average, `burst` at once; the clock is given. */
export class WriteBudget {
  readonly #perSecond: number;
  readonly #burst: number;
  #tokens: number;
  #atMs: number;

  constructor(perSecond: number, burst: number, nowMs: number) {
    this.#perSecond = perSecond;
    this.#burst = burst;
    this.#tokens = burst;
    this.#atMs = nowMs;
  }

  /** Takes one write; false when the budget is spent (the write is skipped). */
  take(nowMs: number): boolean {
    this.#tokens = Math.min(this.#burst, this.#tokens + ((nowMs - this.#atMs) / 1000) * this.#perSecond);
    this.#atMs = nowMs;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
