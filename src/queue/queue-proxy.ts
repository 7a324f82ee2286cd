// The queue-proxy sidecar: takes every request for its pod, keeps at most containerConcurrency
// in flight to the user container (a bounded queue behind), measures load for the autoscaler,
// answers readiness from its own probing of the container, and drains on SIGTERM. With tracing
// on, each request gets a span whose traceparent goes on to the app.

import type http from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Span } from '@opentelemetry/api';
import { QUEUE_PROXY_READINESS_PATH } from '../api/queue-proxy.ts';
import { type Clock, systemClock } from '../clock.ts';
import { Breaker, breakerError } from '../dataplane/breaker.ts';
import { waitForQuiet } from '../dataplane/drain.ts';
import { DeadlineList, HeldSignal, unwatchClient, watchClient } from '../dataplane/held.ts';
import { RequestStats } from '../dataplane/stats.ts';
import { isZeroscaleError, type ZeroscaleError } from '../errors.ts';
import {
  type ClientRequest,
  type ClientResponse,
  closeAfterResponse,
  writeResponseHead,
} from '../http/client-message.ts';
import { failureAnswer, type ProxyFailure, writeErrorAnswer } from '../http/failures.ts';
import { requestTimeoutMs } from '../http/grpc.ts';
import { Http2Forwarder } from '../http/h2-proxy.ts';
import { Http2Upstream } from '../http/h2-upstream.ts';
import {
  buildUpstreamRequestHeaders,
  firstValue,
  type HeaderPolicy,
  REQUEST_ID_HEADER,
} from '../http/headers.ts';
import { dropHeldBody, HeldBodyBudget, holdBody, registerHeldBodyMetrics } from '../http/held-body.ts';
import {
  type InternalMarks,
  InternalToken,
  PROBE_QUEUE,
  scanInternalHeaders,
} from '../http/internal-headers.ts';
import { Forwarder, hasUnreadBody } from '../http/proxy.ts';
import { newRequestId } from '../http/request-id.ts';
import { registerRequestMetrics, ServiceRequestMetrics } from '../http/request-metrics.ts';
import {
  type ClientErrorKind,
  closeServer,
  createServer,
  destroyConnections,
  listen,
  registerConnectionMetrics,
} from '../http/server.ts';
import { parseTraceparent } from '../http/traceparent.ts';
import { UpgradeForwarder, writeRawErrorAnswer } from '../http/upgrade.ts';
import { Upstream } from '../http/upstream.ts';
import { type MetricsRegistry, type MetricsSource, registerCollected } from '../telemetry/collected.ts';
import { type Log, LogThrottle, silentLog } from '../telemetry/json-log.ts';
import type { RequestSpans } from '../telemetry/request-spans.ts';
import { serviceLabels } from '../telemetry/service-labels.ts';
import { createTextRegistry } from '../telemetry/text-registry.ts';
import { AdminEndpoints } from './admin.ts';
import { HeldProbes, MAX_HELD_PROBES, probeWaitMs } from './held-probes.ts';
import type { QueueProxyOptions } from './options.ts';
import { ReadinessProber } from './readiness.ts';
import { DEFAULT_SETTLE_POLICY, HeapSettler } from './settle-heap.ts';

export interface QueueProxyDeps {
  readonly clock?: Clock;
  readonly logger?: Log;
  /**
   * Defaults to a TextRegistry with the build info and process metrics: the sidecar never loads
   * prom-client (see telemetry/text-registry.ts). Tests may pass prom-client's Registry.
   */
  readonly registry?: MetricsRegistry & MetricsSource;
  /** Tracing (see telemetry/tracing.ts); without it no span is made, nothing is spent on traces. */
  readonly spans?: RequestSpans | undefined;
  /**
   * A memory-reducing garbage collection, run when the pod goes quiet (see settle-heap.ts);
   * without it the heap is left to V8.
   */
  readonly collectGarbage?: (() => void) | undefined;
}

export interface QueueProxyHandle {
  /** Ports actually listened on (useful when the options asked for 0). */
  readonly httpPort: number;
  readonly metricsPort: number;
  /** The user container answers its probe and the queue-proxy is not draining. */
  readonly ready: boolean;
  readonly draining: boolean;
  /** Resolves once the user container first answers its readiness probe. */
  whenReady(): Promise<void>;
  /**
   * What SIGTERM does: readiness fails at once; requests keep being served, with
   * `Connection: close`, until none arrived for the drain period; then the port closes, in-flight
   * requests finish, /wait-for-drain callers are answered and everything stops.
   */
  drain(): Promise<void>;
  /** Stops at once, cutting whatever is in flight (tests, second signal). */
  close(): Promise<void>;
}

export type QueueRejection = ClientErrorKind | 'queue-full' | 'deadline' | 'shutting-down' | 'client-aborted';

/** Starts a queue-proxy and resolves once both ports listen. */
export async function startQueueProxy(
  options: QueueProxyOptions,
  deps: QueueProxyDeps = {},
): Promise<QueueProxyHandle> {
  const proxy = new QueueProxy(options, deps);
  await proxy.listen();
  return proxy;
}

// While it waits for a slot a request is its own abort signal and deadline-list node (see
// dataplane/held.ts): waiting costs no AbortController, timer or closure of its own.
class QueueRequest extends HeldSignal {
  readonly req: ClientRequest;
  readonly res: ClientResponse | undefined;
  /** For an upgrade: the raw client socket and the bytes after its head. */
  readonly socket: Duplex | undefined;
  readonly head: Buffer | undefined;
  readonly proxied: boolean;
  readonly startedAt: number;
  /** The whole-request deadline: timeoutSeconds, or a gRPC client's shorter grpc-timeout; 0 = none. */
  readonly timeoutMs: number;
  readonly headers: string[];
  holdsSlot = false;
  /** With tracing: the request's span, and its queue_wait child while it waits for a slot. */
  readonly span: Span | undefined;
  waitSpan: Span | undefined = undefined;

  constructor(
    req: ClientRequest,
    res: ClientResponse | undefined,
    socket: Duplex | undefined,
    head: Buffer | undefined,
    proxied: boolean,
    headers: string[],
    span: Span | undefined,
    timeoutMs: number,
  ) {
    super();
    this.timeoutMs = timeoutMs;
    this.req = req;
    this.res = res;
    this.socket = socket;
    this.head = head;
    this.proxied = proxied;
    this.startedAt = performance.now();
    this.headers = headers;
    this.span = span;
  }
}

class QueueProxy implements QueueProxyHandle {
  readonly #options: QueueProxyOptions;
  readonly #clock: Clock;
  readonly #log: Log;
  readonly #registry: MetricsRegistry & MetricsSource;
  /** The user container: over HTTP/1.1, or over h2c when its port is named so. */
  readonly #upstream: Upstream | undefined;
  readonly #h2upstream: Http2Upstream | undefined;
  readonly #h2forwarder: Http2Forwarder<QueueRequest> | undefined;
  readonly #breaker: Breaker | undefined;
  readonly #stats: RequestStats;
  readonly #metrics: ServiceRequestMetrics<QueueRejection>;
  readonly #prober: ReadinessProber;
  readonly #heldProbes = new HeldProbes();
  readonly #forwarder: Forwarder<QueueRequest>;
  readonly #upgrades: UpgradeForwarder<QueueRequest>;
  readonly #server: http.Server;
  readonly #admin: AdminEndpoints;
  readonly #spans: RequestSpans | undefined;
  /** Failed requests are logged at most once a second (a failing container under load). */
  readonly #failureLog = new LogThrottle(1_000);
  readonly #marks: InternalMarks = { probe: undefined, proxied: undefined };
  readonly #token: InternalToken;
  readonly #heldBodies: HeldBodyBudget;
  readonly #heapSettler: HeapSettler | undefined;
  /** Requests waiting for a slot, in deadline order (all share timeoutMs): one timer for all. */
  readonly #deadlines = new DeadlineList(() =>
    breakerError('DEADLINE_EXCEEDED', 'request timeout while waiting for a free slot'),
  );
  readonly #edgePolicy: HeaderPolicy = {
    trustForwarded: false,
    stripInternal: true,
    newRequestId,
  };
  // Requests from the activator carry X-Forwarded-* set by it: kept and appended to.
  readonly #activatorPolicy: HeaderPolicy = {
    trustForwarded: true,
    stripInternal: true,
    newRequestId,
  };
  #httpPort = 0;
  #active = 0;
  /** Requests that have arrived, ever: how the heap settler tells a quiet pod. */
  #arrivals = 0;
  #draining = false;
  #lastArrival = 0;
  #drained: Promise<void> | undefined = undefined;
  #closed = false;

  constructor(options: QueueProxyOptions, deps: QueueProxyDeps) {
    this.#options = options;
    this.#clock = deps.clock ?? systemClock;
    this.#log = (deps.logger ?? silentLog()).child({
      namespace: options.namespace,
      service: options.service,
      pod: options.pod,
    });
    this.#registry = deps.registry ?? createTextRegistry('queue-proxy');
    const cc = options.containerConcurrency;
    const forwarderOptions = {
      responseStartTimeoutMs: options.responseStartTimeoutMs,
      idleTimeoutMs: options.idleTimeoutMs,
      bodyTimeoutMs: options.bodyTimeoutMs,
    };
    if (options.userProtocol === 'h2c') {
      this.#upstream = undefined;
      this.#h2upstream = new Http2Upstream({ host: options.userHost, port: options.userPort });
      this.#h2forwarder = new Http2Forwarder<QueueRequest>(this, forwarderOptions);
    } else {
      this.#upstream = new Upstream({
        host: options.userHost,
        port: options.userPort,
        maxSockets: cc > 0 ? cc : Number.POSITIVE_INFINITY,
        maxFreeSockets: cc > 0 ? cc : 1000,
      });
      this.#h2upstream = undefined;
      this.#h2forwarder = undefined;
    }
    this.#breaker = cc > 0 ? new Breaker({ capacity: cc, queueDepth: options.queueDepth }) : undefined;
    this.#stats = new RequestStats(this.#clock);
    this.#metrics = new ServiceRequestMetrics(
      options.revision === ''
        ? serviceLabels(options.namespace, options.service, undefined)
        : serviceLabels(options.namespace, options.revision, options.service),
    );
    this.#metrics.inFlight = () => this.#breaker?.inFlight ?? this.#active;
    this.#metrics.queued = () => this.#breaker?.queued ?? 0;
    registerRequestMetrics(this.#registry, 'zeroscale_queue', () => [this.#metrics]);
    this.#registerLimits();
    this.#spans = deps.spans;
    this.#prober = new ReadinessProber({
      spec: options.readinessProbe,
      host: options.userHost,
      aggressiveIntervalMs: options.aggressiveProbeIntervalMs,
      onChange: (ready) => {
        this.#log.info({ ready }, `user container became ${ready ? 'ready' : 'not ready'}`);
        if (ready) this.#heldProbes.wakeAll();
      },
    });
    this.#token = new InternalToken(options.internalToken);
    this.#heldBodies = new HeldBodyBudget({
      limitBytes: options.heldBodyBytesLimit,
      perRequestBytes: options.heldBodyBytesPerRequest,
    });
    registerHeldBodyMetrics(this.#registry, 'zeroscale_queue', this.#heldBodies);
    this.#forwarder = new Forwarder<QueueRequest>(this, forwarderOptions);
    this.#upgrades = new UpgradeForwarder<QueueRequest>(this);
    this.#server = createServer(options.limits, {
      request: (req, res) => this.#onRequest(req, res),
      upgrade: (req, socket, head) => this.#onUpgrade(req, socket, head),
      clientError: (kind) => this.#metrics.reject(kind),
    });
    registerConnectionMetrics(this.#registry, 'zeroscale_queue', this.#server);
    const collect = deps.collectGarbage;
    this.#heapSettler =
      collect === undefined
        ? undefined
        : new HeapSettler({
            clock: this.#clock,
            collect,
            activity: () => this.#arrivals,
            inFlight: () => this.#active,
          });
    this.#admin = new AdminEndpoints({
      pod: options.pod,
      stats: this.#stats,
      intervalMs: options.statsIntervalMs,
      clock: this.#clock,
      registry: this.#registry,
      ready: () => this.ready,
    });
  }

  get httpPort(): number {
    return this.#httpPort;
  }
  get metricsPort(): number {
    return this.#admin.port;
  }
  get ready(): boolean {
    return this.#prober.ready && !this.#draining;
  }
  get draining(): boolean {
    return this.#draining;
  }

  whenReady(): Promise<void> {
    return this.#prober.whenReady();
  }

  async listen(): Promise<void> {
    const o = this.#options;
    this.#prober.start();
    this.#admin.start();
    this.#heapSettler?.start();
    // Both at once, the serving port first: a cold start's first request waits on it alone.
    const [httpPort] = await Promise.all([
      listen(this.#server, o.httpPort, o.listenHost),
      this.#admin.listen(o.metricsPort, o.listenHost),
    ]);
    this.#httpPort = httpPort;
    this.#log.info(
      {
        httpPort: this.#httpPort,
        metricsPort: this.metricsPort,
        userPort: o.userPort,
        containerConcurrency: o.containerConcurrency,
      },
      'queue-proxy started',
    );
  }

  #onRequest(req: ClientRequest, res: ClientResponse): void {
    const marks = scanInternalHeaders(req.rawHeaders, this.#marks);
    if (marks.probe !== undefined) {
      this.#answerProbe(req, res, marks.probe);
      return;
    }
    if (req.url === QUEUE_PROXY_READINESS_PATH) {
      this.#answerReadiness(res, undefined);
      return;
    }
    // Trust is the token's, not the header's: any client can send x-zeroscale-proxied.
    const proxied = this.#token.matches(marks.proxied);
    const span = this.#startSpan(req);
    const headers = this.#headersFor(req, proxied, span);
    if (this.#draining) {
      this.#lastArrival = this.#clock.now();
      closeAfterResponse(res);
    }
    this.#begin(
      new QueueRequest(
        req,
        res,
        undefined,
        undefined,
        proxied,
        headers,
        span,
        requestTimeoutMs(this.#options.timeoutMs, req),
      ),
    );
  }

  #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const proxied = this.#token.matches(scanInternalHeaders(req.rawHeaders, this.#marks).proxied);
    if (this.#draining) this.#lastArrival = this.#clock.now();
    const span = this.#startSpan(req);
    this.#begin(
      new QueueRequest(
        req,
        undefined,
        socket,
        head,
        proxied,
        this.#headersFor(req, proxied, span),
        span,
        this.#options.timeoutMs,
      ),
    );
  }

  #startSpan(req: ClientRequest): Span | undefined {
    return this.#spans?.startRequest(req, this.#options.namespace, this.#options.service);
  }

  #headersFor(req: ClientRequest, proxied: boolean, span: Span | undefined): string[] {
    const built = buildUpstreamRequestHeaders(
      req.rawHeaders,
      { remoteAddress: req.socket.remoteAddress, protocol: 'http' },
      proxied ? this.#activatorPolicy : this.#edgePolicy,
      span === undefined ? undefined : this.#spans!.traceparentOf(span),
    );
    span?.setAttribute('zeroscale.request_id', built.requestId);
    return built.headers;
  }

  #begin(r: QueueRequest): void {
    this.#active++;
    this.#arrivals++;
    this.#stats.requestStarted(r.proxied);
    const breaker = this.#breaker;
    if (breaker === undefined) {
      this.#dispatch(r);
    } else if (breaker.tryAcquire()) {
      r.holdsSlot = true;
      this.#dispatch(r);
    } else {
      this.#wait(r, breaker);
    }
  }

  #wait(r: QueueRequest, breaker: Breaker): void {
    // Reading a little of the body keeps the client's leaving visible while it waits.
    if (r.res !== undefined) holdBody(r.req, this.#heldBodies);
    if (r.span !== undefined) r.waitSpan = this.#spans!.startWait(r.span, 'queue_wait');
    if (r.timeoutMs > 0) {
      r.deadline = r.startedAt + r.timeoutMs;
      this.#deadlines.add(r);
    }
    const client = (r.res ?? r.socket)!;
    watchClient(client, r);
    breaker.acquire(r.asSignal()).then(
      () => {
        this.#unwait(r, client);
        r.holdsSlot = true;
        if (r.waitSpan !== undefined) this.#spans!.end(r.waitSpan);
        r.waitSpan = undefined;
        this.#dispatch(r);
      },
      (err: ZeroscaleError) => {
        this.#unwait(r, client);
        this.#rejected(r, err);
      },
    );
  }

  #unwait(r: QueueRequest, client: ClientResponse | Duplex): void {
    this.#deadlines.remove(r);
    unwatchClient(client);
  }

  #dispatch(r: QueueRequest): void {
    const remaining = this.#remainingMs(r);
    if (r.res === undefined) {
      // Upgrades (WebSocket) are HTTP/1.1 only; an h2c app has none to take.
      const upstream = this.#upstream;
      if (upstream === undefined) this.#refuseUpgrade(r);
      else
        this.#upgrades.forward(
          r.req as IncomingMessage,
          r.socket!,
          r.head!,
          r.headers,
          upstream,
          r,
          remaining,
        );
    } else if (this.#h2forwarder !== undefined) {
      this.#h2forwarder.forward(r.req, r.res, r.headers, this.#h2upstream!, r, remaining);
    } else {
      this.#forwarder.forward(r.req, r.res, r.headers, this.#upstream!, r, remaining);
    }
  }

  #refuseUpgrade(r: QueueRequest): void {
    const answer = {
      status: 501,
      code: 'UPGRADE_UNSUPPORTED',
      message: 'the app speaks HTTP/2 (h2c): no upgrade',
    };
    writeRawErrorAnswer(r.socket!, answer);
    this.#end(r, 501, answer.code);
  }

  #remainingMs(r: QueueRequest): number {
    const timeoutMs = r.timeoutMs;
    if (timeoutMs === 0) return 0;
    // At least 1 ms: the deadline timer then fires at once rather than meaning "no deadline".
    return Math.max(1, timeoutMs - (performance.now() - r.startedAt));
  }

  /** ForwardHandler: the request is over, one way or another. */
  forwardEnded(r: QueueRequest, failure: ProxyFailure | undefined): void {
    let status: number;
    if (failure === undefined) {
      status = r.res?.statusCode ?? 101;
    } else if (failure.code === 'CLIENT_ABORTED') {
      status = 0;
      this.#metrics.reject('client-aborted');
    } else {
      status = failure.status;
      if (!failure.responseStarted) this.#answerFailure(r, failure);
      this.#logFailure(r, failure);
    }
    this.#end(r, status, failure?.code);
  }

  /** One warn line per failed request, at most one a second; it names the request. */
  #logFailure(r: QueueRequest, failure: ProxyFailure): void {
    const suppressed = this.#failureLog.take(performance.now());
    if (suppressed === undefined) return;
    let traceId = r.span?.spanContext().traceId;
    if (traceId === undefined) {
      const header = firstValue(r.headers, 'traceparent');
      const parsed = header === undefined ? undefined : parseTraceparent(header);
      if (parsed?.valid === true) traceId = parsed.context.traceId;
    }
    this.#log.warn(
      {
        requestId: firstValue(r.headers, REQUEST_ID_HEADER),
        traceId,
        code: failure.code,
        status: failure.status,
        responseStarted: failure.responseStarted,
        ...(suppressed > 0 ? { suppressed } : {}),
      },
      `request failed: ${failure.reason}`,
    );
  }

  #answerFailure(r: QueueRequest, failure: ProxyFailure): void {
    if (r.res !== undefined) writeErrorAnswer(r.res, failureAnswer(failure), { close: hasUnreadBody(r.req) });
    else writeRawErrorAnswer(r.socket!, failureAnswer(failure));
  }

  #rejected(r: QueueRequest, err: ZeroscaleError): void {
    let status = 0;
    if (r.waitSpan !== undefined) this.#spans!.end(r.waitSpan);
    r.waitSpan = undefined;
    if (isZeroscaleError(err, 'QUEUE_FULL')) {
      this.#metrics.reject('queue-full');
      status = 503;
    } else if (isZeroscaleError(err, 'DEADLINE_EXCEEDED')) {
      this.#metrics.reject('deadline');
      status = 504;
    } else if (isZeroscaleError(err, 'SHUTTING_DOWN')) {
      this.#metrics.reject('shutting-down');
      status = 503;
    } else {
      this.#metrics.reject('client-aborted');
    }
    if (status !== 0) {
      const answer = { status, code: err.code, message: err.message };
      if (r.res !== undefined)
        writeErrorAnswer(r.res, answer, { retryAfterSeconds: 1, close: hasUnreadBody(r.req) });
      else writeRawErrorAnswer(r.socket!, answer, 1);
    }
    this.#end(r, status, err.code);
  }

  #end(r: QueueRequest, status: number, error: string | undefined): void {
    dropHeldBody(r.req);
    if (r.holdsSlot) {
      r.holdsSlot = false;
      this.#breaker!.release();
    }
    this.#stats.requestFinished(r.proxied);
    this.#metrics.observe(status, (performance.now() - r.startedAt) / 1000);
    this.#active--;
    if (r.span !== undefined) this.#spans!.endRequest(r.span, status, error);
  }

  /** The bounds as gauges, so dashboards can show how close to them the pod runs. */
  #registerLimits(): void {
    const o = this.#options;
    const labels = this.#metrics.labels;
    registerCollected(
      this.#registry,
      'zeroscale_queue_held_probes',
      `Activator readiness probes held until the user container is ready (at most ${MAX_HELD_PROBES}; more are answered at once).`,
      'gauge',
      () => [{ value: this.#heldProbes.size, labels }],
    );
    registerCollected(
      this.#registry,
      'zeroscale_queue_heap_settles_total',
      `Memory-reducing garbage collections run because the pod was quiet (no request for ${DEFAULT_SETTLE_POLICY.quietMs / 1000} s; again every ${DEFAULT_SETTLE_POLICY.againMs / 1000} s of quiet).`,
      'counter',
      () => [{ value: this.#heapSettler?.settles ?? 0, labels }],
    );
    registerCollected(
      this.#registry,
      'zeroscale_queue_concurrency_limit',
      'Requests the pod may have in flight to its container at once (containerConcurrency); 0 = no limit.',
      'gauge',
      () => [{ value: o.containerConcurrency, labels }],
    );
    registerCollected(
      this.#registry,
      'zeroscale_queue_queued_requests_limit',
      'Requests that may wait for a free slot; more get 503. 0 when there is no concurrency limit (nothing waits).',
      'gauge',
      () => [{ value: o.containerConcurrency > 0 ? o.queueDepth : 0, labels }],
    );
  }

  #answerProbe(req: ClientRequest, res: ClientResponse, probe: string): void {
    if (probe !== PROBE_QUEUE) {
      writeErrorAnswer(res, { status: 400, code: 'UNKNOWN_PROBE', message: `unknown probe "${probe}"` });
      return;
    }
    const waitMs = this.ready || this.#draining ? 0 : probeWaitMs(req.url);
    const answer = (r: ClientResponse): void => this.#answerReadiness(r, PROBE_QUEUE);
    if (waitMs === 0 || !this.#heldProbes.hold(res, waitMs, answer)) answer(res);
  }

  #answerReadiness(res: ClientResponse, okBody: string | undefined): void {
    if (this.ready) {
      const body = okBody ?? 'ready';
      writeResponseHead(res, 200, undefined, [
        'content-type',
        'text/plain',
        'content-length',
        String(body.length),
        'cache-control',
        'no-store',
      ]);
      res.end(body);
      return;
    }
    const answer = this.#draining
      ? { status: 503, code: 'DRAINING', message: 'queue-proxy is shutting down' }
      : { status: 503, code: 'NOT_READY', message: 'user container is not ready' };
    writeErrorAnswer(res, answer);
  }

  drain(): Promise<void> {
    if (this.#drained !== undefined) return this.#drained;
    this.#draining = true;
    this.#heldProbes.wakeAll();
    this.#lastArrival = this.#clock.now();
    this.#log.info({ drainMs: this.#options.drainMs, inFlight: this.#active }, 'drain started');
    this.#drained = this.#drainAndClose();
    return this.#drained;
  }

  async #drainAndClose(): Promise<void> {
    await waitForQuiet({
      clock: this.#clock,
      lastArrival: () => this.#lastArrival,
      quietMs: this.#options.drainMs,
      stopped: () => this.#closed,
    });
    await closeServer(this.#server);
    this.#log.info('drained');
    this.#admin.drained();
    await this.#stop();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#draining = true;
    this.#heldProbes.wakeAll();
    const closed = closeServer(this.#server);
    destroyConnections(this.#server);
    await Promise.all([closed, this.#stop()]);
  }

  async #stop(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#prober.stop();
    this.#heapSettler?.stop();
    this.#breaker?.rejectWaiting(breakerError('SHUTTING_DOWN', 'queue-proxy is shutting down'));
    this.#deadlines.clear();
    await this.#admin.close();
    this.#upstream?.destroy();
    this.#h2upstream?.destroy();
    destroyConnections(this.#server);
  }
}
