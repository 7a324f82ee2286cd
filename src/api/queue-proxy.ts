// The contract between the controller, which injects the queue-proxy sidecar into every pod, and
// the queue-proxy itself: container name, ports, paths and the environment it is started with.

export const QUEUE_PROXY_CONTAINER_NAME = 'queue-proxy';

/** Port that receives all traffic for the pod and forwards it to the user container. */
export const QUEUE_PROXY_HTTP_PORT = 8012;
export const QUEUE_PROXY_HTTP_PORT_NAME = 'http';
/** Port for Prometheus metrics, autoscaler stats and admin endpoints such as wait-for-drain. */
export const QUEUE_PROXY_METRICS_PORT = 9091;
export const QUEUE_PROXY_METRICS_PORT_NAME = 'metrics';

/**
 * Ports the user's container may not listen on because pod containers share one network
 * namespace: ours, plus the ones Knative reserves (8013 h2c, 8022 admin, 9090 stats) so that we
 * can grow into them without breaking services.
 */
export const RESERVED_CONTAINER_PORTS: readonly number[] = [8012, 8013, 8022, 9090, 9091];

/** Kubelet readiness probe path on the HTTP port: 200 only when the user container is ready. */
export const QUEUE_PROXY_READINESS_PATH = '/healthz/ready';
/**
 * Query parameter of the activator's probe: the queue-proxy may hold a not-ready answer this many
 * ms and answer the moment the user container is ready. One held probe per pod per activator
 * replaces a probe every few tens of ms during a cold start. A queue-proxy that does not know it
 * answers at once, so the activator keeps probing as before.
 */
export const PROBE_WAIT_PARAM = 'wait-ms';
/** Longest hold the queue-proxy grants, whatever the probe asks. */
export const MAX_PROBE_WAIT_MS = 5_000;

/** Called by the user container's preStop hook: returns once the queue-proxy has drained. */
export const QUEUE_PROXY_DRAIN_PATH = '/wait-for-drain';

/** The CLI inside the image: the Dockerfile's ENTRYPOINT runs it. */
export const IMAGE_CLI = '/app/dist/cli.cjs';

/**
 * V8 flags of the sidecar, chosen by bench/results/sidecar.md: a young generation of 1 MB per
 * semi-space (a request's garbage dies young; the default grows to 16 MB under load), and
 * optimising compilation on the main thread. Not `--expose-gc`: it costs every start ~15-20 ms;
 * the collection when the pod goes quiet gets `gc` at run time (queue/settle-heap.ts).
 *
 * The trade this makes, measured 2026-12-08 (two proxies alive at once, load rounds alternated,
 * starts interleaved): compiling on one V8 worker instead (`--v8-pool-size=1`) costs ~15-20 %
 * less CPU per request under load, but its compile memory stays with the process (anonymous RSS
 * after load ~31 MB against ~17 MB). Holding that down cost every start: glibc's
 * `mmap_threshold=4096` ~12 ms, `--no-maglev-destroy-on-background` ~20 ms (a flag that changes
 * code generation also keys Node's compile cache and, it seems, its startup snapshot). The
 * sidecar is on every cold start's path and in every pod, so start and memory win.
 */
export const QUEUE_PROXY_NODE_FLAGS: readonly string[] = [
  '--max-semi-space-size=1',
  '--no-concurrent-recompilation',
];

/** The sidecar's command (V8 flags go to node itself, before the script) and its arguments. */
export const QUEUE_PROXY_COMMAND: readonly string[] = ['node', ...QUEUE_PROXY_NODE_FLAGS, IMAGE_CLI];
export const QUEUE_PROXY_ARGS: readonly string[] = ['queue-proxy'];

/** Environment variables the controller sets on the queue-proxy container. */
/**
 * The install's internal token, the same on activators and queue-proxies: the queue-proxy trusts
 * the activator's mark on a request only when it carries this value. Optional: without it,
 * nothing is trusted.
 */
export const QUEUE_PROXY_INTERNAL_TOKEN_ENV = 'ZEROSCALE_INTERNAL_TOKEN';

export const QUEUE_PROXY_ENV = {
  /** Name of the ServerlessService. */
  serviceName: 'SERVING_SERVICE',
  /** Name of the revision the pod runs (Knative: SERVING_REVISION). */
  revisionName: 'SERVING_REVISION',
  serviceNamespace: 'SERVING_NAMESPACE',
  /** Pod name and IP, from the downward API. */
  podName: 'SERVING_POD',
  podIp: 'SERVING_POD_IP',
  /** Port of the user container on 127.0.0.1. */
  userPort: 'USER_PORT',
  /** Requests in flight allowed per pod; "0" = no limit. */
  containerConcurrency: 'CONTAINER_CONCURRENCY',
  /** Deadline for a whole request, in seconds. */
  timeoutSeconds: 'REQUEST_TIMEOUT_SECONDS',
  httpPort: 'QUEUE_SERVING_PORT',
  metricsPort: 'QUEUE_METRICS_PORT',
  /**
   * JSON of the user container's readiness probe (a Kubernetes Probe), normalised: its port is
   * the user port, exec probes become TCP probes, and absent probes a TCP probe of the user port.
   * Kubelet no longer runs it: the queue-proxy does, aggressively when periodSeconds is 0.
   */
  readinessProbe: 'SERVING_READINESS_PROBE',
  /**
   * How the user container speaks HTTP: `h2c` (HTTP/2 cleartext, its port named h2c) or `http1`
   * (absent means http1). The queue-proxy's own port takes both from clients either way.
   */
  userProtocol: 'USER_PROTOCOL',
} as const;
