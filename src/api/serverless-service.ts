// The ServerlessService API (serving.zeroscale.dev/v1alpha1): one zod definition that is the
// source of the TypeScript types, the runtime validation and the CRD's OpenAPI schema and CEL rules.

import { z } from 'zod';
import { type CelRule, withCelRules } from './cel.ts';
import { DURATION_MAX_LENGTH, DURATION_PATTERN, parseDurationMs } from './duration.ts';
import { QUEUE_PROXY_CONTAINER_NAME, RESERVED_CONTAINER_PORTS } from './queue-proxy.ts';
import { ServerlessServiceStatusSchema } from './status.ts';

export const GROUP = 'serving.zeroscale.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'ServerlessService';
export const LIST_KIND = 'ServerlessServiceList';
export const PLURAL = 'serverlessservices';
export const SINGULAR = 'serverlessservice';
export const SHORT_NAMES: readonly string[] = ['ssvc'];

export const MAX_INT32 = 2_147_483_647;
/** Bounds on lists that CEL rules iterate: without them the apiserver refuses the rules' cost. */
export const MAX_CONTAINERS = 16;
export const MAX_CONTAINER_PORTS = 8;
/** A Service name is a DNS-1035 label of at most 63 characters, and ours get "-private" appended. */
export const MAX_SERVICE_NAME_LENGTH = 55;

const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS_1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

// --- building blocks ---------------------------------------------------------------------------

/**
 * A Go-format duration string within [min, max], e.g. durationSchema('spec.scaling.stableWindow',
 * '6s', '1h'). The pattern is in the OpenAPI schema; the range is a CEL rule, guarded by the same
 * pattern so that a malformed string reports only the pattern error and never a CEL evaluation error.
 */
export function durationSchema(field: string, min: string, max: string) {
  const minMs = parseDurationMs(min);
  const maxMs = parseDurationMs(max);
  if (minMs === undefined || maxMs === undefined) throw new Error(`bad duration bounds ${min}..${max}`);
  const rule: CelRule<string> = {
    rule: `!self.matches('${DURATION_PATTERN}') || (duration(self) >= duration('${min}') && duration(self) <= duration('${max}'))`,
    message: `${field} must be a duration between ${min} and ${max}`,
    holds: (text) => {
      const ms = parseDurationMs(text);
      return ms !== undefined && ms >= minMs && ms <= maxMs;
    },
  };
  const text = z
    .string()
    .max(DURATION_MAX_LENGTH)
    .regex(new RegExp(DURATION_PATTERN), `${field} must be a duration such as "60s", "1m30s" or "500ms"`);
  return withCelRules(text, [rule]);
}

const replicaCount = (min: number) => z.int().min(min).max(MAX_INT32);

/** Allowed ranges of the scaling durations, as Knative's (window [6s, 1h]; delay and retention [0, 1h]). */
export const DURATION_RANGES = {
  stableWindow: ['6s', '1h'],
  scaleDownDelay: ['0s', '1h'],
  scaleToZeroPodRetention: ['0s', '1h'],
} as const;

// --- spec.scaling ------------------------------------------------------------------------------

export const SCALING_METRICS = ['concurrency', 'rps'] as const;
export const ScalingMetricSchema = z.enum(SCALING_METRICS);
export type ScalingMetric = z.output<typeof ScalingMetricSchema>;

/**
 * Field schemas of spec.scaling, shared with the ConfigMap parser (cluster-config.ts) so that a
 * default can never be a value the API would refuse.
 */
export const IDLE_POLICIES = ['Fixed', 'Predictive'] as const;
export type IdlePolicyName = (typeof IDLE_POLICIES)[number];

export const scalingFields = {
  minScale: replicaCount(0).describe('Fewest pods, also while idle. 0 allows scale to zero.'),
  maxScale: replicaCount(0).describe('Most pods; 0 means the cluster default cap (none by default).'),
  initialScale: replicaCount(0).describe('Pods created with the service, before any traffic.'),
  activationScale: replicaCount(1).describe('Pods started at once when a request arrives at zero pods.'),
  metric: ScalingMetricSchema.describe(
    'Metric the autoscaler scales on: in-flight requests or requests per second.',
  ),
  // The CEL rule backs up `minimum`: the apiserver compares an integer value (a YAML `0`) with
  // the minimum truncated to an integer, so `target: 0` would pass the OpenAPI check alone.
  target: withCelRules(z.number().min(0.01), [
    { rule: 'self > 0.0', message: 'spec.scaling.target must be > 0', holds: (value) => value > 0 },
  ]).describe(
    'Per-pod value of the metric to aim at. Default: containerConcurrency, else the cluster default.',
  ),
  targetUtilizationPercentage: z
    .number()
    .min(1)
    .max(100)
    .describe('Share of target aimed at, leaving headroom for bursts.'),
  stableWindow: durationSchema('spec.scaling.stableWindow', ...DURATION_RANGES.stableWindow).describe(
    'Window over which the metric is averaged for scaling decisions.',
  ),
  panicWindowPercentage: z
    .number()
    .min(1)
    .max(100)
    .describe('Panic window as a percentage of the stable window.'),
  panicThresholdPercentage: z
    .number()
    .min(110)
    .max(1000)
    .describe('Load, as a percentage of current capacity, over the panic window that starts panic mode.'),
  scaleDownDelay: durationSchema('spec.scaling.scaleDownDelay', ...DURATION_RANGES.scaleDownDelay).describe(
    'How long a lower pod count must be wanted before scaling down to it.',
  ),
  scaleToZeroPodRetention: durationSchema(
    'spec.scaling.scaleToZeroPodRetention',
    ...DURATION_RANGES.scaleToZeroPodRetention,
  ).describe('How long the last pod is kept after the service went idle.'),
  targetBurstCapacity: withCelRules(z.number().min(-1), [
    {
      rule: 'self == -1.0 || self >= 0.0',
      message: 'spec.scaling.targetBurstCapacity must be >= 0, or -1 for unlimited',
      holds: (value) => value === -1 || value >= 0,
    },
  ]).describe(
    'Spare request capacity kept before the activator leaves the request path; 0 = never in path when warm, -1 = always.',
  ),
  idlePolicy: z
    .enum(IDLE_POLICIES)
    .describe(
      "When pods are kept or started while the service is idle. Fixed: the KPA's stable window and grace (Knative). Predictive: learned from the service's own idle times, keeping a pod through short gaps, letting it go at once after the last expected request, and starting one a cold start before the next.",
    ),
};

/** Five cron fields, one space apart (minute hour day-of-month month day-of-week); values are
 * checked when the service is resolved (defaults.ts), and a bad one reported in status. */
export const CRON_PATTERN = '^[0-9A-Za-z*?#/,-]+( [0-9A-Za-z*?#/,-]+){4}$';
const TIME_ZONE_PATTERN = '^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$';
export const MAX_SCHEDULES = 10;

export const WarmScheduleSchema = z
  .object({
    cron: z
      .string()
      .max(100)
      .regex(
        new RegExp(CRON_PATTERN),
        'spec.scaling.schedules[].cron must be five cron fields, e.g. "30 8 * * 1-5"',
      )
      .describe('When each window opens: minute hour day-of-month month day-of-week.'),
    timeZone: z
      .string()
      .max(64)
      .regex(
        new RegExp(TIME_ZONE_PATTERN),
        'spec.scaling.schedules[].timeZone must be an IANA time zone such as "Europe/Berlin"',
      )
      .optional()
      .describe('IANA time zone the cron is read in; default UTC.'),
    duration: durationSchema('spec.scaling.schedules[].duration', '1s', '168h').describe(
      'How long each window lasts.',
    ),
    minScale: replicaCount(1).describe('Fewest pods while the window lasts (ready when it opens).'),
  })
  .describe('A warm window: from each time the cron names, for duration, at least minScale pods.');

const scalingObject = z
  .object({
    ...scalingFields,
    schedules: z
      .array(WarmScheduleSchema)
      .max(MAX_SCHEDULES)
      .describe(
        "Warm windows. Pods are started ahead of each window by the service's measured cold-start time, so they are ready when it opens.",
      ),
  })
  .partial();

/** initialScale must be inside [minScale, maxScale]; maxScale 0 has no upper bound. */
const scalingRules: CelRule<z.output<typeof scalingObject>>[] = [
  {
    rule: '!has(self.minScale) || !has(self.maxScale) || self.maxScale == 0 || self.minScale <= self.maxScale',
    message: 'spec.scaling.minScale must be <= spec.scaling.maxScale',
    fieldPath: '.minScale',
    holds: (s) => s.minScale === undefined || !s.maxScale || s.minScale <= s.maxScale,
  },
  {
    rule: '!has(self.initialScale) || !has(self.maxScale) || self.maxScale == 0 || self.initialScale <= self.maxScale',
    message: 'spec.scaling.initialScale must be <= spec.scaling.maxScale',
    fieldPath: '.initialScale',
    holds: (s) => s.initialScale === undefined || !s.maxScale || s.initialScale <= s.maxScale,
  },
  {
    rule: '!has(self.initialScale) || !has(self.minScale) || self.initialScale >= self.minScale',
    message: 'spec.scaling.initialScale must be >= spec.scaling.minScale',
    fieldPath: '.initialScale',
    holds: (s) => s.initialScale === undefined || s.minScale === undefined || s.initialScale >= s.minScale,
  },
  {
    rule: '!has(self.activationScale) || !has(self.maxScale) || self.maxScale == 0 || self.activationScale <= self.maxScale',
    message: 'spec.scaling.activationScale must be <= spec.scaling.maxScale',
    fieldPath: '.activationScale',
    holds: (s) => s.activationScale === undefined || !s.maxScale || s.activationScale <= s.maxScale,
  },
];

export const ScalingSchema = withCelRules(scalingObject, scalingRules).describe(
  'How the service scales; fields left out take the cluster defaults.',
);

// --- spec.template -----------------------------------------------------------------------------

const reservedPorts = RESERVED_CONTAINER_PORTS.join(', ');

export const ContainerPortSchema = z.looseObject({
  containerPort: withCelRules(z.int().min(1).max(65_535), [
    {
      rule: `!(self in [${reservedPorts}])`,
      message: `spec.template.spec.containers[].ports[].containerPort must not be one of ${reservedPorts} (reserved for the queue-proxy)`,
      reason: 'FieldValueForbidden',
      holds: (port) => !RESERVED_CONTAINER_PORTS.includes(port),
    },
  ]),
  name: z.string().min(1).max(15).regex(DNS_1123_LABEL).optional(),
  protocol: z.literal('TCP').optional(),
});

export const ContainerSchema = z
  .looseObject({
    name: withCelRules(z.string().min(1).max(63).regex(DNS_1123_LABEL), [
      {
        rule: `self != '${QUEUE_PROXY_CONTAINER_NAME}'`,
        message: `spec.template.spec.containers[].name must not be ${QUEUE_PROXY_CONTAINER_NAME} (reserved for the injected sidecar)`,
        reason: 'FieldValueForbidden',
        holds: (name) => name !== QUEUE_PROXY_CONTAINER_NAME,
      },
    ]).optional(),
    image: z.string().min(1),
    ports: withCelRules(z.array(ContainerPortSchema).max(MAX_CONTAINER_PORTS), [
      {
        rule: 'size(self) <= 1',
        message: 'spec.template.spec.containers[].ports must list exactly one port: the serving port',
        holds: (ports) => ports.length <= 1,
      },
    ]).optional(),
  })
  .describe('A container; only name, image and ports are checked here, the rest when the pods are made.');

export type Container = z.output<typeof ContainerSchema>;

const hasPorts = (container: Container): boolean => (container.ports?.length ?? 0) > 0;

export const PodSpecSchema = withCelRules(
  z.looseObject({ containers: z.array(ContainerSchema).min(1).max(MAX_CONTAINERS) }),
  [
    {
      rule: 'self.containers.filter(c, has(c.ports) && size(c.ports) > 0).size() == 1',
      message:
        'spec.template.spec.containers must have exactly one container with ports: the serving container',
      fieldPath: '.containers',
      holds: (spec) => spec.containers.filter(hasPorts).length === 1,
    },
    {
      rule: 'size(self.containers) == 1 || self.containers.all(c, has(c.name))',
      message: 'spec.template.spec.containers[].name is required when there is more than one container',
      fieldPath: '.containers',
      reason: 'FieldValueRequired',
      holds: (spec) => spec.containers.length === 1 || spec.containers.every((c) => c.name !== undefined),
    },
  ],
).describe('A Kubernetes PodSpec, validated in full when the Deployment is made.');

export type PodSpec = z.output<typeof PodSpecSchema>;

const stringMap = z.record(z.string(), z.string());

/** Longest revision name: it must leave room for "-private" in a 63-character Service name. */
export const MAX_REVISION_NAME_LENGTH = MAX_SERVICE_NAME_LENGTH;

export const RevisionNameSchema = z
  .string()
  .min(1)
  .max(MAX_REVISION_NAME_LENGTH)
  .regex(DNS_1035_LABEL, 'a revision name must be a DNS-1035 label: lowercase letters, digits and "-"');

export const PodTemplateSchema = z.object({
  metadata: z
    .object({
      name: RevisionNameSchema.optional().describe(
        'Name of the revision this template stamps; by default <service>-<n>. A second, different template under the same name is refused.',
      ),
      labels: stringMap.optional(),
      annotations: stringMap.optional(),
    })
    .optional()
    .describe('Labels and annotations for the pods, and optionally the name of the revision.'),
  spec: PodSpecSchema,
});

export type PodTemplate = z.output<typeof PodTemplateSchema>;

// --- spec --------------------------------------------------------------------------------------

// --- spec.budget -------------------------------------------------------------------------------

export const BUDGET_ACTIONS = ['Cap', 'Reject'] as const;
export type BudgetAction = (typeof BUDGET_ACTIONS)[number];

const budgetObject = z.object({
  window: durationSchema('spec.budget.window', '1m', '744h').describe(
    'The rolling window the budget is spent over, e.g. "1h" or "24h" (1m–744h).',
  ),
  replicaSeconds: z
    .number()
    .gt(0)
    .optional()
    .describe('Most pod-seconds (ready and terminating pods) the service may use in the window.'),
  cost: z
    .number()
    .gt(0)
    .optional()
    .describe(
      "Most cost in the window, from the pods' CPU and memory requests at the prices of the zeroscale-config ConfigMap (price-per-vcpu-second, price-per-gib-second).",
    ),
  action: z
    .enum(BUDGET_ACTIONS)
    .optional()
    .describe(
      'While the budget is spent. Cap (default): no more than maxScale pods, every request still served. Reject: scale to zero, and the activators answer 429 with the reason until the window rolls.',
    ),
  maxScale: replicaCount(1)
    .optional()
    .describe(
      'Cap only: most pods while the budget is spent; default the pods it had when the budget ran out.',
    ),
});

export const BudgetSchema = withCelRules(budgetObject, [
  {
    rule: 'has(self.replicaSeconds) != has(self.cost)',
    message: 'spec.budget must set exactly one of replicaSeconds and cost',
    holds: (b) => (b.replicaSeconds === undefined) !== (b.cost === undefined),
  },
  {
    rule: "!has(self.maxScale) || !has(self.action) || self.action == 'Cap'",
    message: 'spec.budget.maxScale applies to action Cap only',
    fieldPath: '.maxScale',
    holds: (b) => b.maxScale === undefined || b.action === undefined || b.action === 'Cap',
  },
]).describe(
  'A cap on what the service may spend per rolling window; when it is reached the service is held (Cap) or refused (Reject) until the window rolls.',
);

/** What a revision runs: the fields a ServerlessService and each of its Revisions share. */
const runtimeFields = {
  template: PodTemplateSchema.describe(
    'The pods to run: exactly one serving container with one port, plus any other containers.',
  ),
  containerConcurrency: z
    .int()
    .min(0)
    .max(1000)
    .optional()
    .describe('Most requests in flight per pod; 0 = no limit.'),
  timeoutSeconds: z
    .int()
    .min(1)
    .max(3600)
    .optional()
    .describe('Deadline for a whole request, including time queued while the service wakes up.'),
  scaling: ScalingSchema.optional(),
  budget: BudgetSchema.optional(),
};

/** A Revision's spec: its template is frozen when stamped; the other fields follow the service. */
export const RevisionSpecSchema = z.object(runtimeFields).describe('What a revision runs.');
export type RevisionSpec = z.output<typeof RevisionSpecSchema>;

// --- spec.traffic and spec.rollout -------------------------------------------------------------

export const MAX_TRAFFIC_TARGETS = 20;

export const TrafficTargetSchema = withCelRules(
  z.object({
    revisionName: RevisionNameSchema.optional().describe('The revision this target sends to.'),
    latestRevision: z
      .boolean()
      .optional()
      .describe('true: send to the latest ready revision, whichever it is (not with revisionName).'),
    percent: z.int().min(0).max(100).optional().describe("Share of the service's requests; 0 when left out."),
    tag: z
      .string()
      .min(1)
      .max(30)
      .regex(DNS_1035_LABEL, 'a tag must be a DNS-1035 label: lowercase letters, digits and "-"')
      .optional()
      .describe('Gives the target its own host, <tag>-<service>.<namespace>.<domain>, that reaches only it.'),
  }),
  [
    {
      rule: '!(has(self.revisionName) && has(self.latestRevision) && self.latestRevision)',
      message: 'spec.traffic[].revisionName and spec.traffic[].latestRevision: true exclude each other',
      fieldPath: '.latestRevision',
      reason: 'FieldValueForbidden',
      holds: (t) => !(t.revisionName !== undefined && t.latestRevision === true),
    },
    {
      rule: 'has(self.revisionName) || (has(self.latestRevision) && self.latestRevision)',
      message: 'spec.traffic[] needs a revisionName or latestRevision: true',
      fieldPath: '.revisionName',
      reason: 'FieldValueRequired',
      holds: (t) => t.revisionName !== undefined || t.latestRevision === true,
    },
  ],
);
export type TrafficTarget = z.output<typeof TrafficTargetSchema>;

export const TrafficSchema = withCelRules(z.array(TrafficTargetSchema).min(1).max(MAX_TRAFFIC_TARGETS), [
  {
    rule: 'self.map(t, has(t.percent) ? t.percent : 0).sum() == 100',
    message: 'spec.traffic[].percent must sum to 100',
    holds: (ts) => ts.reduce((sum, t) => sum + (t.percent ?? 0), 0) === 100,
  },
  {
    rule: 'self.filter(t, has(t.tag)).all(t, self.filter(u, has(u.tag) && u.tag == t.tag).size() == 1)',
    // No reason "FieldValueDuplicate": kubectl would print "Duplicate value" without the message.
    message: 'spec.traffic[].tag must be unique',
    holds: (ts) => {
      const tags = ts.flatMap((t) => (t.tag === undefined ? [] : [t.tag]));
      return new Set(tags).size === tags.length;
    },
  },
]).describe('How requests are split across revisions; left out: 100 % to the latest ready revision.');

export const RolloutSchema = z
  .object({
    duration: durationSchema('spec.rollout.duration', '0s', '24h').describe(
      'How long moving the latest-revision share to a newly ready revision takes; 0s moves it at once.',
    ),
    steps: z
      .int()
      .min(1)
      .max(100)
      .optional()
      .describe('In how many equal steps the share moves (default 5).'),
  })
  .describe("Gradual rollout of a new latest revision, as Knative's rollout-duration.");
export type RolloutSpec = z.output<typeof RolloutSchema>;

export const ServerlessServiceSpecSchema = z
  .object({
    ...runtimeFields,
    traffic: TrafficSchema.optional(),
    rollout: RolloutSchema.optional(),
  })
  .describe('The desired state of a ServerlessService.');

export type ServerlessServiceSpec = z.output<typeof ServerlessServiceSpecSchema>;

// --- the resource ------------------------------------------------------------------------------

export const ServiceNameSchema = z
  .string()
  .min(1)
  .max(MAX_SERVICE_NAME_LENGTH)
  .regex(DNS_1035_LABEL, 'metadata.name must be a DNS-1035 label: lowercase letters, digits and "-"');

export const ObjectMetaSchema = z.looseObject({
  name: ServiceNameSchema,
  namespace: z.string().optional(),
  uid: z.string().optional(),
  generation: z.int().optional(),
  resourceVersion: z.string().optional(),
  labels: stringMap.optional(),
  annotations: stringMap.optional(),
});

export const ServerlessServiceSchema = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(KIND),
  metadata: ObjectMetaSchema,
  spec: ServerlessServiceSpecSchema,
  status: ServerlessServiceStatusSchema.optional(),
});

export type ServerlessService = z.output<typeof ServerlessServiceSchema>;
export type ScalingSpec = z.output<typeof ScalingSchema>;
