// The user container's readiness probe as the queue-proxy runs it, parsed from the Kubernetes
// Probe JSON the controller puts in SERVING_READINESS_PROBE (see src/api/queue-proxy.ts).

import { ZeroscaleError } from '../errors.ts';

export type ProbeAction =
  | { readonly kind: 'tcp'; readonly port: number }
  | {
      readonly kind: 'http';
      readonly port: number;
      readonly path: string;
      readonly scheme: 'http' | 'https';
      /** Flat [name, value, …]. */
      readonly headers: readonly string[];
      /** The app speaks HTTP/2 cleartext only (its port is named h2c): the GET goes over h2c. */
      readonly h2c: boolean;
    }
  /** Kubernetes' gRPC probe: grpc.health.v1.Health/Check over h2c; SERVING is ready. */
  | { readonly kind: 'grpc'; readonly port: number; readonly service: string };

export interface ReadinessProbeSpec {
  readonly action: ProbeAction;
  /** Between attempts once the container has answered; see `parseReadinessProbe`. */
  readonly periodMs: number;
  /** Longest an attempt may take. */
  readonly timeoutMs: number;
  /** Consecutive passes that make the container ready. */
  readonly successThreshold: number;
  /** Consecutive failures, once ready, that make it not ready. */
  readonly failureThreshold: number;
}

// Kubernetes' defaults, except the period: Knative's default period is 0 ("aggressive"), and
// after the first success we probe every second, well inside what kubelet would notice.
const DEFAULT_PERIOD_MS = 1_000;
const DEFAULT_TIMEOUT_MS = 1_000;
const DEFAULT_FAILURE_THRESHOLD = 3;
const DEFAULT_SUCCESS_THRESHOLD = 1;

/**
 * Parses the probe JSON. A port that is a name (or absent) means the user port; exec probes (which
 * the controller should already have rewritten) become TCP probes of that port. `h2c`: the app
 * speaks HTTP/2 only, so an HTTP probe goes over h2c. Throws INVALID_READINESS_PROBE with the reason.
 */
export function parseReadinessProbe(
  json: string | undefined,
  userPort: number,
  h2c = false,
): ReadinessProbeSpec {
  if (json === undefined || json.trim() === '') return tcpSpec(userPort);
  let probe: unknown;
  try {
    probe = JSON.parse(json);
  } catch (err) {
    throw invalid(`not JSON: ${(err as Error).message}`);
  }
  if (!isObject(probe)) throw invalid('not a JSON object');
  const httpGet = probe.httpGet;
  let action: ProbeAction;
  if (httpGet !== undefined) {
    if (!isObject(httpGet)) throw invalid('httpGet is not an object');
    const scheme = String(httpGet.scheme ?? 'HTTP').toLowerCase();
    if (scheme !== 'http' && scheme !== 'https')
      throw invalid(`httpGet.scheme ${scheme} is not HTTP or HTTPS`);
    const path = httpGet.path === undefined ? '/' : String(httpGet.path);
    action = {
      kind: 'http',
      port: portOf(httpGet.port, userPort),
      path: path.startsWith('/') ? path : `/${path}`,
      scheme,
      headers: headersOf(httpGet.httpHeaders),
      h2c: h2c && scheme === 'http',
    };
  } else if (isObject(probe.grpc)) {
    const service = probe.grpc.service;
    if (service !== undefined && typeof service !== 'string') throw invalid('grpc.service is not a string');
    action = { kind: 'grpc', port: portOf(probe.grpc.port, userPort), service: service ?? '' };
  } else {
    const tcp = isObject(probe.tcpSocket) ? probe.tcpSocket : {};
    action = { kind: 'tcp', port: portOf(tcp.port, userPort) };
  }
  return {
    action,
    periodMs: seconds(probe.periodSeconds, 'periodSeconds', DEFAULT_PERIOD_MS),
    timeoutMs: seconds(probe.timeoutSeconds, 'timeoutSeconds', DEFAULT_TIMEOUT_MS),
    successThreshold: count(probe.successThreshold, 'successThreshold', DEFAULT_SUCCESS_THRESHOLD),
    failureThreshold: count(probe.failureThreshold, 'failureThreshold', DEFAULT_FAILURE_THRESHOLD),
  };
}

function tcpSpec(port: number): ReadinessProbeSpec {
  return {
    action: { kind: 'tcp', port },
    periodMs: DEFAULT_PERIOD_MS,
    timeoutMs: DEFAULT_TIMEOUT_MS,
    successThreshold: DEFAULT_SUCCESS_THRESHOLD,
    failureThreshold: DEFAULT_FAILURE_THRESHOLD,
  };
}

function portOf(port: unknown, userPort: number): number {
  if (typeof port === 'number') {
    if (Number.isInteger(port) && port > 0 && port < 65536) return port;
    throw invalid(`port ${port} is not a TCP port`);
  }
  // Named ports (and none) name the serving container's one port.
  return userPort;
}

function headersOf(value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalid('httpGet.httpHeaders is not a list');
  const out: string[] = [];
  for (const h of value) {
    if (!isObject(h) || typeof h.name !== 'string' || h.name === '') {
      throw invalid('httpGet.httpHeaders has an entry without a name');
    }
    out.push(h.name, String(h.value ?? ''));
  }
  return out;
}

/** 0 or absent: the default (0 is Knative's "aggressive", which we apply before first success). */
function seconds(value: unknown, field: string, fallbackMs: number): number {
  if (value === undefined || value === 0) return fallbackMs;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw invalid(`${field} must be a number of seconds >= 0, got ${JSON.stringify(value)}`);
  }
  return value * 1000;
}

function count(value: unknown, field: string, fallback: number): number {
  if (value === undefined || value === 0) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw invalid(`${field} must be an integer >= 1, got ${JSON.stringify(value)}`);
  }
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(reason: string): ZeroscaleError {
  return new ZeroscaleError('INVALID_READINESS_PROBE', `readiness probe: ${reason}`);
}
