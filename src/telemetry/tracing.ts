// Trace export for the proxies: the OpenTelemetry Node SDK configured by the standard OTEL_*
// variables (exporter, endpoint, protocol, sampler, batch sizes, resource), off unless the
// environment asks for an exporter. The SDK and the API are loaded only then, so a proxy without
// tracing pays neither their start-up time nor anything per request.

import { buildVersion } from './build-info.ts';
import type { Log } from './json-log.ts';
import type { RequestSpans, TracedComponent } from './request-spans.ts';

export interface Tracing {
  /** What the proxies make their spans with. */
  readonly spans: RequestSpans;
  /** Exports what is buffered and stops; waits `timeoutMs` at most, so that a shutdown is never held up. */
  shutdown(timeoutMs?: number): Promise<void>;
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Whether the environment asks for traces: OTEL_TRACES_EXPORTER names an exporter (not `none`),
 * or an OTLP endpoint is set (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
 * never when OTEL_SDK_DISABLED is true.
 */
export function tracingRequested(env: Env): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '' && s !== 'null');
  // As the SDK reads it: a list that starts with `none` sets nothing up.
  if (exporters.length > 0) return exporters[0] !== 'none';
  return nonEmpty(env.OTEL_EXPORTER_OTLP_ENDPOINT) || nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

export interface StartTracingOptions {
  readonly component: TracedComponent;
  /** Decides whether to start; the SDK itself reads the OTEL_* variables from process.env. */
  readonly env: Env;
  readonly log: Log;
}

/**
 * Starts the SDK when `tracingRequested(env)`, else resolves undefined. Only traces are set up: no
 * OpenTelemetry metrics or logs (Prometheus and pino do those), no instrumentations, no global
 * propagator (the proxies read and write traceparent themselves). The resource's service.name is
 * `zeroscale-<component>` unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES say otherwise.
 */
export async function startTracing(options: StartTracingOptions): Promise<Tracing | undefined> {
  const { component, env, log } = options;
  if (!tracingRequested(env)) return undefined;
  const [{ NodeSDK }, api, { RequestSpans }] = await Promise.all([
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/api'),
    import('./request-spans.ts'),
  ]);
  const named =
    nonEmpty(env.OTEL_SERVICE_NAME) || /(^|,)\s*service\.name\s*=/.test(env.OTEL_RESOURCE_ATTRIBUTES ?? '');
  const sdk = new NodeSDK({
    ...(named ? {} : { serviceName: `zeroscale-${component}` }),
    instrumentations: [],
    metricReaders: [],
    logRecordProcessors: [],
    textMapPropagator: null,
  });
  // Export failures and SDK warnings go to our log, unless OTEL_LOG_LEVEL asked for the SDK's own.
  if (env.OTEL_LOG_LEVEL === undefined) {
    const diagLog = log.child({ otel: true });
    const warn = (message: string, ...args: unknown[]): void => {
      diagLog.warn({ args: args.map(String) }, message);
    };
    const ignore = (): void => {};
    api.diag.setLogger(
      { error: warn, warn, info: ignore, debug: ignore, verbose: ignore },
      api.DiagLogLevel.WARN,
    );
  }
  sdk.start();
  const tracer = api.trace.getTracer('zeroscale', buildVersion);
  log.info(
    {
      exporter: env.OTEL_TRACES_EXPORTER || 'otlp',
      endpoint: env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT,
      protocol: env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || env.OTEL_EXPORTER_OTLP_PROTOCOL || 'http/protobuf',
      sampler: env.OTEL_TRACES_SAMPLER || 'parentbased_always_on',
      samplerArg: env.OTEL_TRACES_SAMPLER_ARG,
    },
    'started exporting traces',
  );
  let stopped: Promise<void> | undefined;
  return {
    spans: new RequestSpans(tracer, component),
    shutdown(timeoutMs = 2_000) {
      stopped ??= (async () => {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        });
        await Promise.race([sdk.shutdown().catch(() => {}), timeout]);
        clearTimeout(timer);
        // Unregister the SDK's globals, so that a test (or a restart) can set them up again.
        api.trace.disable();
        api.context.disable();
        api.diag.disable();
      })();
      return stopped;
    },
  };
}

function nonEmpty(value: string | undefined): boolean {
  return value !== undefined && value.trim() !== '';
}
