// Gives an idle queue-proxy's memory back. V8 keeps the heap a process grew: the new space stays at
// its largest, pages freed by a collection stay pooled, and start-up garbage stays in old space
// until old space grows. V8's own memory reducer would compact and shrink all that, but only once
// the allocation rate is low, and an idle pod is still scraped every second (by the autoscaler,
// by Prometheus), so that never happens: an idle queue-proxy sat at ~13 MB of anonymous memory.
// One memory-reducing collection when the pod goes quiet brings it to ~10.5 MB, and one now and
// then while it stays quiet keeps it there (bench/results/sidecar.md). A collection pauses the
// process for ~20-30 ms, so it runs only when no request is in flight and none has arrived for a
// while; a request that arrives during one waits that long.

import type { Clock, Timer } from '../clock.ts';

/** What the settler last saw. */
export interface SettleState {
  /** The activity counter at the last check. */
  readonly seenActivity: number;
  /** When activity (a request arriving or in flight) was last seen, ms. */
  readonly activeAt: number;
  /** When the heap was last settled, ms; undefined until the first time. */
  readonly settledAt: number | undefined;
}

export interface SettlePolicy {
  /** How often the settler looks. */
  readonly checkMs: number;
  /** Quiet this long (no request arriving or in flight) before the first collection. */
  readonly quietMs: number;
  /** While the quiet lasts, again after this long. */
  readonly againMs: number;
}

export const DEFAULT_SETTLE_POLICY: SettlePolicy = { checkMs: 1_000, quietMs: 2_000, againMs: 30_000 };

/**
 * One check: the state it leaves and whether to collect now. `activity` grows with every request
 * that arrives; `inFlight` counts those not finished.
 */
export function settleCheck(
  state: SettleState,
  now: number,
  activity: number,
  inFlight: number,
  policy: SettlePolicy,
): { state: SettleState; collect: boolean } {
  if (activity !== state.seenActivity || inFlight > 0) {
    return { state: { ...state, seenActivity: activity, activeAt: now }, collect: false };
  }
  if (now - state.activeAt < policy.quietMs) return { state, collect: false };
  // First collection of this quiet period, or the quiet has lasted againMs since the last one.
  const due =
    state.settledAt === undefined ||
    state.settledAt < state.activeAt ||
    now - state.settledAt >= policy.againMs;
  return due ? { state: { ...state, settledAt: now }, collect: true } : { state, collect: false };
}

export interface HeapSettlerOptions {
  readonly clock: Clock;
  /** The memory-reducing collection (see memoryReducingCollection). */
  readonly collect: () => void;
  readonly activity: () => number;
  readonly inFlight: () => number;
  readonly policy?: SettlePolicy;
}

/** Checks every checkMs (an unref'd timer: it never keeps the process alive). */
export class HeapSettler {
  readonly #options: HeapSettlerOptions;
  readonly #policy: SettlePolicy;
  #state: SettleState;
  #timer: Timer | undefined = undefined;
  #settles = 0;

  constructor(options: HeapSettlerOptions) {
    this.#options = options;
    this.#policy = options.policy ?? DEFAULT_SETTLE_POLICY;
    this.#state = {
      seenActivity: options.activity(),
      activeAt: options.clock.monotonicNow(),
      settledAt: undefined,
    };
  }

  /** Collections run so far (zeroscale_queue_heap_settles_total). */
  get settles(): number {
    return this.#settles;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = this.#options.clock.setInterval(() => this.#check(), this.#policy.checkMs).unref();
  }

  stop(): void {
    this.#options.clock.clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #check(): void {
    const o = this.#options;
    const { state, collect } = settleCheck(
      this.#state,
      o.clock.monotonicNow(),
      o.activity(),
      o.inFlight(),
      this.#policy,
    );
    this.#state = state;
    if (!collect) return;
    this.#settles++;
    o.collect();
  }
}

type Gc = (options?: { type?: string; execution?: string; flavor?: string }) => void;

/**
 * V8's memory-reducing collection: several full collections that compact, shrink the new space and
 * release pooled pages. Node offers it only as the `gc` of `--expose-gc`, and that flag on the
 * command line costs every start ~15-20 ms (measured with bench/sidecar.ts's start loop), so the
 * function is made on the first call instead, long after the start: the flag is set at run time
 * and a fresh context gets `gc` on its global object.
 */
export function memoryReducingCollection(): () => void {
  let gc: Gc | undefined;
  return () => {
    if (gc === undefined) {
      // Loaded here, not at the top: nothing of this is on the start path.
      process.getBuiltinModule('node:v8').setFlagsFromString('--expose-gc');
      gc = process.getBuiltinModule('node:vm').runInNewContext('gc') as Gc;
    }
    gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  };
}
