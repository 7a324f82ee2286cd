// The cluster ConfigMap (zeroscale-config) that the controller, autoscaler and activator all read:
// domain, queue-proxy image and resources, and the defaults for fields a ServerlessService leaves
// out. Parsed with zod; every error names the ConfigMap key.

import type { V1ResourceRequirements } from '@kubernetes/client-node';
import { z } from 'zod';
import { ZeroscaleError } from '../errors.ts';
import { BUILTIN_SERVING_DEFAULTS, type ServingDefaults } from './defaults.ts';
import { parseDurationMs } from './duration.ts';
import { describeIssues, formatFieldPath } from './parse.ts';
import { QUANTITY_PATTERN } from './quantity.ts';
import { DURATION_RANGES, durationSchema, scalingFields } from './serverless-service.ts';

export const CONFIG_MAP_NAME = 'zeroscale-config';
export const INVALID_CONFIG = 'INVALID_CONFIG';
/** The project's one image; the queue-proxy is `zeroscale queue-proxy` in it. */
export const IMAGE_REPOSITORY = 'ghcr.io/zeroscale/zeroscale';

export interface ClusterConfig {
  /** Services are reachable at <name>.<namespace>.<domainSuffix>. */
  readonly domainSuffix: string;
  readonly clusterDomain: string;
  readonly queueProxy: {
    readonly image: string;
    readonly resources: V1ResourceRequirements;
    readonly internalToken?: string | undefined;
  };
  readonly defaults: ServingDefaults;
  /**
   * The Gateway API Gateway that gets an HTTPRoute per service (weighted per revision), from the
   * `gateway` key ("namespace/name"); undefined: none is written.
   */
  readonly gateway?: { readonly namespace: string; readonly name: string } | undefined;
  /** How long unrouted revisions are kept (Knative: min-non-active-revisions, retain-since-*). */
  readonly revisionRetention: { readonly keepCount: number; readonly retainForMs: number };
}

/** Built-in revision retention: the 5 newest unrouted revisions stay; older ones go 15 h after their last traffic. */
export const DEFAULT_REVISION_RETENTION = { keepCount: 5, retainForMs: 15 * 3_600_000 } as const;

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
// Kubernetes resource quantity, e.g. "25m", "64Mi", "1.5", "1e3".
const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

const wholeNumber = (inner: z.ZodType<number, number>) =>
  z
    .string()
    .trim()
    .regex(/^-?[0-9]+$/, 'must be a whole number')
    .transform(Number)
    .pipe(inner);
const decimal = (inner: z.ZodType<number, number>) =>
  z
    .string()
    .trim()
    .regex(/^-?[0-9]+(\.[0-9]+)?$/, 'must be a number')
    .transform(Number)
    .pipe(inner);
/** A price: a non-negative decimal, also as Helm renders small numbers ("2.4e-05"). */
const price = z
  .string()
  .trim()
  .regex(/^[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$/, 'must be a non-negative number such as "0.000024"')
  .transform(Number);
const quantity = z
  .string()
  .trim()
  .regex(QUANTITY_PATTERN, 'must be a Kubernetes quantity such as "25m" or "64Mi"');
const duration = (key: string, [min, max]: readonly [string, string]) => durationSchema(key, min, max);

/** Every key the ConfigMap may hold; each one is optional and falls back to the built-in default. */
const ConfigMapDataSchema = z
  .object({
    'domain-suffix': z.string().max(253).regex(DNS_SUBDOMAIN, 'must be a DNS name such as "example.com"'),
    'cluster-domain': z.string().max(253).regex(DNS_SUBDOMAIN, 'must be a DNS name such as "cluster.local"'),
    'image-tag': z.string().regex(IMAGE_TAG, 'must be an image tag such as "v0.1.0"'),
    'queue-proxy-image': z.string().min(1).max(4096),
    'queue-proxy-cpu-request': quantity,
    'queue-proxy-memory-request': quantity,
    'queue-proxy-cpu-limit': quantity,
    'queue-proxy-memory-limit': quantity,
    'container-concurrency': wholeNumber(z.int().min(0).max(1000)),
    'timeout-seconds': wholeNumber(z.int().min(1).max(3600)),
    'min-scale': wholeNumber(scalingFields.minScale),
    'max-scale': wholeNumber(scalingFields.maxScale),
    'initial-scale': wholeNumber(scalingFields.initialScale),
    'activation-scale': wholeNumber(scalingFields.activationScale),
    metric: scalingFields.metric,
    'container-concurrency-target-default': decimal(scalingFields.target),
    'requests-per-second-target-default': decimal(scalingFields.target),
    'target-utilization-percentage': decimal(scalingFields.targetUtilizationPercentage),
    'stable-window': duration('stable-window', DURATION_RANGES.stableWindow),
    'panic-window-percentage': decimal(scalingFields.panicWindowPercentage),
    'panic-threshold-percentage': decimal(scalingFields.panicThresholdPercentage),
    'scale-down-delay': duration('scale-down-delay', DURATION_RANGES.scaleDownDelay),
    'scale-to-zero-pod-retention': duration(
      'scale-to-zero-pod-retention',
      DURATION_RANGES.scaleToZeroPodRetention,
    ),
    'target-burst-capacity': decimal(scalingFields.targetBurstCapacity),
    gateway: z
      .string()
      .regex(
        /^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/,
        'must be a Gateway as "namespace/name"',
      ),
    'revision-retain-count': wholeNumber(z.int().min(0).max(1000)),
    'revision-retain-for': durationSchema('revision-retain-for', '0s', '8760h'),
    'price-per-vcpu-second': price,
    'price-per-gib-second': price,
  })
  .partial()
  .refine((d) => d['min-scale'] === undefined || !d['max-scale'] || d['min-scale'] <= d['max-scale'], {
    message: 'min-scale must be <= max-scale',
    path: ['min-scale'],
    when: (payload) => payload.issues.length === 0,
  });

export const CONFIG_KEYS: readonly string[] = Object.keys(ConfigMapDataSchema.shape);

/** Keys the ConfigMap holds that this version does not know: worth a warning, likely a typo. */
export function unknownConfigKeys(data: Readonly<Record<string, string>> | undefined): string[] {
  return Object.keys(data ?? {}).filter((key) => !CONFIG_KEYS.includes(key));
}

export interface ConfigOptions {
  /** Tag of the queue-proxy image when the ConfigMap names neither a tag nor an image: our own version. */
  readonly imageTag: string;
  /**
   * The install's internal token (the chart's Secret, through the controller's environment, never
   * the ConfigMap): the queue-proxy trusts the activator's mark only when it carries this token.
   */
  readonly internalToken?: string | undefined;
}

/** Throws a ZeroscaleError with code INVALID_CONFIG naming every bad key. Unknown keys are ignored. */
export function parseClusterConfig(
  data: Readonly<Record<string, string>> | undefined,
  options: ConfigOptions,
): ClusterConfig {
  const result = ConfigMapDataSchema.safeParse(data ?? {});
  if (!result.success) {
    const issues = result.error.issues.map((issue) => ({
      path: formatFieldPath(issue.path),
      message: issue.message,
    }));
    throw new ZeroscaleError(INVALID_CONFIG, `ConfigMap ${CONFIG_MAP_NAME}: ${describeIssues(issues)}`);
  }
  const d = result.data;
  const builtin = BUILTIN_SERVING_DEFAULTS;
  const scaling = builtin.scaling;
  const limits = {
    ...(d['queue-proxy-cpu-limit'] === undefined ? {} : { cpu: d['queue-proxy-cpu-limit'] }),
    ...(d['queue-proxy-memory-limit'] === undefined ? {} : { memory: d['queue-proxy-memory-limit'] }),
  };
  return {
    domainSuffix: d['domain-suffix'] ?? 'example.com',
    clusterDomain: d['cluster-domain'] ?? 'cluster.local',
    queueProxy: {
      image: d['queue-proxy-image'] ?? `${IMAGE_REPOSITORY}:${d['image-tag'] ?? options.imageTag}`,
      resources: {
        // Knative asks 25m CPU for its queue-proxy; a Node process needs some memory headroom too.
        requests: {
          cpu: d['queue-proxy-cpu-request'] ?? '25m',
          memory: d['queue-proxy-memory-request'] ?? '64Mi',
        },
        ...(Object.keys(limits).length === 0 ? {} : { limits }),
      },
      ...(options.internalToken ? { internalToken: options.internalToken } : {}),
    },
    ...(d.gateway === undefined
      ? {}
      : { gateway: { namespace: d.gateway.split('/')[0]!, name: d.gateway.split('/')[1]! } }),
    revisionRetention: {
      keepCount: d['revision-retain-count'] ?? DEFAULT_REVISION_RETENTION.keepCount,
      retainForMs:
        d['revision-retain-for'] === undefined
          ? DEFAULT_REVISION_RETENTION.retainForMs
          : (parseDurationMs(d['revision-retain-for']) ?? DEFAULT_REVISION_RETENTION.retainForMs),
    },
    defaults: {
      containerConcurrency: d['container-concurrency'] ?? builtin.containerConcurrency,
      timeoutSeconds: d['timeout-seconds'] ?? builtin.timeoutSeconds,
      scaling: {
        minScale: d['min-scale'] ?? scaling.minScale,
        maxScale: d['max-scale'] ?? scaling.maxScale,
        initialScale: d['initial-scale'] ?? scaling.initialScale,
        activationScale: d['activation-scale'] ?? scaling.activationScale,
        metric: d.metric ?? scaling.metric,
        concurrencyTarget: d['container-concurrency-target-default'] ?? scaling.concurrencyTarget,
        rpsTarget: d['requests-per-second-target-default'] ?? scaling.rpsTarget,
        targetUtilizationPercentage:
          d['target-utilization-percentage'] ?? scaling.targetUtilizationPercentage,
        stableWindow: d['stable-window'] ?? scaling.stableWindow,
        panicWindowPercentage: d['panic-window-percentage'] ?? scaling.panicWindowPercentage,
        panicThresholdPercentage: d['panic-threshold-percentage'] ?? scaling.panicThresholdPercentage,
        scaleDownDelay: d['scale-down-delay'] ?? scaling.scaleDownDelay,
        scaleToZeroPodRetention: d['scale-to-zero-pod-retention'] ?? scaling.scaleToZeroPodRetention,
        targetBurstCapacity: d['target-burst-capacity'] ?? scaling.targetBurstCapacity,
      },
      ...(d['price-per-vcpu-second'] === undefined && d['price-per-gib-second'] === undefined
        ? {}
        : {
            prices: {
              vcpuSecond: d['price-per-vcpu-second'] ?? 0,
              gibSecond: d['price-per-gib-second'] ?? 0,
            },
          }),
    },
  };
}
