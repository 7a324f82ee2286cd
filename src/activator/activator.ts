// The activator: the data-plane entry for services that are cold or short of capacity. Routes by
// Host, holds requests while a service has no ready pod (bounded, with a deadline), pokes the
// autoscaler on the first one, balances over the pods it has probed ready, retries a request that
// never reached a pod, and reports its load every second. It times each cold start with its
// phases (cold-start.ts) and, when tracing is on, makes a span per request.

import type http from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { collectDefaultMetrics, type Registry } from 'prom-client';
import { type Clock, systemClock } from '../clock.ts';
import { waitForQuiet } from '../dataplane/drain.ts';
import { unwatchClient, watchClient } from '../dataplane/held.ts';
import { ZeroscaleError } from '../errors.ts';
import {
  type ClientRequest,
  type ClientResponse,
  closeAfterResponse,
  writeResponseHead,
} from '../http/client-message.ts';
import { type ErrorAnswer, failureAnswer, type ProxyFailure, writeErrorAnswer } from '../http/failures.ts';
import { requestTimeoutMs } from '../http/grpc.ts';
import { Http2Forwarder } from '../http/h2-proxy.ts';
import { buildUpstreamRequestHeaders, type HeaderPolicy } from '../http/headers.ts';
import { dropHeldBody, HeldBodyBudget, holdBody } from '../http/held-body.ts';
import {
  type InternalMarks,
  InternalToken,
  PROBE_ACTIVATOR,
  PROXIED_HEADER,
  scanInternalHeaders,
} from '../http/internal-headers.ts';
import { Forwarder, hasUnreadBody } from '../http/proxy.ts';
import { newRequestId } from '../http/request-id.ts';
import { ServiceRequestMetrics } from '../http/request-metrics.ts';
import { sniffParkableHost } from '../http/request-sniff.ts';
import {
  closeServer,
  createServer,
  declaredLength,
  destroyConnections,
  listen,
  registerConnectionMetrics,
  resumeConnection,
} from '../http/server.ts';
import { UpgradeForwarder, writeRawErrorAnswer } from '../http/upgrade.ts';
import { LogThrottle } from '../telemetry/json-log.ts';
import { type Logger, silentLogger } from '../telemetry/log.ts';
import { createRegistry } from '../telemetry/metrics.ts';
import type { RequestSpans } from '../telemetry/request-spans.ts';
import { AdminServer } from '../telemetry/server.ts';
import { registerActivatorMetrics } from './activator-metrics.ts';
import { ServiceCatalogue } from './catalogue.ts';
import { type ColdStart, type ColdStartEnded, ColdStartMetrics, coldStartPhases } from './cold-start.ts';
import type { ActivatorOptions } from './options.ts';
import { claimParked, keepReading, markResumed, ParkedRequest, stopReading } from './parked.ts';
import { StatReporter } from './reporter.ts';
import { ActivatorRequest, requestIds } from './request.ts';
import {
  type ActivatorRejection,
  BUDGET_RETRY_AFTER_SECONDS,
  FAIL_FAST_RETRY_AFTER_SECONDS,
  type PodTarget,
  ServiceFailingError,
  ServiceThrottler,
} from './service-throttler.ts';
import type {
  AutoscalerClient,
  ControlPlaneHealthSource,
  EndpointsSource,
  PodLifecycleSource,
  ServiceCatalog,
  ServiceFailureSource,
  Unsubscribe,
} from './sources.ts';

export interface ActivatorDeps {
  readonly catalog: ServiceCatalog;
  readonly endpoints: EndpointsSource;
  readonly autoscaler: AutoscalerClient;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Defaults to a fresh registry with the process metrics (memory, event loop). */
  readonly registry?: Registry;
  /** Tracing (see telemetry/tracing.ts); without it no span is made, nothing is spent on traces. */
  readonly spans?: RequestSpans | undefined;
  /** Pod creation and scheduling times for the cold-start phases of those names, when wired. */
  readonly podLifecycle?: PodLifecycleSource | undefined;
  /** When every pod of a service is failing (crash loop, image pull…): requests are answered at
   * once with the reason instead of waiting for their deadline. Without it, they wait. */
  readonly failures?: ServiceFailureSource | undefined;
  /** When the Kubernetes API is unavailable: requests for a service with no pod are answered at
   * once (nothing could start one); services with pods keep serving. */
  readonly controlPlane?: ControlPlaneHealthSource | undefined;
  /** Told of every finished cold start (the CLI records a Kubernetes Event on the service). */
  readonly onColdStart?: ((e: ColdStartEnded) => void) | undefined;
}

/** What a test or the CLI can see of one service. */
export interface ServiceSnapshot {
  /** Pods that passed their probe and get requests. */
  readonly healthyPods: number;
  /** Pods known from the endpoints (healthy or being probed). */
  readonly pods: number;
  readonly queued: number;
  /** Requests received and not yet ended, queued ones included. */
  readonly active: number;
}

export interface ActivatorHandle {
  readonly port: number;
  readonly metricsPort: number;
  readonly draining: boolean;
  /** Requests waiting for capacity, all services. */
  readonly queued: number;
  service(namespace: string, name: string): ServiceSnapshot | undefined;
  /**
   * What SIGTERM does: health fails at once; requests are still taken, with `Connection: close`,
   * until none arrived for the drain period; then the port closes and held and in-flight
   * requests get the shutdown grace to finish before they are cut.
   */
  drain(): Promise<void>;
  /** Stops at once (tests, second signal). */
  close(): Promise<void>;
}

export async function startActivator(
  options: ActivatorOptions,
  deps: ActivatorDeps,
): Promise<ActivatorHandle> {
  const activator = new Activator(options, deps);
  await activator.listen();
  return activator;
}

const SHUTTING_DOWN = (): ZeroscaleError =>
  new ZeroscaleError('SHUTTING_DOWN', 'activator is shutting down', { httpStatus: 503 });

class Activator implements ActivatorHandle {
  readonly #options: ActivatorOptions;
  readonly #deps: ActivatorDeps;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #registry: Registry;
  readonly #catalogue: ServiceCatalogue;
  readonly #forwarder: Forwarder<ActivatorRequest>;
  /** For services whose app speaks HTTP/2 (h2c): requests go to their pods over HTTP/2. */
  readonly #h2forwarder: Http2Forwarder<ActivatorRequest>;
  readonly #upgrades: UpgradeForwarder<ActivatorRequest>;
  readonly #server: http.Server;
  readonly #admin: AdminServer;
  readonly #reporter: StatReporter;
  readonly #coldStartMetrics: ColdStartMetrics;
  readonly #spans: RequestSpans | undefined;
  readonly #marks: InternalMarks = { probe: undefined, proxied: undefined, revision: undefined };
  readonly #token: InternalToken;
  readonly #heldBodies: HeldBodyBudget;
  // Behind an ingress, X-Forwarded-* name the real client: appended to, as nginx and Go's
  // ReverseProxy do. Internal headers from clients are dropped.
  readonly #policy: HeaderPolicy = { trustForwarded: true, stripInternal: true, newRequestId };
  // Rejections before a service is known (unknown host, bad input): labels namespace="" service="".
  readonly #unrouted = new ServiceRequestMetrics<ActivatorRejection>({
    namespace: '',
    service: '',
    revision: '',
  });
  #unsubscribe: Unsubscribe | undefined = undefined;
  #unsubscribeControlPlane: Unsubscribe | undefined = undefined;
  #port = 0;
  #queued = 0;
  /** Of the queued: held as bare connections (parked.ts). */
  #parked = 0;
  #active = 0;
  #draining = false;
  #lastArrival = 0;
  #drained: Promise<void> | undefined = undefined;
  #idle: (() => void) | undefined = undefined;
  #closed = false;
  readonly #autoscalerFailureLog = new LogThrottle(1_000);
  autoscalerErrors = 0;

  constructor(options: ActivatorOptions, deps: ActivatorDeps) {
    this.#options = options;
    this.#deps = deps;
    this.#clock = deps.clock ?? systemClock;
    this.#log = (deps.logger ?? silentLogger()).child({ activator: options.name });
    this.#registry = deps.registry ?? createRegistry('activator');
    if (deps.registry === undefined) collectDefaultMetrics({ register: this.#registry });
    this.#coldStartMetrics = new ColdStartMetrics(this.#registry, deps.onColdStart);
    this.#catalogue = new ServiceCatalogue({
      options,
      endpoints: deps.endpoints,
      podLifecycle: deps.podLifecycle,
      failures: deps.failures,
      clock: this.#clock,
      log: this.#log,
      coldStartMetrics: this.#coldStartMetrics,
    });
    this.#spans = deps.spans;
    this.#token = new InternalToken(options.internalToken);
    this.#heldBodies = new HeldBodyBudget({
      limitBytes: options.heldBodyBytesLimit,
      perRequestBytes: options.heldBodyBytesPerRequest,
    });
    const forwarderOptions = {
      responseStartTimeoutMs: options.responseStartTimeoutMs,
      idleTimeoutMs: options.idleTimeoutMs,
      maxBodyBytes: options.maxBodyBytes,
      bodyTimeoutMs: options.bodyTimeoutMs,
    };
    this.#forwarder = new Forwarder<ActivatorRequest>(this, forwarderOptions);
    this.#h2forwarder = new Http2Forwarder<ActivatorRequest>(this, forwarderOptions);
    this.#upgrades = new UpgradeForwarder<ActivatorRequest>(this);
    this.#server = createServer(
      { maxBodyBytes: options.maxBodyBytes, ...options.limits },
      {
        request: (req, res) => this.#onRequest(req, res),
        upgrade: (req, socket, head) => this.#onUpgrade(req, socket, head),
        clientError: (kind) => this.#unrouted.reject(kind),
        // With tracing on, every request gets its span from the parsed request: none is parked.
        ...(deps.spans === undefined ? { firstBytes: (socket, chunk) => this.#park(socket, chunk) } : {}),
      },
    );
    registerConnectionMetrics(this.#registry, 'zeroscale_activator', this.#server);
    // Both probes fail while draining, so endpoints drop the activator before it stops.
    this.#admin = new AdminServer({
      clock: this.#clock,
      registry: this.#registry,
      ready: () => !this.#draining,
      healthy: () => !this.#draining,
    });
    this.#reporter = new StatReporter({
      activator: options.name,
      intervalMs: options.reportIntervalMs,
      clock: this.#clock,
      services: () => this.#catalogue.services.values(),
      client: deps.autoscaler,
      onError: (err) => this.#autoscalerFailed('report', err),
    });
    registerActivatorMetrics({
      registry: this.#registry,
      options,
      heldBodies: this.#heldBodies,
      unrouted: this.#unrouted,
      services: () => this.#catalogue.services.values(),
      queued: () => this.#queued,
      parked: () => this.#parked,
      autoscalerErrors: () => this.autoscalerErrors,
      apiChecks: () => this.#deps.controlPlane?.checks?.(),
    });
  }

  get port(): number {
    return this.#port;
  }
  get metricsPort(): number {
    return this.#admin.port;
  }
  get draining(): boolean {
    return this.#draining;
  }
  get queued(): number {
    return this.#queued;
  }

  service(namespace: string, name: string): ServiceSnapshot | undefined {
    const svc = this.#catalogue.get(namespace, name);
    if (svc === undefined) return undefined;
    return {
      healthyPods: svc.healthyPods,
      pods: svc.pods.size,
      queued: svc.breaker.queued,
      active: svc.active,
    };
  }

  async listen(): Promise<void> {
    this.#unsubscribe = this.#deps.catalog.subscribe((services) => {
      if (!this.#closed) this.#catalogue.update(services);
    });
    this.#unsubscribeControlPlane = this.#deps.controlPlane?.subscribe((unavailable) => {
      if (!this.#closed) this.#catalogue.setApiUnavailable(unavailable);
    });
    await this.#admin.listen(this.#options.metricsPort, this.#options.host);
    this.#port = await listen(this.#server, this.#options.port, this.#options.host);
    this.#reporter.start();
    this.#log.info({ port: this.#port, metricsPort: this.metricsPort }, 'activator started');
  }

  // ---- requests ----------------------------------------------------------------------------

  #onRequest(req: ClientRequest, res: ClientResponse): void {
    const parked = claimParked(req.socket);
    if (parked !== undefined && this.#resumeParked(parked, req, res)) return;
    const probe = scanInternalHeaders(req.rawHeaders, this.#marks).probe;
    if (probe !== undefined) {
      this.#answerProbe(res, probe);
      return;
    }
    const svc = this.#route(req, this.#marks.revision);
    if (!(svc instanceof ServiceThrottler)) {
      this.#unrouted.reject('unknown-host');
      writeErrorAnswer(res, svc, { close: hasUnreadBody(req) });
      return;
    }
    if (declaredLength(req.rawHeaders) > this.#options.maxBodyBytes) {
      svc.metrics.reject('body-too-large');
      writeErrorAnswer(
        res,
        {
          status: 413,
          code: 'BODY_TOO_LARGE',
          message: `request body larger than ${this.#options.maxBodyBytes} bytes`,
        },
        { close: true },
      );
      return;
    }
    if (this.#draining) {
      this.#lastArrival = this.#clock.now();
      closeAfterResponse(res);
    }
    const r = new ActivatorRequest(svc, req, res, undefined, undefined);
    r.timeoutMs = requestTimeoutMs(r.timeoutMs, req);
    this.#begin(r);
  }

  /** The service of a request; before a miss is answered, a catalog change not yet sent is taken. */
  #route(req: ClientRequest, revision?: string): ServiceThrottler | ErrorAnswer {
    const svc = this.#catalogue.route(req, revision);
    if (svc instanceof ServiceThrottler) return svc;
    const host = this.#catalogue.requestHost(req);
    if (host === undefined || this.#deps.catalog.flush?.(host) !== true) return svc;
    return this.#catalogue.route(req, revision);
  }

  #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const svc = this.#route(req);
    if (!(svc instanceof ServiceThrottler)) {
      this.#unrouted.reject('unknown-host');
      writeRawErrorAnswer(socket, svc);
      return;
    }
    if (this.#draining) this.#lastArrival = this.#clock.now();
    this.#begin(new ActivatorRequest(svc, req, undefined, socket, head));
  }

  // ---- parked requests (parked.ts) ------------------------------------------------------------

  /** firstBytes: keeps a new connection as bare bytes when its request is for a cold service. */
  #park(socket: Socket, chunk: Buffer): boolean {
    if (this.#draining || this.#queued >= this.#options.maxQueued) return false;
    const host = sniffParkableHost(chunk);
    if (host === undefined) return false;
    const svc = this.#catalogue.routeHost(host, false);
    // A failing or refused service is answered at once on the ordinary path.
    if (
      svc === undefined ||
      svc.healthyPods > 0 ||
      svc.failure !== undefined ||
      svc.spec.refusal !== undefined
    )
      return false;
    this.#catalogue.routeHost(host); // taken: the request is held for this revision
    const parked = new ParkedRequest(svc, this.#catalogue.hostKey(host)!, socket, chunk, performance.now());
    svc.active++;
    this.#active++;
    svc.stats.requestStarted(false);
    this.#poke(svc);
    this.#queued++;
    this.#parked++;
    parked.coldStart = svc.coldStarts.join(parked.startedAt, true);
    if (svc.timeoutMs > 0) {
      parked.deadline = parked.startedAt + svc.timeoutMs;
      svc.deadlines.add(parked);
    }
    watchClient(socket, parked);
    keepReading(parked);
    svc.breaker.acquire(parked.asSignal()).then(
      () => this.#unpark(parked),
      (err: ZeroscaleError) => this.#parkedRejected(parked, err),
    );
    return true;
  }

  #unholdParked(parked: ParkedRequest): void {
    this.#queued--;
    this.#parked--;
    parked.service.deadlines.remove(parked);
    unwatchClient(parked.socket);
    stopReading(parked);
  }

  /** It has a slot: the connection goes to Node, whose request is then claimed in #onRequest. */
  #unpark(parked: ParkedRequest): void {
    this.#unholdParked(parked);
    markResumed(parked);
    resumeConnection(this.#server, parked.socket, parked.bytes);
    // Node emits the parsed request before resumeConnection returns; if it did not (the client
    // left, or the server refused the head and counted why), nothing else will end this one.
    if (claimParked(parked.socket) === parked) {
      parked.service.breaker.release();
      if (parked.socket.destroyed)
        this.#ended(parked.service, parked.startedAt, parked.coldStart, 0, 'client-aborted');
      else this.#uncount(parked.service, parked.coldStart);
    }
  }

  /**
   * The request Node parsed from a resumed connection: it keeps its slot, arrival time and cold
   * start. False when it is not for the service it was held for (then it takes the ordinary path).
   */
  #resumeParked(parked: ParkedRequest, req: ClientRequest, res: ClientResponse): boolean {
    const svc = parked.service;
    // Its host still names what it was held for; a split that moved meanwhile does not move it.
    if (this.#catalogue.requestKey(req) !== parked.hostKey) {
      svc.breaker.release();
      this.#uncount(svc, parked.coldStart);
      return false;
    }
    if (this.#draining) closeAfterResponse(res);
    const r = new ActivatorRequest(svc, req, res, undefined, undefined, parked.startedAt);
    r.coldStart = parked.coldStart;
    r.holdsSlot = true;
    this.#dispatch(r);
    return true;
  }

  #parkedRejected(parked: ParkedRequest, err: ZeroscaleError): void {
    this.#unholdParked(parked);
    const rejected = rejection(err);
    if (err instanceof ServiceFailingError) parked.service.countFailFast(err.failure);
    if (rejected.answer !== undefined) {
      writeRawErrorAnswer(parked.socket, rejected.answer, this.#retryAfter(rejected.answer));
    } else {
      parked.socket.destroy();
    }
    this.#ended(parked.service, parked.startedAt, parked.coldStart, rejected.status, rejected.reason);
  }

  #headersFor(r: ActivatorRequest): string[] {
    const req = r.req;
    const span = r.span;
    const built = buildUpstreamRequestHeaders(
      req.rawHeaders,
      { remoteAddress: req.socket.remoteAddress, protocol: 'http' },
      this.#policy,
      span === undefined ? undefined : this.#spans!.traceparentOf(span),
    );
    span?.setAttribute('zeroscale.request_id', built.requestId);
    const headers = built.headers;
    // The token proves to the queue-proxy that the activator counted this request already.
    const token = this.#token.value;
    if (token !== undefined) headers.push(PROXIED_HEADER, token);
    return headers;
  }

  #begin(r: ActivatorRequest): void {
    const svc = r.service;
    svc.active++;
    this.#active++;
    svc.stats.requestStarted(false);
    if (this.#spans !== undefined) {
      r.span = this.#spans.startRequest(r.req, svc.namespace, svc.name, r.startedAt);
    }
    this.#admit(r);
  }

  #admit(r: ActivatorRequest): void {
    const svc = r.service;
    // spec.budget spent with action Reject: refused before any pod is woken or any slot taken.
    const refusal = svc.spec.refusal;
    if (refusal !== undefined) {
      this.#finish(r, 429, 'budget-exceeded', {
        status: 429,
        code: 'BUDGET_EXCEEDED',
        message: `service ${svc.displayKey}: ${refusal}`,
        retryAfterSeconds: BUDGET_RETRY_AFTER_SECONDS,
      });
      return;
    }
    if (svc.breaker.tryAcquire()) {
      r.holdsSlot = true;
      this.#dispatch(r);
      return;
    }
    // Every pod is failing (a crash loop, a bad image): say why now rather than at the deadline.
    const failing = svc.failingError();
    if (failing !== undefined) {
      this.#rejected(r, failing);
      return;
    }
    const cold = svc.healthyPods === 0;
    if (cold) this.#poke(svc);
    if (this.#queued >= this.#options.maxQueued) {
      this.#finish(r, 503, 'activator-queue-full', {
        status: 503,
        code: 'ACTIVATOR_QUEUE_FULL',
        message: `activator holds ${this.#queued} requests, its limit`,
      });
      return;
    }
    this.#wait(r, cold);
  }

  // The cold path. What a held request costs beyond Node's own objects: the Breaker's waiter and
  // promise, and the two callbacks below.
  #wait(r: ActivatorRequest, cold: boolean): void {
    const svc = r.service;
    this.#queued++;
    // Only a request's first wait begins or joins a cold start (arrivals found the service cold);
    // one sent again after a failed attempt keeps the cold start it had, if any.
    if (r.coldStart === undefined && r.attempts === 0) r.coldStart = svc.coldStarts.join(r.startedAt, cold);
    if (r.span !== undefined && r.waitSpan === undefined) {
      r.waitSpan =
        r.coldStart === undefined
          ? this.#spans!.startWait(r.span, 'queue_wait')
          : this.#spans!.startWait(r.span, 'cold_start', r.startedAt);
    }
    if (r.timeoutMs > 0) {
      r.deadline = r.startedAt + r.timeoutMs;
      svc.deadlines.add(r);
    }
    watchClient(r.client, r);
    // Reading a little of the body keeps the client's leaving visible while it waits.
    if (r.res !== undefined) holdBody(r.req, this.#heldBodies);
    svc.breaker.acquire(r.asSignal()).then(
      () => {
        this.#unhold(r);
        r.holdsSlot = true;
        // A cold_start span lasts until the pod answers; a queue_wait span until now.
        if (r.waitSpan !== undefined && r.coldStart === undefined) {
          this.#spans!.end(r.waitSpan);
          r.waitSpan = undefined;
        }
        this.#dispatch(r);
      },
      (err: ZeroscaleError) => {
        this.#unhold(r);
        this.#rejected(r, err);
      },
    );
  }

  #unhold(r: ActivatorRequest): void {
    this.#queued--;
    r.service.deadlines.remove(r);
    unwatchClient(r.client);
  }

  #dispatch(r: ActivatorRequest): void {
    const svc = r.service;
    const slot = svc.balancer.pick();
    const pod = slot === undefined ? undefined : svc.pods.get(slot.id);
    if (slot === undefined || pod === undefined) {
      // The breaker admits only what healthy pods can take, so this is a bookkeeping slip.
      if (slot !== undefined) svc.balancer.release(slot);
      this.#log.warn({ service: svc.key }, 'breaker admitted a request no pod had room for');
      this.#finish(r, 503, 'no-capacity', {
        status: 503,
        code: 'NO_CAPACITY',
        message: `no pod of ${svc.key} has room`,
      });
      return;
    }
    const remaining = this.#remainingMs(r);
    r.slot = slot;
    r.pod = pod;
    pod.inFlight++;
    r.attempts++;
    r.headers ??= this.#headersFor(r);
    if (r.res === undefined) {
      this.#upgrades.forward(
        r.req as IncomingMessage,
        r.socket!,
        r.head!,
        r.headers,
        pod.upstream,
        r,
        remaining,
      );
    } else if (svc.spec.protocol === 'h2c') {
      this.#h2forwarder.forward(r.req, r.res, r.headers, pod.h2, r, remaining);
    } else {
      this.#forwarder.forward(r.req, r.res, r.headers, pod.upstream, r, remaining);
    }
  }

  /** ForwardHandler: the pod began to answer `r` (status line and headers went to the client). */
  responseStarted(r: ActivatorRequest): void {
    const coldStart = r.coldStart;
    if (coldStart === undefined) return;
    const now = performance.now();
    const svc = r.service;
    if (svc.coldStarts.current === coldStart) {
      const ids = requestIds(r);
      svc.coldStarts.served(coldStart, now, {
        requestId: ids.requestId,
        traceId: ids.traceId,
        pod: r.pod === undefined ? undefined : (r.pod.endpoint.pod ?? r.pod.id),
      });
    }
    if (r.waitSpan !== undefined) this.#endColdStartSpan(r, coldStart, now);
  }

  /** ForwardHandler: one attempt of `r` is over. */
  forwardEnded(r: ActivatorRequest, failure: ProxyFailure | undefined): void {
    const svc = r.service;
    const pod = r.pod!;
    svc.balancer.release(r.slot!);
    pod.released();
    r.pod = undefined;
    r.slot = undefined;
    if (failure === undefined) {
      this.#finish(r, r.res?.statusCode ?? 101, undefined, undefined);
      return;
    }
    if (failure.code === 'UPSTREAM_CONNECT_FAILED') svc.podFailed(pod);
    if (
      failure.retryable &&
      !failure.responseStarted &&
      r.attempts < this.#options.maxAttempts &&
      !r.clientGone
    ) {
      // Nothing reached the pod: send it again, to a pod with room now or after waiting for one.
      svc.retries++;
      r.holdsSlot = false;
      svc.breaker.release();
      this.#admit(r);
      return;
    }
    if (failure.code === 'CLIENT_ABORTED') {
      this.#finish(r, 0, 'client-aborted', undefined);
      return;
    }
    this.#logFailure(r, pod, failure);
    this.#finish(
      r,
      failure.status,
      undefined,
      failure.responseStarted ? undefined : failureAnswer(failure),
      failure.code,
    );
  }

  /** One warn line per failed request, at most one a second per service; it names the request. */
  #logFailure(r: ActivatorRequest, pod: PodTarget, failure: ProxyFailure): void {
    const svc = r.service;
    const suppressed = svc.failureLog.take(performance.now());
    if (suppressed === undefined) return;
    const ids = requestIds(r);
    svc.log.warn(
      {
        requestId: ids.requestId,
        traceId: ids.traceId,
        code: failure.code,
        status: failure.status,
        pod: pod.endpoint.pod ?? pod.id,
        attempts: r.attempts,
        responseStarted: failure.responseStarted,
        ...(suppressed > 0 ? { suppressed } : {}),
      },
      `request failed: ${failure.reason}`,
    );
  }

  /** Ends the cold_start span of `r` with the phases it waited through as events. */
  #endColdStartSpan(r: ActivatorRequest, coldStart: ColdStart, forwardedAt: number | undefined): void {
    const spans = this.#spans!;
    const span = r.waitSpan!;
    r.waitSpan = undefined;
    for (const p of coldStartPhases(coldStart)) {
      if (p.phase === 'forwarded' || p.at < r.startedAt) continue;
      spans.event(span, p.phase, p.at, { 'zeroscale.cold_start.phase_ms': p.ms });
    }
    if (forwardedAt !== undefined) spans.event(span, 'forwarded', forwardedAt);
    span.setAttribute('zeroscale.cold_start.began_here', coldStart.startedAt === r.startedAt);
    if (coldStart.failure !== undefined)
      span.setAttribute('zeroscale.cold_start.failure_reason', coldStart.failure.reason);
    spans.end(span, forwardedAt);
  }

  #rejected(r: ActivatorRequest, err: ZeroscaleError): void {
    const rejected = rejection(err);
    if (err instanceof ServiceFailingError) r.service.countFailFast(err.failure);
    this.#finish(r, rejected.status, rejected.reason, rejected.answer);
  }

  /** Ends a request: answers it when `answer` is given, frees its slot, records it. */
  #finish(
    r: ActivatorRequest,
    status: number,
    rejection: ActivatorRejection | undefined,
    answer: ErrorAnswer | undefined,
    failure?: string,
  ): void {
    const svc = r.service;
    dropHeldBody(r.req);
    if (answer !== undefined) {
      const retryAfter = this.#retryAfter(answer);
      if (r.res !== undefined) {
        writeErrorAnswer(r.res, answer, {
          close: hasUnreadBody(r.req),
          ...(retryAfter === undefined ? {} : { retryAfterSeconds: retryAfter }),
        });
      } else {
        writeRawErrorAnswer(r.socket!, answer, retryAfter);
      }
    }
    if (r.holdsSlot) {
      r.holdsSlot = false;
      svc.breaker.release();
    }
    if (r.span !== undefined) {
      if (r.waitSpan !== undefined) {
        if (r.coldStart === undefined) this.#spans!.end(r.waitSpan);
        else this.#endColdStartSpan(r, r.coldStart, undefined);
        r.waitSpan = undefined;
      }
      if (r.attempts > 1) r.span.setAttribute('zeroscale.attempts', r.attempts);
      this.#spans!.endRequest(r.span, status, failure ?? rejection ?? answer?.code);
    }
    this.#ended(svc, r.startedAt, r.coldStart, status, rejection);
  }

  /** Retry-After of an error answer: its own, or the activator's for a 503. */
  #retryAfter(answer: ErrorAnswer): number | undefined {
    return answer.retryAfterSeconds ?? (answer.status === 503 ? this.#options.retryAfterSeconds : undefined);
  }

  /** The bookkeeping of every request's end, parked or parsed. */
  #ended(
    svc: ServiceThrottler,
    startedAt: number,
    coldStart: ColdStart | undefined,
    status: number,
    rejection: ActivatorRejection | undefined,
  ): void {
    if (rejection !== undefined) svc.metrics.reject(rejection);
    svc.metrics.observe(status, (performance.now() - startedAt) / 1000);
    this.#uncount(svc, coldStart);
  }

  #uncount(svc: ServiceThrottler, coldStart: ColdStart | undefined): void {
    svc.active--;
    svc.stats.requestFinished(false);
    if (coldStart !== undefined) svc.coldStarts.left(coldStart);
    this.#active--;
    if (this.#active === 0 && this.#idle !== undefined) this.#idle();
  }

  #remainingMs(r: ActivatorRequest): number {
    const timeoutMs = r.timeoutMs;
    if (timeoutMs <= 0) return 0;
    // At least 1 ms: 0 would mean "no deadline" to the forwarder.
    return Math.max(1, timeoutMs - (performance.now() - r.startedAt));
  }

  #poke(svc: ServiceThrottler): void {
    if (svc.poked) return;
    svc.poked = true;
    svc.pokes++;
    this.#log.info({ service: svc.key }, 'request found no ready pod; poked the autoscaler');
    const pokedAt = performance.now();
    this.#deps.autoscaler.poke({ service: svc.key, activator: this.#options.name }).then(
      () => svc.coldStarts.decided(pokedAt, performance.now()),
      (err: unknown) => this.#autoscalerFailed('poke', err),
    );
  }

  #autoscalerFailed(call: 'report' | 'poke', err: unknown): void {
    this.autoscalerErrors++;
    // While the autoscaler is unreachable every report (one a second) and every poke fails: one
    // line a second at most, saying how many were left out.
    const suppressed = this.#autoscalerFailureLog.take(this.#clock.monotonicNow());
    if (suppressed === undefined) return;
    this.#log.warn(
      { call, err: (err as Error).message, ...(suppressed > 0 ? { suppressed } : {}) },
      'autoscaler call failed',
    );
  }

  #answerProbe(res: ClientResponse, probe: string): void {
    if (probe !== PROBE_ACTIVATOR) {
      writeErrorAnswer(res, {
        status: 400,
        code: 'UNKNOWN_PROBE',
        message: `unknown probe "${probe.slice(0, 64)}"`,
      });
      return;
    }
    if (this.#draining) {
      writeErrorAnswer(res, { status: 503, code: 'DRAINING', message: 'activator is shutting down' });
      return;
    }
    writeResponseHead(res, 200, undefined, [
      'content-type',
      'text/plain',
      'content-length',
      String(PROBE_ACTIVATOR.length),
    ]);
    res.end(PROBE_ACTIVATOR);
  }

  // ---- shutdown ----------------------------------------------------------------------------

  drain(): Promise<void> {
    if (this.#drained !== undefined) return this.#drained;
    this.#draining = true;
    this.#lastArrival = this.#clock.now();
    this.#log.info({ drainMs: this.#options.drainMs, active: this.#active }, 'drain started');
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
    const closed = closeServer(this.#server);
    if (this.#active > 0) {
      await new Promise<void>((resolve) => {
        const timer = this.#clock.setTimeout(resolve, this.#options.shutdownGraceMs);
        this.#idle = () => {
          this.#clock.clearTimeout(timer);
          resolve();
        };
      });
    }
    this.#log.info({ cut: this.#active }, 'drained');
    await this.#stop();
    await closed;
  }

  async close(): Promise<void> {
    this.#draining = true;
    const closed = closeServer(this.#server);
    await this.#stop();
    await closed;
  }

  async #stop(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#reporter.stop();
    this.#unsubscribe?.();
    this.#unsubscribeControlPlane?.();
    for (const svc of this.#catalogue.services.values()) {
      svc.breaker.rejectWaiting(SHUTTING_DOWN());
      svc.close();
    }
    destroyConnections(this.#server);
    await this.#admin.close();
  }
}

/** What a request the Breaker refused is answered and counted as. */
function rejection(err: ZeroscaleError): {
  status: number;
  reason: ActivatorRejection;
  answer: ErrorAnswer | undefined;
} {
  const answer = (status: number): ErrorAnswer => ({ status, code: err.code, message: err.message });
  switch (err.code) {
    case 'QUEUE_FULL':
      return { status: 503, reason: 'queue-full', answer: answer(503) };
    case 'DEADLINE_EXCEEDED':
      return { status: 504, reason: 'deadline', answer: answer(504) };
    case 'SERVICE_REMOVED':
      return { status: 503, reason: 'service-removed', answer: answer(503) };
    case 'SERVICE_CANNOT_START':
      return {
        status: 503,
        reason: 'service-failing',
        answer: { ...answer(503), retryAfterSeconds: FAIL_FAST_RETRY_AFTER_SECONDS },
      };
    case 'SHUTTING_DOWN':
      return { status: 503, reason: 'shutting-down', answer: answer(503) };
    case 'PIPELINE_FLOOD':
      return { status: 503, reason: 'pipeline-flood', answer: answer(503) };
    default:
      return { status: 0, reason: 'client-aborted', answer: undefined };
  }
}
