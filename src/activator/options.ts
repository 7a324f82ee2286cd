// The activator's options and their parsing from the environment. Pure: env in, options out.

import os from 'node:os';
import { ZeroscaleError } from '../errors.ts';
import type { ServerLimits } from '../http/server.ts';

export interface ActivatorOptions {
  /** This replica's name in reports and pokes (the pod name in a cluster). */
  readonly name: string;
  readonly host: string;
  /** Client traffic; 0 picks a free port (tests). */
  readonly port: number;
  /** /metrics, /healthz, /readyz. */
  readonly metricsPort: number;
  readonly clusterDomain: string;
  /** Requests one service may have waiting for capacity; more get 503. */
  readonly queueDepth: number;
  /** Requests waiting across all services; bounds the memory queued requests can take. */
  readonly maxQueued: number;
  /** Largest request body forwarded; beyond it 413. Infinity = no limit. */
  readonly maxBodyBytes: number;
  /** Between probes of a pod that is not (yet) ready. */
  readonly probeIntervalMs: number;
  readonly probeTimeoutMs: number;
  /** Tries per request when connecting to a pod fails before anything was sent. */
  readonly maxAttempts: number;
  readonly reportIntervalMs: number;
  /** From forwarding a request until the pod starts answering; 0 = none. */
  readonly responseStartTimeoutMs: number;
  /** No byte either way with the pod for this long; 0 = none. */
  readonly idleTimeoutMs: number;
  /** No byte of a request body for this long while it is forwarded: 408; 0 = none. */
  readonly bodyTimeoutMs: number;
  /** Sent to queue-proxies to prove a request came from an activator (see InternalToken). */
  readonly internalToken: string | undefined;
  /** Body bytes read per held request, and by all of them, so that a client's leaving is seen. */
  readonly heldBodyBytesPerRequest: number;
  readonly heldBodyBytesLimit: number;
  /** Quiet period after SIGTERM: serving goes on until no request arrived for this long. */
  readonly drainMs: number;
  /** After the drain, how long held and in-flight requests may take before they are cut. */
  readonly shutdownGraceMs: number;
  readonly retryAfterSeconds: number;
  /** Idle connections kept per pod. */
  readonly maxFreeSocketsPerPod: number;
  /**
   * Connections open at once per pod; more requests wait for one. With containerConcurrency the
   * balancer keeps a pod far below this; without, it stops a burst of 10,000 released requests
   * from opening 10,000 connections at once.
   */
  readonly maxSocketsPerPod: number;
  readonly limits: ServerLimits;
}

export const ACTIVATOR_ENV = {
  name: 'ACTIVATOR_NAME',
  /** Downward-API pod name; used when ACTIVATOR_NAME is not set. */
  podName: 'POD_NAME',
  host: 'ACTIVATOR_LISTEN_HOST',
  port: 'ACTIVATOR_PORT',
  metricsPort: 'ACTIVATOR_METRICS_PORT',
  clusterDomain: 'CLUSTER_DOMAIN',
  queueDepth: 'ACTIVATOR_QUEUE_DEPTH',
  maxQueued: 'ACTIVATOR_MAX_QUEUED',
  maxBodyBytes: 'ACTIVATOR_MAX_BODY_BYTES',
  maxHeaderBytes: 'ACTIVATOR_MAX_HEADER_BYTES',
  headersTimeoutMs: 'ACTIVATOR_HEADERS_TIMEOUT_MS',
  drainSeconds: 'ACTIVATOR_DRAIN_SECONDS',
  shutdownGraceSeconds: 'ACTIVATOR_SHUTDOWN_GRACE_SECONDS',
  responseStartTimeoutSeconds: 'ACTIVATOR_RESPONSE_START_TIMEOUT_SECONDS',
  idleTimeoutSeconds: 'ACTIVATOR_IDLE_TIMEOUT_SECONDS',
  bodyTimeoutSeconds: 'ACTIVATOR_BODY_TIMEOUT_SECONDS',
  internalToken: 'ZEROSCALE_INTERNAL_TOKEN',
} as const;

export const activatorDefaults = {
  host: '0.0.0.0',
  port: 8080,
  metricsPort: 9090,
  clusterDomain: 'cluster.local',
  // Knative's revision breaker holds up to 10,000; measured at well under 100 MB (bench/proxy.ts).
  queueDepth: 10_000,
  maxQueued: 10_000,
  maxBodyBytes: 100 * 1024 * 1024,
  probeIntervalMs: 25,
  probeTimeoutMs: 300,
  maxAttempts: 3,
  reportIntervalMs: 1_000,
  // Off by default (0): each service's timeoutSeconds bounds the whole request, and the
  // queue-proxy behind cuts a stalled app at that service's own deadline. A global minute would
  // fail slow handlers that the service's timeout allows. A dripping client is cut after a minute
  // (nginx's client_body_timeout).
  responseStartTimeoutMs: 0,
  idleTimeoutMs: 0,
  bodyTimeoutMs: 60_000,
  // Up to 1 MiB of each held request's body is read (so its client leaving is seen), 64 MiB in
  // all: 10,000 held requests without bodies cost nothing here.
  heldBodyBytesPerRequest: 1024 * 1024,
  heldBodyBytesLimit: 64 * 1024 * 1024,
  drainMs: 5_000,
  shutdownGraceMs: 30_000,
  retryAfterSeconds: 1,
  // Idle connections expire after 30 s, so this bounds a pod's pool at its recent peak load; a
  // lower cap closes and reopens connections under load (Knative's 100 per pod cost +5 ms p99
  // at 10k req/s with 110 clients here).
  maxFreeSocketsPerPod: 1000,
  maxSocketsPerPod: 1_000,
} as const;

/** Options with defaults for what is not given (tests pass the few they care about). */
export function activatorOptions(partial: Partial<ActivatorOptions> = {}): ActivatorOptions {
  return { name: os.hostname(), limits: {}, internalToken: undefined, ...activatorDefaults, ...partial };
}

type Env = Readonly<Record<string, string | undefined>>;

/** Reads the options from `env`; throws INVALID_ENV naming the variable and what is wrong. */
export function parseActivatorEnv(env: Env, hostname: string = os.hostname()): ActivatorOptions {
  const E = ACTIVATOR_ENV;
  const d = activatorDefaults;
  const maxBody = integer(env, E.maxBodyBytes, d.maxBodyBytes, 0);
  const limits: { maxHeaderBytes?: number; headersTimeoutMs?: number } = {};
  if (env[E.maxHeaderBytes]) limits.maxHeaderBytes = integer(env, E.maxHeaderBytes, 0, 1024);
  if (env[E.headersTimeoutMs]) limits.headersTimeoutMs = integer(env, E.headersTimeoutMs, 0, 1);
  return activatorOptions({
    name: env[E.name] || env[E.podName] || hostname,
    host: env[E.host] || d.host,
    port: integer(env, E.port, d.port, 0, 65535),
    metricsPort: integer(env, E.metricsPort, d.metricsPort, 0, 65535),
    clusterDomain: env[E.clusterDomain] || d.clusterDomain,
    queueDepth: integer(env, E.queueDepth, d.queueDepth, 0),
    maxQueued: integer(env, E.maxQueued, d.maxQueued, 0),
    // 0 = no limit.
    maxBodyBytes: maxBody === 0 ? Number.POSITIVE_INFINITY : maxBody,
    drainMs: seconds(env, E.drainSeconds, d.drainMs / 1000) * 1000,
    shutdownGraceMs: seconds(env, E.shutdownGraceSeconds, d.shutdownGraceMs / 1000) * 1000,
    responseStartTimeoutMs:
      seconds(env, E.responseStartTimeoutSeconds, d.responseStartTimeoutMs / 1000) * 1000,
    idleTimeoutMs: seconds(env, E.idleTimeoutSeconds, d.idleTimeoutMs / 1000) * 1000,
    bodyTimeoutMs: seconds(env, E.bodyTimeoutSeconds, d.bodyTimeoutMs / 1000) * 1000,
    internalToken: env[E.internalToken]?.trim() || undefined,
    limits,
  });
}

function integer(
  env: Env,
  name: string,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw.trim());
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ZeroscaleError(
      'INVALID_ENV',
      `${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}

function seconds(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw.trim());
  if (!Number.isFinite(value) || value < 0) {
    throw new ZeroscaleError(
      'INVALID_ENV',
      `${name} must be a number of seconds >= 0, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}
