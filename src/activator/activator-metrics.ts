// The activator's own metrics (request metrics per service, retries, pokes, pods, queue bounds),
// read from its state at scrape time: nothing is counted twice on the hot path.

import type { Registry } from 'prom-client';
import type { HeldBodyBudget } from '../http/held-body.ts';
import { registerHeldBodyMetrics } from '../http/held-body.ts';
import { registerRequestMetrics, type ServiceRequestMetrics } from '../http/request-metrics.ts';
import { registerCollected, type Sample } from '../telemetry/collected.ts';
import type { ActivatorOptions } from './options.ts';
import type { ActivatorRejection, ServiceThrottler } from './service-throttler.ts';

/** What the metrics read, each time Prometheus scrapes. */
export interface ActivatorMetricsView {
  readonly registry: Registry;
  readonly options: ActivatorOptions;
  readonly heldBodies: HeldBodyBudget;
  /** Rejections before a service is known (labels namespace="" service=""). */
  readonly unrouted: ServiceRequestMetrics<ActivatorRejection>;
  services(): Iterable<ServiceThrottler>;
  queued(): number;
  parked(): number;
  autoscalerErrors(): number;
  /** The Kubernetes API health checks by outcome; undefined where there is no API (static setup). */
  apiChecks(): ReadonlyMap<string, number> | undefined;
}

export function registerActivatorMetrics(view: ActivatorMetricsView): void {
  const registry = view.registry;
  registerHeldBodyMetrics(registry, 'zeroscale_activator', view.heldBodies);
  registerRequestMetrics(registry, 'zeroscale_activator', () => [
    view.unrouted,
    ...[...view.services()].map((s) => s.metrics),
  ]);
  const perService = (value: (s: ServiceThrottler) => number) => (): Sample[] =>
    [...view.services()].map((s) => ({ value: value(s), labels: s.metrics.labels }));
  registerCollected(
    registry,
    'zeroscale_activator_retries_total',
    'Requests sent again after a pod could not be reached.',
    'counter',
    perService((s) => s.retries),
  );
  registerCollected(
    registry,
    'zeroscale_activator_pokes_total',
    'Scale-from-zero pokes sent to the autoscaler.',
    'counter',
    perService((s) => s.pokes),
  );
  registerCollected(
    registry,
    'zeroscale_activator_healthy_pods',
    'Pods that passed the activator probe and get requests.',
    'gauge',
    perService((s) => s.healthyPods),
  );
  registerCollected(
    registry,
    'zeroscale_activator_pods',
    'Pods known from the endpoints, healthy or being probed.',
    'gauge',
    perService((s) => s.pods.size),
  );
  registerCollected(
    registry,
    'zeroscale_activator_fail_fast_total',
    "Requests answered 503 at once because every pod of the service was failing, by the pods' reason (CrashLoopBackOff, ImagePullBackOff, OOMKilled, Unschedulable...).",
    'counter',
    () => {
      const out: Sample[] = [];
      for (const s of view.services())
        for (const [reason, value] of s.failFast)
          out.push({ value, labels: { ...s.metrics.labels, reason } });
      return out;
    },
  );
  registerCollected(
    registry,
    'zeroscale_activator_service_failing',
    'Services whose every pod is failing now (1, with the reason): their requests are answered 503 at once.',
    'gauge',
    () => {
      const out: Sample[] = [];
      for (const s of view.services())
        if (s.failure !== undefined)
          out.push({ value: 1, labels: { ...s.metrics.labels, reason: s.failure.reason } });
      return out;
    },
  );
  registerCollected(
    registry,
    'zeroscale_activator_queued_requests_all',
    'Requests waiting for capacity, all services.',
    'gauge',
    () => [{ value: view.queued(), labels: {} }],
  );
  registerCollected(
    registry,
    'zeroscale_activator_parked_requests',
    'Of the requests waiting for capacity, those held as bare connections (their first request, no body, service cold): ~4 KB of activator memory each instead of ~14 KB.',
    'gauge',
    () => [{ value: view.parked(), labels: {} }],
  );
  registerCollected(
    registry,
    'zeroscale_activator_service_queued_requests_limit',
    'Most requests the activator holds waiting for one service; more get 503 (reason queue-full).',
    'gauge',
    () => [{ value: view.options.queueDepth, labels: {} }],
  );
  registerCollected(
    registry,
    'zeroscale_activator_queued_requests_limit',
    'Most requests the activator holds waiting, all services.',
    'gauge',
    () => [{ value: view.options.maxQueued, labels: {} }],
  );
  registerCollected(
    registry,
    'zeroscale_activator_autoscaler_errors_total',
    'Failed reports and pokes to the autoscaler.',
    'counter',
    () => [{ value: view.autoscalerErrors(), labels: {} }],
  );
  registerCollected(
    registry,
    'zeroscale_activator_kubernetes_api_checks_total',
    "Polls of the apiserver's /readyz by outcome: ready, unready (answered not ready), unreachable (connection refused, reset or cut) or timeout (no answer in time). Unreachable polls in a row, or no ready answer for a while, make cold requests answered 503 (KubernetesApiUnavailable).",
    'counter',
    () => [...(view.apiChecks() ?? [])].map(([outcome, value]) => ({ value, labels: { outcome } })),
  );
}
