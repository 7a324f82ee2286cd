// The queue-proxy's options and their parsing from the environment the controller sets (the
// contract in src/api/queue-proxy.ts, plus a few optional knobs). Pure: env in, options out.

import { SERVING_PROTOCOLS, type ServingProtocol } from '../api/protocol.ts';
import { QUEUE_PROXY_ENV, QUEUE_PROXY_HTTP_PORT, QUEUE_PROXY_METRICS_PORT } from '../api/queue-proxy.ts';
import { type Env, INVALID_ENV, integer, oneOf, port, readOptions, seconds, text } from '../cmd/options.ts';
import { ZeroscaleError } from '../errors.ts';
import type { ServerLimits } from '../http/server.ts';
import { parseReadinessProbe, type ReadinessProbeSpec } from './probe-spec.ts';

/**
 * Optional variables beyond the controller's contract; absent means the default. Candidates for
 * src/api/queue-proxy.ts once the controller sets them.
 */
export const QUEUE_PROXY_EXTRA_ENV = {
  /** Seconds without a new request, after SIGTERM, before the queue-proxy stops taking requests. */
  drainSeconds: 'QUEUE_DRAIN_SECONDS',
  /** Seconds from forwarding a request until the user container must start answering; 0 = off. */
  responseStartTimeoutSeconds: 'REQUEST_RESPONSE_START_TIMEOUT_SECONDS',
  /** Seconds without a byte either way before a request is cut; 0 = off. */
  idleTimeoutSeconds: 'REQUEST_IDLE_TIMEOUT_SECONDS',
  /** Requests that may wait when containerConcurrency is reached; default 10 × concurrency. */
  queueDepth: 'QUEUE_DEPTH',
  /** Address to listen on. */
  listenHost: 'QUEUE_LISTEN_HOST',
  /** Seconds without a byte of a request body being forwarded before it is cut with 408; 0 = off. */
  bodyTimeoutSeconds: 'REQUEST_BODY_TIMEOUT_SECONDS',
  /** The install's internal token: a request carrying it in x-zeroscale-proxied came from an activator. */
  internalToken: 'ZEROSCALE_INTERNAL_TOKEN',
} as const;

export interface QueueProxyOptions {
  readonly namespace: string;
  readonly service: string;
  /** The revision the pod runs; empty for a pod of no revision. */
  readonly revision: string;
  readonly pod: string;
  /** Where the user container listens: always this pod's loopback. */
  readonly userHost: string;
  readonly userPort: number;
  /** How the user container speaks HTTP: its requests go to it over HTTP/1.1 or h2c. */
  readonly userProtocol: ServingProtocol;
  /** Requests in flight to the user container at once; 0 = no limit (and no queue). */
  readonly containerConcurrency: number;
  /** Requests that may wait behind a full containerConcurrency; more get 503. */
  readonly queueDepth: number;
  /** Whole-request deadline (queueing included); 0 = none. */
  readonly timeoutMs: number;
  /** From forwarding a request until the container starts answering; 0 = none. */
  readonly responseStartTimeoutMs: number;
  /** No byte either way with the container for this long; 0 = none. */
  readonly idleTimeoutMs: number;
  /** No byte of a request body for this long while it is forwarded; 0 = none. */
  readonly bodyTimeoutMs: number;
  /** Proves a request came from an activator (see InternalToken); undefined = trust none. */
  readonly internalToken: string | undefined;
  /** Body bytes read per waiting request, and by all of them, so a client's leaving is seen. */
  readonly heldBodyBytesPerRequest: number;
  readonly heldBodyBytesLimit: number;
  readonly listenHost: string;
  /** 0 picks a free port (tests). */
  readonly httpPort: number;
  readonly metricsPort: number;
  readonly readinessProbe: ReadinessProbeSpec;
  /** Interval between probes until the container first answers, and after it stops answering. */
  readonly aggressiveProbeIntervalMs: number;
  /** Quiet period of the drain: it ends when no request arrived for this long. */
  readonly drainMs: number;
  /** Length of a stats interval served at /stats. */
  readonly statsIntervalMs: number;
  readonly limits: ServerLimits;
}

// Knative lets 10 requests per slot wait "to allow the autoscaler time to react".
const QUEUE_DEPTH_PER_SLOT = 10;
const DEFAULT_TIMEOUT_SECONDS = 300;
const DEFAULT_DRAIN_SECONDS = 5;
// How long the app may take to start answering, and may stay silent mid-response: by default the
// service's own timeoutSeconds, as Knative does — the user's deadline is the contract, and a
// shorter built-in cut would fail a slow handler the user allowed for. A client that sends no
// body byte for a minute is stalled (nginx's client_body_timeout).
export const DEFAULT_BODY_TIMEOUT_SECONDS = 60;
// A waiting request reads up to 1 MiB of its body (so its client leaving is seen); all of them
// up to 16 MiB.
export const DEFAULT_HELD_BODY_BYTES_PER_REQUEST = 1024 * 1024;
export const DEFAULT_HELD_BODY_BYTES_LIMIT = 16 * 1024 * 1024;

export const queueProxyDefaults = {
  userHost: '127.0.0.1',
  listenHost: '0.0.0.0',
  aggressiveProbeIntervalMs: 25,
  statsIntervalMs: 1_000,
} as const;

const E = QUEUE_PROXY_ENV;
const X = QUEUE_PROXY_EXTRA_ENV;

/** Where each option comes from, in the code's units (ms); parseQueueProxyEnv reads them. */
const queueProxyEnvOptions = {
  namespace: text({ env: E.serviceNamespace, required: true }),
  service: text({ env: E.serviceName, required: true }),
  revision: text({ env: E.revisionName, default: '' }),
  pod: text({ env: E.podName }),
  userPort: port(1)({ env: E.userPort, required: true }),
  userProtocol: oneOf(SERVING_PROTOCOLS)({ env: E.userProtocol, default: 'http1' }),
  containerConcurrency: integer(0)({ env: E.containerConcurrency, default: 0 }),
  queueDepth: integer(0)({ env: X.queueDepth }),
  timeoutMs: seconds({ env: E.timeoutSeconds, default: DEFAULT_TIMEOUT_SECONDS * 1000 }),
  responseStartTimeoutMs: seconds({ env: X.responseStartTimeoutSeconds }),
  idleTimeoutMs: seconds({ env: X.idleTimeoutSeconds }),
  bodyTimeoutMs: seconds({ env: X.bodyTimeoutSeconds, default: DEFAULT_BODY_TIMEOUT_SECONDS * 1000 }),
  internalToken: text({ env: X.internalToken }),
  listenHost: text({ env: X.listenHost, default: queueProxyDefaults.listenHost }),
  httpPort: port(0)({ env: E.httpPort, default: QUEUE_PROXY_HTTP_PORT }),
  metricsPort: port(0)({ env: E.metricsPort, default: QUEUE_PROXY_METRICS_PORT }),
  readinessProbe: text({ env: E.readinessProbe }),
  drainMs: seconds({ env: X.drainSeconds, default: DEFAULT_DRAIN_SECONDS * 1000 }),
} as const;

/** Reads the options from `env`; throws INVALID_ENV naming the variable and what is wrong. */
export function parseQueueProxyEnv(env: Env): QueueProxyOptions {
  const o = readOptions(queueProxyEnvOptions, env);
  let readinessProbe: ReadinessProbeSpec;
  try {
    readinessProbe = parseReadinessProbe(o.readinessProbe, o.userPort, o.userProtocol === 'h2c');
  } catch (err) {
    throw new ZeroscaleError(INVALID_ENV, `${E.readinessProbe}: ${(err as Error).message}`, { cause: err });
  }
  return {
    ...o,
    pod: o.pod ?? o.service,
    userHost: queueProxyDefaults.userHost,
    queueDepth: o.queueDepth ?? QUEUE_DEPTH_PER_SLOT * o.containerConcurrency,
    // The service's own deadline unless set shorter (see DEFAULT_BODY_TIMEOUT_SECONDS).
    responseStartTimeoutMs: o.responseStartTimeoutMs ?? o.timeoutMs,
    idleTimeoutMs: o.idleTimeoutMs ?? o.timeoutMs,
    heldBodyBytesPerRequest: DEFAULT_HELD_BODY_BYTES_PER_REQUEST,
    heldBodyBytesLimit: DEFAULT_HELD_BODY_BYTES_LIMIT,
    readinessProbe,
    aggressiveProbeIntervalMs: queueProxyDefaults.aggressiveProbeIntervalMs,
    statsIntervalMs: queueProxyDefaults.statsIntervalMs,
    limits: {},
  };
}
