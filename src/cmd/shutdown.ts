// How every component stops, one path for all four: the first SIGTERM stops it gracefully (the
// proxies drain: readiness fails, in-flight and arriving work finishes; the control plane stops
// its loops and releases its leader lease) and exits 0; SIGINT or a second SIGTERM stops it at
// once and exits (130 for SIGINT).

import type { Log } from '../telemetry/json-log.ts';

export interface Stoppable {
  /** The graceful stop of the first SIGTERM. */
  drain(): Promise<void>;
  /** The stop at once of SIGINT or a second signal. */
  close(): Promise<void>;
}

/** The part of `process` this uses, so tests can send signals without stopping the test runner. */
export interface SignalTarget {
  on(signal: 'SIGTERM' | 'SIGINT', listener: (signal: NodeJS.Signals) => void): unknown;
  exit(code: number): void;
}

export interface ShutdownOptions {
  readonly log: Log;
  /** After the stop, before exiting: flush what must not be lost (traces). */
  readonly beforeExit?: () => Promise<void>;
  readonly process?: SignalTarget;
}

export function stopOnSignals(target: Stoppable, o: ShutdownOptions): void {
  const proc = o.process ?? process;
  const exit = (code: number) => async (): Promise<void> => {
    await o.beforeExit?.();
    proc.exit(code);
  };
  const failed = (err: unknown): void => {
    o.log.error({ err: String(err) }, 'stopping failed');
    proc.exit(1);
  };
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signal === 'SIGTERM' && signals === 1) {
      void target.drain().then(exit(0), failed);
      return;
    }
    o.log.info({ signal }, 'stopping at once');
    void target.close().then(exit(signal === 'SIGTERM' ? 0 : 130), failed);
  };
  proc.on('SIGTERM', onSignal);
  proc.on('SIGINT', onSignal);
}

/** A stop for components with nothing to drain: both signals run `stop`, once. */
export function stopOnce(stop: () => Promise<void>): Stoppable {
  let stopping: Promise<void> | undefined;
  const run = (): Promise<void> => {
    stopping ??= stop();
    return stopping;
  };
  return { drain: run, close: run };
}
