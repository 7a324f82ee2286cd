// What a service spends, and its budget (spec.budget): pod-seconds of its ready and terminating
// pods, the CPU- and memory-seconds their requests imply, their cost at the ConfigMap's prices,
// and the requests they served — accrued once a decision, pure, with the clock the caller's.

import type { Prices, ResolvedBudget } from '../api/defaults.ts';
import { parseQuantity } from '../api/quantity.ts';

/** What one pod of a service asks for: its containers' requests plus the queue-proxy's. */
export interface PodRequests {
  readonly cpuCores: number;
  readonly memoryGiB: number;
}

interface ResourceList {
  readonly cpu?: string | number;
  readonly memory?: string | number;
}

/** A container as the API keeps it: its resources unchecked until the pods are made. */
type Container = { readonly [key: string]: unknown };

function resourceList(value: unknown): ResourceList | undefined {
  return typeof value === 'object' && value !== null ? (value as ResourceList) : undefined;
}

const GIB = 2 ** 30;

const quantity = (value: unknown): number =>
  typeof value === 'string' || typeof value === 'number' ? (parseQuantity(value) ?? 0) : 0;

/**
 * Requests of one pod. A container with a limit and no request gets the limit as its request, as
 * the apiserver defaults it; one with neither counts 0 (it is billed nothing, as a scheduler
 * reserves nothing for it).
 */
export function podRequests(
  containers: readonly Container[],
  queueProxy: ResourceList | undefined,
): PodRequests {
  let cpu = 0;
  let memory = 0;
  const add = (requests: ResourceList | undefined, limits: ResourceList | undefined) => {
    cpu += quantity(requests?.cpu ?? limits?.cpu);
    memory += quantity(requests?.memory ?? limits?.memory);
  };
  for (const c of containers) {
    const resources = resourceList(c.resources) as { requests?: unknown; limits?: unknown } | undefined;
    add(resourceList(resources?.requests), resourceList(resources?.limits));
  }
  add(queueProxy, undefined);
  return { cpuCores: Math.max(0, cpu), memoryGiB: Math.max(0, memory) / GIB };
}

/** One decision's worth of spending. */
export interface Spend {
  replicaSeconds: number;
  cpuSeconds: number;
  memoryGiBSeconds: number;
  /** At the prices; 0 without them. */
  cost: number;
  requests: number;
}

/** Longest gap between two decisions that is accrued whole; a longer one (a stall) counts this much. */
const MAX_STEP_MS = 5_000;

/**
 * Accrues between decisions: pods × elapsed time. The pods are those the last read saw, so a
 * step counts what ran since the previous decision at the count it ended with (1 s steps).
 */
export class SpendMeter {
  #lastMs: number | undefined;
  readonly step: Spend = { replicaSeconds: 0, cpuSeconds: 0, memoryGiBSeconds: 0, cost: 0, requests: 0 };

  /** The spend since the last call (the same object, overwritten: no allocation per decision). */
  accrue(
    nowMs: number,
    pods: number,
    requestsPerSecond: number,
    requests: PodRequests,
    prices: Prices | undefined,
  ): Spend {
    const last = this.#lastMs;
    this.#lastMs = nowMs;
    const seconds = last === undefined ? 0 : Math.min(MAX_STEP_MS, Math.max(0, nowMs - last)) / 1_000;
    const s = this.step;
    s.replicaSeconds = pods * seconds;
    s.cpuSeconds = s.replicaSeconds * requests.cpuCores;
    s.memoryGiBSeconds = s.replicaSeconds * requests.memoryGiB;
    s.cost =
      prices === undefined ? 0 : s.cpuSeconds * prices.vcpuSecond + s.memoryGiBSeconds * prices.gibSecond;
    s.requests = requestsPerSecond * seconds;
    return s;
  }
}

/** Slots of a rolling window: the sum moves in steps of a sixtieth of the window. */
const SLOTS = 60;

/** A sum over the last `windowMs`: 60 numbers whatever the window (1 min → 1 s steps, 24 h → 24 min). */
export class RollingSum {
  readonly windowMs: number;
  readonly #slotMs: number;
  readonly #slots = new Float64Array(SLOTS);
  #slot = Number.NaN;
  #total = 0;

  constructor(windowMs: number) {
    this.windowMs = windowMs;
    this.#slotMs = windowMs / SLOTS;
  }

  add(nowMs: number, value: number): void {
    this.#advance(nowMs);
    this.#slots[this.#slot % SLOTS]! += value;
    this.#total += value;
  }

  total(nowMs: number): number {
    this.#advance(nowMs);
    return Math.max(0, this.#total);
  }

  /** When the oldest slot with spending leaves the window: the soonest the sum can drop. */
  nextDropMs(nowMs: number): number {
    this.#advance(nowMs);
    for (let age = SLOTS - 1; age >= 0; age--) {
      if (this.#slots[(this.#slot - age) % SLOTS]! > 0) return (this.#slot - age + SLOTS) * this.#slotMs;
    }
    return nowMs;
  }

  #advance(nowMs: number): void {
    const slot = Math.floor(nowMs / this.#slotMs);
    if (Number.isNaN(this.#slot)) {
      this.#slot = slot;
      return;
    }
    if (slot <= this.#slot) return;
    const steps = Math.min(SLOTS, slot - this.#slot);
    for (let i = 1; i <= steps; i++) {
      const k = (this.#slot + i) % SLOTS;
      this.#total -= this.#slots[k]!;
      this.#slots[k] = 0;
    }
    this.#slot = slot;
  }
}

/** Lifted only once the use is this far under the limit, so a service at the edge does not flap. */
export const BUDGET_LIFT_RATIO = 0.95;

export interface BudgetView {
  readonly used: number;
  readonly limit: number;
  readonly unit: ResolvedBudget['unit'];
  readonly windowMs: number;
  readonly action: ResolvedBudget['action'];
  /** When it was last spent or lifted (or first seen): the condition's transition time. */
  readonly changedAtMs: number | undefined;
  /** While exceeded: since when, the cap applied (Cap), and the soonest it can lift. */
  readonly exceededSinceMs: number | undefined;
  readonly cappedAt: number | undefined;
  readonly earliestLiftMs: number | undefined;
}

/** One service's budget: its rolling use, whether it is spent, and what the autoscaler does then. */
export class BudgetGuard {
  budget: ResolvedBudget;
  #sum: RollingSum;
  #exceededSinceMs: number | undefined;
  #cappedAt: number | undefined;
  #changedAtMs: number | undefined;

  constructor(budget: ResolvedBudget) {
    this.budget = budget;
    this.#sum = new RollingSum(budget.windowMs);
  }

  /** A changed budget: a new window keeps nothing (its slots do not fit); a new limit keeps the use. */
  update(budget: ResolvedBudget): void {
    if (budget.windowMs !== this.budget.windowMs || budget.unit !== this.budget.unit) {
      this.#sum = new RollingSum(budget.windowMs);
    }
    this.budget = budget;
  }

  /**
   * Adds a decision's spend and says whether the budget is spent: at the limit it is; it lifts
   * below BUDGET_LIFT_RATIO × limit. `pods` is the count when it runs out, the default cap.
   */
  observe(nowMs: number, spend: Spend, pods: number): boolean {
    this.#sum.add(nowMs, this.budget.unit === 'cost' ? spend.cost : spend.replicaSeconds);
    const used = this.#sum.total(nowMs);
    this.#changedAtMs ??= nowMs;
    if (this.#exceededSinceMs === undefined) {
      if (used >= this.budget.limit) {
        this.#exceededSinceMs = nowMs;
        this.#changedAtMs = nowMs;
        this.#cappedAt = this.budget.maxScale ?? Math.max(1, pods);
      }
    } else if (used < BUDGET_LIFT_RATIO * this.budget.limit) {
      this.#exceededSinceMs = undefined;
      this.#changedAtMs = nowMs;
      this.#cappedAt = undefined;
    }
    return this.#exceededSinceMs !== undefined;
  }

  get exceeded(): boolean {
    return this.#exceededSinceMs !== undefined;
  }

  /** Cap: the most pods while spent (the budget's maxScale, else the pods when it ran out). */
  get cap(): number | undefined {
    return this.#cappedAt;
  }

  view(nowMs: number): BudgetView {
    return {
      used: this.#sum.total(nowMs),
      limit: this.budget.limit,
      unit: this.budget.unit,
      windowMs: this.budget.windowMs,
      action: this.budget.action,
      changedAtMs: this.#changedAtMs,
      exceededSinceMs: this.#exceededSinceMs,
      cappedAt: this.budget.action === 'Cap' ? this.#cappedAt : undefined,
      earliestLiftMs: this.#exceededSinceMs === undefined ? undefined : this.#sum.nextDropMs(nowMs),
    };
  }
}
