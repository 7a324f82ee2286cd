// The activator's options and where they come from (the environment, and flags for its wiring).
// Pure: env in, options out.

import os from 'node:os';
import { bytes, type Env, integer, port, readOptions, seconds, text } from '../cmd/options.ts';
import { kubeOptions } from '../cmd/shared-options.ts';
import type { ServerLimits } from '../http/server.ts';
import { DEFAULT_FAIL_FAST_POLICY } from '../kube/pod-problems.ts';

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
  /** Over the wait, for the probe's connect and answer. */
  readonly probeTimeoutMs: number;
  /** How long a queue-proxy may hold a probe of a pod not ready yet and answer once it is. */
  readonly probeWaitMs: number;
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
  // Knative's revision breaker holds up to 10,000. Holding 10,000 cost +140 MB of RSS in
  // bench/proxy.ts (bench/results/proxy.md), most of it Node's own: a bare node:http server
  // holding as many took +127 MB.
  queueDepth: 10_000,
  maxQueued: 10_000,
  maxBodyBytes: 100 * 1024 * 1024,
  probeIntervalMs: 25,
  probeTimeoutMs: 300,
  // A probe every 25 ms per pod and activator cost a 2-core node more CPU than the 50 pods of a
  // cold storm starting (test/e2e/scale.test.ts); a held probe answers at the same moment.
  probeWaitMs: 2_000,
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

const E = ACTIVATOR_ENV;
const d = activatorDefaults;

/** Where each option comes from, in the code's units (ms, bytes); parseActivatorEnv reads them. */
const activatorEnvOptions = {
  name: text({ env: [E.name, E.podName] }),
  host: text({ env: E.host, default: d.host }),
  port: port(0)({ env: E.port, default: d.port }),
  metricsPort: port(0)({ env: E.metricsPort, default: d.metricsPort }),
  clusterDomain: text({ env: E.clusterDomain, default: d.clusterDomain }),
  queueDepth: integer(0)({ env: E.queueDepth, default: d.queueDepth }),
  maxQueued: integer(0)({ env: E.maxQueued, default: d.maxQueued }),
  maxBodyBytes: bytes({ env: E.maxBodyBytes, default: d.maxBodyBytes }),
  maxHeaderBytes: integer(1024)({ env: E.maxHeaderBytes }),
  headersTimeoutMs: integer(1)({ env: E.headersTimeoutMs }),
  drainMs: seconds({ env: E.drainSeconds, default: d.drainMs }),
  shutdownGraceMs: seconds({ env: E.shutdownGraceSeconds, default: d.shutdownGraceMs }),
  responseStartTimeoutMs: seconds({ env: E.responseStartTimeoutSeconds, default: d.responseStartTimeoutMs }),
  idleTimeoutMs: seconds({ env: E.idleTimeoutSeconds, default: d.idleTimeoutMs }),
  bodyTimeoutMs: seconds({ env: E.bodyTimeoutSeconds, default: d.bodyTimeoutMs }),
  internalToken: text({ env: E.internalToken }),
} as const;

/** Reads the options from `env`; throws INVALID_ENV naming the variable and what is wrong. */
export function parseActivatorEnv(env: Env, hostname: string = os.hostname()): ActivatorOptions {
  const { name, maxBodyBytes, maxHeaderBytes, headersTimeoutMs, ...rest } = readOptions(
    activatorEnvOptions,
    env,
  );
  return activatorOptions({
    ...rest,
    name: name ?? hostname,
    // 0 = no limit.
    maxBodyBytes: maxBodyBytes === 0 ? Number.POSITIVE_INFINITY : maxBodyBytes,
    limits: {
      ...(maxHeaderBytes === undefined ? {} : { maxHeaderBytes }),
      ...(headersTimeoutMs === undefined ? {} : { headersTimeoutMs }),
    },
  });
}

/** How the activator finds its services, pods and autoscaler (flags, with the environment as default). */
export const activatorWiringOptions = {
  ...kubeOptions,
  /** Services and pods from a JSON file instead of Kubernetes (see static-config.ts). */
  staticConfig: text({ flag: 'static-config', env: 'ACTIVATOR_STATIC_CONFIG' }),
  /** http://host:port of the autoscaler's stats endpoint, instead of finding its leader. */
  autoscalerUrl: text({ flag: 'autoscaler-url', env: 'ZEROSCALE_AUTOSCALER_URL' }),
  autoscalerService: text({
    flag: 'autoscaler-service',
    env: 'ZEROSCALE_AUTOSCALER_SERVICE',
    default: 'zeroscale-autoscaler',
  }),
  /**
   * How long the scheduler must have refused every pod of a service before its requests are
   * answered 503 at once (a cluster autoscaler may be adding a node meanwhile).
   */
  unschedulableFailAfterMs: seconds({
    flag: 'unschedulable-fail-after',
    env: 'ACTIVATOR_UNSCHEDULABLE_FAIL_AFTER_SECONDS',
    default: DEFAULT_FAIL_FAST_POLICY.unschedulableAfterMs,
  }),
} as const;
