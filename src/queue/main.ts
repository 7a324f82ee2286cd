// `zeroscale queue-proxy`: options from the environment the controller sets, then serve until
// SIGTERM (drain, then exit) or SIGINT / a second SIGTERM (stop at once).

import { createLogger } from '../telemetry/log.ts';
import { parseQueueProxyEnv } from './options.ts';
import { startQueueProxy } from './queue-proxy.ts';

export async function runQueueProxy(_argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  const options = parseQueueProxyEnv(env);
  const log = createLogger('queue-proxy', env.ZEROSCALE_LOG_LEVEL ?? 'info');
  const proxy = await startQueueProxy(options, { logger: log });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signal === 'SIGTERM' && signals === 1) {
      void proxy.drain().then(() => process.exit(0));
      return;
    }
    log.info({ signal }, 'stopping at once');
    void proxy.close().then(() => process.exit(signal === 'SIGTERM' ? 0 : 130));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
