// `zeroscale queue-proxy`: options from the environment the controller sets, then serve until
// SIGTERM (drain, then exit) or SIGINT / a second SIGTERM (stop at once).

import { readOptions } from '../cmd/options.ts';
import { logLevelOption } from '../cmd/shared-options.ts';
import { stopOnSignals } from '../cmd/shutdown.ts';
import { createJsonLog } from '../telemetry/json-log.ts';
import { startTracing } from '../telemetry/tracing.ts';
import { parseQueueProxyEnv } from './options.ts';
import { startQueueProxy } from './queue-proxy.ts';
import { memoryReducingCollection } from './settle-heap.ts';

export async function runQueueProxy(_argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  const options = parseQueueProxyEnv(env);
  const { logLevel } = readOptions({ logLevel: logLevelOption }, env);
  // JSON lines in pino's format without loading pino (see telemetry/json-log.ts).
  const log = createJsonLog('queue-proxy', logLevel);
  // Off unless OTEL_TRACES_EXPORTER or an OTLP endpoint is set; the SDK is loaded only then, so a
  // pod without tracing starts as fast as before (see telemetry/tracing.ts).
  const tracing = await startTracing({ component: 'queue-proxy', env, log });
  const proxy = await startQueueProxy(options, {
    logger: log,
    spans: tracing?.spans,
    // An idle pod gives its memory back (see settle-heap.ts).
    collectGarbage: memoryReducingCollection(),
  });
  stopOnSignals(proxy, { log, beforeExit: async () => await tracing?.shutdown() });
}
