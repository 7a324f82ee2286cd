// How the data-plane processes stop: the first SIGTERM drains (readiness fails, in-flight and
// arriving work finishes) and then exits 0; SIGINT or a second SIGTERM stops at once.

import type { Logger } from './telemetry/log.ts';

export interface Drainable {
  drain(): Promise<void>;
  close(): Promise<void>;
}

export function stopOnSignals(
  target: Drainable,
  log: Logger,
  beforeExit: () => Promise<void> = async () => {},
): void {
  const exit = (code: number) => async (): Promise<void> => {
    await beforeExit();
    process.exit(code);
  };
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signal === 'SIGTERM' && signals === 1) {
      void target.drain().then(exit(0));
      return;
    }
    log.info({ signal }, 'stopping at once');
    void target.close().then(exit(signal === 'SIGTERM' ? 0 : 130));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
