// The one source of time. Pure decisions take `now` as an argument; code that waits, schedules or
// measures takes a Clock, so tests drive time with a ManualClock instead of sleeping.

/** A scheduled callback; `unref` lets the process exit while it is pending (system clock). */
export interface Timer {
  unref(): Timer;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /**
   * Milliseconds on a clock that is never stepped (performance.now() on the system clock), for
   * durations and deadlines. The proxies stamp requests with performance.now() on their hot path,
   * so whatever compares against those stamps (held-request deadlines) uses the system clock.
   */
  monotonicNow(): number;
  setTimeout(callback: () => void, ms: number): Timer;
  clearTimeout(timer: Timer | undefined): void;
  setInterval(callback: () => void, ms: number): Timer;
  clearInterval(timer: Timer | undefined): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonicNow: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout | undefined),
  setInterval: (callback, ms) => setInterval(callback, ms),
  clearInterval: (timer) => clearInterval(timer as NodeJS.Timeout | undefined),
};

/** Resolves after `ms` on `clock`. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}

class ManualTimer implements Timer {
  readonly callback: () => void;
  at: number;
  readonly intervalMs: number | undefined;
  readonly seq: number;
  constructor(callback: () => void, at: number, intervalMs: number | undefined, seq: number) {
    this.callback = callback;
    this.at = at;
    this.intervalMs = intervalMs;
    this.seq = seq;
  }
  unref(): Timer {
    return this;
  }
}

/**
 * A clock that only moves when told to, for tests. `advance(ms)` fires the timers that fall due on
 * the way, in time order (equal times in the order they were set), each with the clock at its
 * time; `tick(ms)` does the same but lets promises and I/O callbacks run after each timer, for code
 * that awaits a timer and then sets the next one. now() and monotonicNow() are the same number.
 */
export class ManualClock implements Clock {
  #ms: number;
  #seq = 0;
  #timers: ManualTimer[] = [];

  constructor(startMs = 0) {
    this.#ms = startMs;
  }

  now(): number {
    return this.#ms;
  }

  monotonicNow(): number {
    return this.#ms;
  }

  setTimeout(callback: () => void, ms: number): Timer {
    return this.#add(callback, ms, undefined);
  }

  setInterval(callback: () => void, ms: number): Timer {
    return this.#add(callback, ms, Math.max(1, ms));
  }

  clearTimeout(timer: Timer | undefined): void {
    if (!(timer instanceof ManualTimer)) return;
    this.#timers = this.#timers.filter((t) => t !== timer);
  }

  clearInterval(timer: Timer | undefined): void {
    this.clearTimeout(timer);
  }

  /** Timers set and not yet fired or cleared. */
  get pendingTimers(): number {
    return this.#timers.length;
  }

  /** Moves the clock `ms` forward, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const until = this.#ms + ms;
    for (let due = this.#nextDue(until); due !== undefined; due = this.#nextDue(until)) this.#fire(due);
    this.#ms = until;
  }

  /** As advance, but after each timer it lets promise continuations and I/O callbacks run. */
  async tick(ms: number): Promise<void> {
    const until = this.#ms + ms;
    await settle();
    for (let due = this.#nextDue(until); due !== undefined; due = this.#nextDue(until)) {
      this.#fire(due);
      await settle();
    }
    this.#ms = until;
  }

  /** Sets the time without firing timers (a stepped wall clock). */
  set(ms: number): void {
    this.#ms = ms;
  }

  #add(callback: () => void, ms: number, intervalMs: number | undefined): ManualTimer {
    const timer = new ManualTimer(callback, this.#ms + Math.max(0, ms), intervalMs, this.#seq++);
    this.#timers.push(timer);
    return timer;
  }

  #nextDue(until: number): ManualTimer | undefined {
    let next: ManualTimer | undefined;
    for (const t of this.#timers) {
      if (t.at > until) continue;
      if (next === undefined || t.at < next.at || (t.at === next.at && t.seq < next.seq)) next = t;
    }
    return next;
  }

  #fire(timer: ManualTimer): void {
    this.#ms = Math.max(this.#ms, timer.at);
    if (timer.intervalMs === undefined) this.#timers = this.#timers.filter((t) => t !== timer);
    else timer.at += timer.intervalMs;
    timer.callback();
  }
}

/** Lets pending promise continuations and I/O callbacks run (one turn of the event loop). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
