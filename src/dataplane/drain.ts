// The first step of both proxies' drain: after SIGTERM they keep serving (with Connection: close)
// until no request arrived for the quiet period. By then the endpoint removal has reached every
// client, and whatever still comes is refused by the closed port.

import { type Clock, sleep } from '../clock.ts';

export interface QuietWatch {
  readonly clock: Clock;
  /** When the last request arrived, in clock ms. */
  lastArrival(): number;
  readonly quietMs: number;
  /** True once stopped another way (a hard close): the wait ends at once. */
  stopped(): boolean;
}

/** Resolves once no request arrived for `quietMs`, or the proxy was stopped. */
export async function waitForQuiet(w: QuietWatch): Promise<void> {
  for (;;) {
    const quietFor = w.clock.now() - w.lastArrival();
    if (quietFor >= w.quietMs || w.stopped()) return;
    await sleep(w.clock, w.quietMs - quietFor);
  }
}
