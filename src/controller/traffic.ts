// How a ServerlessService's requests are split across its revisions, as pure decisions of (spec,
// revisions, previous status, now): which revision "latest" means, the step a gradual rollout is
// at, which revisions are reachable, and which old ones may be deleted (Knative: the Route's
// traffic configuration, rollout orchestrator and revision GC).

import { tagHost } from '../api/names.ts';
import type { TrafficTarget } from '../api/serverless-service.ts';
import type { ResolvedTrafficTarget, RolloutStatus } from '../api/status.ts';

/** A revision as the decisions need it. */
export interface RevisionView {
  readonly name: string;
  /** The n of "<service>-<n>": higher is newer. */
  readonly number: number;
  /** Its Ready condition is True (pods ready, or at zero after being so). */
  readonly ready: boolean;
  /** When it was made, ms since the epoch. */
  readonly createdMs: number;
  /** When traffic last stopped reaching it (its last-routed annotation); undefined: never noted. */
  readonly lastRoutedMs?: number | undefined;
  /** Whether traffic reached it at the last reconcile (its routing-state label). */
  readonly active: boolean;
}

export interface RolloutPolicy {
  readonly durationMs: number;
  readonly steps: number;
}

export interface TrafficInput {
  readonly serviceName: string;
  readonly namespace: string;
  readonly domainSuffix: string;
  /** spec.traffic; undefined: 100 % to the latest ready revision. */
  readonly traffic: readonly TrafficTarget[] | undefined;
  /** spec.rollout, resolved; undefined or 0 ms: a new latest revision takes its share at once. */
  readonly rollout: RolloutPolicy | undefined;
  readonly revisions: readonly RevisionView[];
  /** What the last reconcile published: status.latestReadyRevisionName and status.rollout. */
  readonly previousLatestReady: string | undefined;
  readonly previousRollout: RolloutStatus | undefined;
  readonly nowMs: number;
}

export interface TrafficProblem {
  readonly reason: 'RevisionMissing' | 'NoRevision';
  readonly message: string;
}

export interface TrafficDecision {
  /** The split as routed now: each spec target resolved (a rolling latest target is two entries). */
  readonly targets: ResolvedTrafficTarget[];
  readonly latestReady: string | undefined;
  readonly rollout: RolloutStatus | undefined;
  /** Revisions some traffic reaches (a share above 0 or a tag). */
  readonly reachable: ReadonlySet<string>;
  readonly problems: readonly TrafficProblem[];
  /** When the rollout takes its next step: the reconcile is to run again then. */
  readonly nextStepAtMs?: number | undefined;
}

const DEFAULT_TRAFFIC: readonly TrafficTarget[] = [{ latestRevision: true, percent: 100 }];
export const DEFAULT_ROLLOUT_STEPS = 5;

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * The latest ready revision: the newest that is ready. With no ready revision at all it is the
 * newest one, so the first requests wait for it as for any cold start. Unlike Knative's
 * LatestReadyRevisionName it can move back: when the newest ready revision stops being ready (its
 * pods crash), traffic for "latest" goes to the one before, which still serves.
 */
export function latestReadyRevision(revisions: readonly RevisionView[]): RevisionView | undefined {
  let newestReady: RevisionView | undefined;
  let newest: RevisionView | undefined;
  for (const r of revisions) {
    if (newest === undefined || r.number > newest.number) newest = r;
    if (r.ready && (newestReady === undefined || r.number > newestReady.number)) newestReady = r;
  }
  return newestReady ?? newest;
}

/** The split of the latest-revision share during a rollout at `nowMs`, or the rollout ended. */
function rolloutStep(
  rollout: RolloutStatus,
  policy: RolloutPolicy,
  nowMs: number,
): { step: number; nextAtMs: number | undefined } {
  const interval = policy.durationMs / rollout.steps;
  const started = Date.parse(rollout.started);
  const step = Math.min(rollout.steps, 1 + Math.floor(Math.max(0, nowMs - started) / interval));
  return { step, nextAtMs: step >= rollout.steps ? undefined : started + step * interval };
}

/** Decides the split. Pure: the same input gives the same decision. */
export function decideTraffic(input: TrafficInput): TrafficDecision {
  const byName = new Map(input.revisions.map((r) => [r.name, r]));
  const problems: TrafficProblem[] = [];
  const previous = input.previousRollout;
  const calledOff =
    previous !== undefined &&
    byName.has(previous.fromRevision) &&
    byName.get(previous.toRevision)?.ready !== true;
  // A rollout called off leaves the old revision the latest ready one until the new one is ready.
  const latest = calledOff ? byName.get(previous.fromRevision) : latestReadyRevision(input.revisions);
  if (latest === undefined) {
    return {
      targets: [],
      latestReady: undefined,
      rollout: undefined,
      reachable: new Set(),
      problems: [{ reason: 'NoRevision', message: 'no revision exists yet' }],
    };
  }
  const rollout = calledOff ? undefined : decideRollout(input, latest, byName);
  const step =
    rollout === undefined || input.rollout === undefined
      ? undefined
      : rolloutStep(rollout, input.rollout, input.nowMs);
  const done = step !== undefined && step.step >= (rollout?.steps ?? 0);
  const targets: ResolvedTrafficTarget[] = [];
  for (const t of input.traffic ?? DEFAULT_TRAFFIC) {
    const percent = t.percent ?? 0;
    const tagged = (name: string): ResolvedTrafficTarget => ({
      revisionName: name,
      percent,
      ...(t.latestRevision === true ? { latestRevision: true } : {}),
      ...(t.tag === undefined
        ? {}
        : {
            tag: t.tag,
            url: `http://${tagHost(t.tag, input.serviceName, input.namespace, input.domainSuffix)}`,
          }),
    });
    if (t.latestRevision === true) {
      if (rollout !== undefined && step !== undefined && !done) {
        // The new revision's share grows by steps; a tag stays with the revision taking over.
        const moved = Math.round((percent * step.step) / rollout.steps);
        targets.push({
          ...tagged(rollout.fromRevision),
          percent: percent - moved,
          tag: undefined,
          url: undefined,
        });
        targets.push({ ...tagged(rollout.toRevision), percent: moved });
      } else {
        targets.push(tagged(latest.name));
      }
      continue;
    }
    const name = t.revisionName!;
    if (!byName.has(name)) {
      problems.push({
        reason: 'RevisionMissing',
        message: `spec.traffic names revision ${name}, which does not exist`,
      });
      continue;
    }
    targets.push(tagged(name));
  }
  const clean = targets.map(dropUndefined);
  const reachable = new Set<string>();
  for (const t of clean) if (t.percent > 0 || t.tag !== undefined) reachable.add(t.revisionName);
  return {
    targets: clean,
    latestReady: latest.name,
    rollout: done
      ? undefined
      : rollout === undefined || step === undefined
        ? undefined
        : { ...rollout, step: step.step },
    reachable,
    problems,
    ...(done || step?.nextAtMs === undefined ? {} : { nextStepAtMs: step.nextAtMs }),
  };
}

/**
 * The rollout under way, if any: one starts when the latest ready revision moves on while a
 * rollout duration is set; it ends when its last step is reached, and it is called off (all of
 * the share back on the old revision) when the new revision stops being ready or goes away.
 */
function decideRollout(
  input: TrafficInput,
  latest: RevisionView,
  byName: ReadonlyMap<string, RevisionView>,
): RolloutStatus | undefined {
  const policy = input.rollout;
  if (policy === undefined || policy.durationMs <= 0) return undefined;
  const usesLatest = (input.traffic ?? DEFAULT_TRAFFIC).some((t) => t.latestRevision === true);
  if (!usesLatest) return undefined;
  const previous = input.previousRollout;
  if (previous !== undefined) {
    const to = byName.get(previous.toRevision);
    const from = byName.get(previous.fromRevision);
    if (to?.ready === true && from !== undefined && latest.name === to.name) return previous;
  }
  const before = input.previousLatestReady;
  if (before === undefined || before === latest.name || !byName.has(before) || !latest.ready)
    return undefined;
  return {
    fromRevision: before,
    toRevision: latest.name,
    started: iso(input.nowMs),
    step: 1,
    steps: policy.steps,
  };
}

function dropUndefined(t: ResolvedTrafficTarget): ResolvedTrafficTarget {
  return Object.fromEntries(Object.entries(t).filter(([, v]) => v !== undefined)) as ResolvedTrafficTarget;
}

/** "hello-1=90,hello-2=10 (+canary)": the split for kubectl get. */
export function trafficSummary(targets: readonly ResolvedTrafficTarget[]): string {
  const shares = new Map<string, number>();
  for (const t of targets)
    if (t.percent > 0) shares.set(t.revisionName, (shares.get(t.revisionName) ?? 0) + t.percent);
  const tags = targets.filter((t) => t.tag !== undefined).map((t) => t.tag);
  const split = [...shares].map(([n, p]) => `${n}=${p}`).join(',');
  return (tags.length === 0 ? split : `${split} (+${tags.join(',')})`).slice(0, 256);
}

export interface RetentionPolicy {
  /** Unrouted revisions kept however old, newest first (Knative: min-non-active-revisions). */
  readonly keepCount: number;
  /** Beyond those, an unrouted revision is kept this long after traffic last reached it. */
  readonly retainForMs: number;
}

/**
 * The revisions to delete: not reachable, not the latest created or latest ready, beyond the
 * newest `keepCount` of the unrouted ones, and unrouted for longer than `retainForMs`.
 */
export function revisionsToCollect(
  revisions: readonly RevisionView[],
  keep: {
    readonly reachable: ReadonlySet<string>;
    readonly latestCreated?: string;
    readonly latestReady?: string;
    readonly rolloutFrom?: string;
  },
  policy: RetentionPolicy,
  nowMs: number,
): string[] {
  const unrouted = revisions
    .filter(
      (r) =>
        !keep.reachable.has(r.name) &&
        r.name !== keep.latestCreated &&
        r.name !== keep.latestReady &&
        r.name !== keep.rolloutFrom,
    )
    .sort((a, b) => b.number - a.number);
  return (
    unrouted
      .slice(policy.keepCount)
      // One routed until this reconcile has its retention start now (its annotation comes with it).
      .filter((r) => !r.active && nowMs - (r.lastRoutedMs ?? r.createdMs) >= policy.retainForMs)
      .map((r) => r.name)
  );
}
