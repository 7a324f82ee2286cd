// `zeroscale queue-proxy`: options from the environment the controller sets, then serve until
// SIGTERM (drain, then exit) or SIGINT / a second SIGTERM (stop at once).

import { createLogger } from '../telemetry/log.ts';
import { startTracing } from '../telemetry/tracing.ts';
import { parseQueueProxyEnv } from './options.ts';
import { startQueueProxy } from './queue-proxy.ts';

export async function runQueueProxy(_argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  const options = parseQueueProxyEnv(env);
  const log = createLogger('queue-proxy', env.ZEROSCALE_LOG_LEVEL ?? 'info');
  // Off unless OTEL_TRACES_EXPORTER or an OTLP endpoint is set; the SDK is loaded only then, so a
  // pod without tracing starts as fast as before (see telemetry/tracing.ts).
  const tracing = await startTracing({ component: 'queue-proxy', env, log });
  const proxy = await startQueueProxy(options, { logger: log, spans: tracing?.spans });
  const exit = (code: number) => async (): Promise<void> => {
    await tracing?.shutdown();
    process.exit(code);
  };
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signal === 'SIGTERM' && signals === 1) {
      void proxy.drain().then(exit(0));
      return;
    }
    log.info({ signal }, 'stopping at once');
    void proxy.close().then(exit(signal === 'SIGTERM' ? 0 : 130));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
