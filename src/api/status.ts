// The status of a ServerlessService: what the controller and the autoscaler observed, in the
// conventions of Kubernetes conditions (one per owned part, plus Ready).

import { z } from 'zod';

/** Replica counts are int32 in Kubernetes. */
const replicaCount = (min: number) => z.int().min(min).max(2_147_483_647);

export const SERVING_MODES = ['proxy', 'serve'] as const;
export const ServingModeSchema = z.enum(SERVING_MODES);
/** proxy: the public endpoints are the activators; serve: they are the pods. */
export type ServingMode = z.output<typeof ServingModeSchema>;

export const ConditionStatusSchema = z.enum(['True', 'False', 'Unknown']);
export type ConditionStatus = z.output<typeof ConditionStatusSchema>;

const timestamp = z.string().max(64).meta({ format: 'date-time' });

export const ConditionSchema = z.object({
  type: z.string().min(1).max(316),
  status: ConditionStatusSchema,
  reason: z.string().max(1024).optional().describe('CamelCase reason for the last transition.'),
  message: z.string().max(32_768).optional(),
  lastTransitionTime: timestamp,
  observedGeneration: z.int().min(0).optional(),
});

export type Condition = z.output<typeof ConditionSchema>;

/** Status fields a ServerlessService and a Revision share: each has pods, a mode and an autoscaler. */
const statusFields = {
  observedGeneration: z.int().min(0).optional(),
  conditions: z
    .array(ConditionSchema)
    .max(16)
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] })
    .optional(),
  url: z.string().max(2048).optional().describe('Where clients reach the service.'),
  replicas: z
    .object({
      desired: replicaCount(0).optional(),
      ready: replicaCount(0).optional(),
      actual: replicaCount(0).optional(),
    })
    .optional(),
  replicasSummary: z.string().max(32).optional().describe('"ready/desired", for kubectl get.'),
  mode: ServingModeSchema.optional(),
  autoscaler: z
    .object({
      mode: ServingModeSchema.optional().describe(
        'The mode the autoscaler wants the public endpoints in; the controller programs it and reports status.mode.',
      ),
      desiredScale: replicaCount(0).optional().describe('Pods the autoscaler last decided on.'),
      observedConcurrency: z
        .number()
        .min(0)
        .optional()
        .describe('Stable-window average of requests in flight.'),
      observedRequestsPerSecond: z.number().min(0).optional(),
      panicking: z.boolean().optional(),
      excessBurstCapacity: z.number().optional(),
      lastScaleTime: timestamp.optional(),
      scaleTargetInitialized: z
        .boolean()
        .optional()
        .describe('Whether the ready pods once reached initialScale (a restarted autoscaler reads it back).'),
      warmWindow: z
        .object({ minScale: replicaCount(0), start: timestamp, end: timestamp })
        .optional()
        .describe(
          'The spec.scaling.schedules window in force, or whose pods are starting ahead of it: its floor, opening and close.',
        ),
      nextWarmWindow: timestamp.optional().describe('When the next warm window opens.'),
      budget: z
        .object({
          used: z.number().min(0),
          limit: z.number().min(0),
          unit: z.enum(['replica-seconds', 'cost']),
          window: z.string().max(32),
          cappedAt: replicaCount(0).optional(),
          nextDrop: timestamp.optional(),
        })
        .optional()
        .describe(
          'spec.budget: used of limit in the rolling window; while spent, the cap (action Cap) and when the oldest spending leaves the window.',
        ),
      prediction: z
        .object({
          state: z.enum(['learning', 'learned', 'out-of-range']),
          idleTimes: z.number().int().min(0),
          windows: z
            .array(z.string().max(40))
            .max(8)
            .describe(
              'From the start of an idle period: when a pod is ready and until when, e.g. "17.4s-44.0s".',
            ),
          advice: z.enum(['warm', 'between', 'release']).optional(),
        })
        .optional()
        .describe(
          'spec.scaling.idlePolicy Predictive: the idle times learned, the windows planned from them, and what the current idle period asks for.',
        ),
    })
    .optional()
    .describe('What the autoscaler last observed and decided.'),
};

/** One resolved entry of spec.traffic: the revision it names now, its share, and its tag's URL. */
export const ResolvedTrafficTargetSchema = z.object({
  revisionName: z.string().max(63),
  percent: z.int().min(0).max(100),
  latestRevision: z.boolean().optional(),
  tag: z.string().max(63).optional(),
  url: z.string().max(2048).optional().describe("The tag's own URL."),
});
export type ResolvedTrafficTarget = z.output<typeof ResolvedTrafficTargetSchema>;

export const RolloutStatusSchema = z
  .object({
    fromRevision: z.string().max(63),
    toRevision: z.string().max(63),
    started: timestamp,
    step: z.int().min(0).max(100),
    steps: z.int().min(1).max(100),
  })
  .describe('A gradual rollout under way: the latest-revision share moves from one revision to the other.');
export type RolloutStatus = z.output<typeof RolloutStatusSchema>;

export const RevisionStatusSchema = z
  .object(statusFields)
  .describe('Observed state of a revision, written by the controller and the autoscaler.');
export type RevisionStatus = z.output<typeof RevisionStatusSchema>;

export const ServerlessServiceStatusSchema = z
  .object({
    ...statusFields,
    latestCreatedRevisionName: z.string().max(63).optional(),
    latestReadyRevisionName: z.string().max(63).optional(),
    traffic: z
      .array(ResolvedTrafficTargetSchema)
      .max(20)
      .optional()
      .describe('spec.traffic as routed now, every target resolved to a revision.'),
    trafficSummary: z.string().max(256).optional().describe('The split at a glance, for kubectl get.'),
    rollout: RolloutStatusSchema.optional(),
  })
  .describe('Observed state, written by the controller and the autoscaler.');

export type ServerlessServiceStatus = z.output<typeof ServerlessServiceStatusSchema>;
