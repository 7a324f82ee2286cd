// Chooses the pod for each request the activator forwards, keeping every pod within its
// containerConcurrency, with the policy Knative's throttler uses for that limit.

import { ZeroscaleError } from '../errors.ts';

/** How pods are chosen; follows from containerConcurrency, see `policyFor`. */
export type BalancePolicy = 'least-of-two' | 'first-available' | 'round-robin';

export interface BalancerOptions {
  /** Requests each pod may hold at once; 0 = no limit. */
  readonly containerConcurrency: number;
  /** Uniform in [0, 1); injected so tests are deterministic. Defaults to Math.random. */
  readonly random?: () => number;
}

/**
 * A pod as the balancer tracks it. `pick` hands it out and `release` takes it back; the handle
 * stays valid after the pod is removed, so a request still running on it can be released.
 */
export interface PodSlot {
  readonly id: string;
  /** Requests this activator has on the pod now. */
  readonly inFlight: number;
}

class Pod implements PodSlot {
  readonly id: string;
  inFlight = 0;
  /** False once the pod left the endpoint set; it gets no new requests. */
  active = true;
  constructor(id: string) {
    this.id = id;
  }
}

// Small limits leave little room to spread, and trying pods in a fixed order packs requests onto
// the fewest pods, leaving the others whole for the next request (Knative uses 3 as the cut-off).
const FIRST_AVAILABLE_MAX_CC = 3;

export function policyFor(containerConcurrency: number): BalancePolicy {
  if (containerConcurrency === 0) return 'least-of-two';
  return containerConcurrency <= FIRST_AVAILABLE_MAX_CC ? 'first-available' : 'round-robin';
}

export class Balancer {
  #containerConcurrency: number;
  #policy: BalancePolicy;
  readonly #random: () => number;
  /** Pods that may get new requests, in the order given to `setPods`/`addPod`. */
  #active: Pod[] = [];
  /** Active pods plus removed ones that still have requests in flight (kept so a flapping pod
   * that comes back keeps its count and is not overfilled). */
  readonly #byId = new Map<string, Pod>();
  /** Index of the pod picked last by round robin. */
  #cursor = -1;

  constructor(options: BalancerOptions) {
    this.#containerConcurrency = checkConcurrency(options.containerConcurrency);
    this.#policy = policyFor(this.#containerConcurrency);
    this.#random = options.random ?? Math.random;
  }

  get policy(): BalancePolicy {
    return this.#policy;
  }
  get containerConcurrency(): number {
    return this.#containerConcurrency;
  }
  /** Pods that may get new requests. */
  get podCount(): number {
    return this.#active.length;
  }
  /**
   * Requests the active pods can hold together: what the service's breaker should allow in
   * flight. Unlimited pods give Infinity; no pods give 0, which holds every request.
   */
  get capacity(): number {
    if (this.#active.length === 0) return 0;
    return this.#containerConcurrency === 0
      ? Number.POSITIVE_INFINITY
      : this.#containerConcurrency * this.#active.length;
  }

  /** The pod ids that may get new requests, in order. */
  podIds(): string[] {
    return this.#active.map((pod) => pod.id);
  }

  /** Requests this balancer has on a pod, including a removed pod still finishing requests. */
  inFlightOf(id: string): number {
    return this.#byId.get(id)?.inFlight ?? 0;
  }

  /** Replaces the set of pods. Pods kept keep their counts; removed pods get nothing new. */
  setPods(ids: readonly string[]): void {
    const next: Pod[] = [];
    const seen = new Set<string>();
    for (const id of ids) {
      if (seen.has(id)) continue;
      seen.add(id);
      next.push(this.#activate(id));
    }
    for (const pod of this.#active) {
      if (!seen.has(pod.id)) this.#deactivate(pod);
    }
    this.#active = next;
  }

  addPod(id: string): void {
    if (this.#byId.get(id)?.active) return;
    this.#active.push(this.#activate(id));
  }

  removePod(id: string): void {
    const pod = this.#byId.get(id);
    if (pod === undefined || !pod.active) return;
    this.#deactivate(pod);
    const index = this.#active.indexOf(pod);
    this.#active.splice(index, 1);
    // Keep round robin on the pod after the removed one rather than skipping it.
    if (index <= this.#cursor) this.#cursor--;
  }

  setContainerConcurrency(containerConcurrency: number): void {
    this.#containerConcurrency = checkConcurrency(containerConcurrency);
    this.#policy = policyFor(this.#containerConcurrency);
  }

  /**
   * Reserves a slot on a pod and returns it, or undefined when no pod has room (or there are no
   * pods). The caller must `release` the returned pod exactly once when the request ends.
   */
  pick(): PodSlot | undefined {
    const pod =
      this.#policy === 'least-of-two'
        ? this.#leastOfTwo()
        : this.#policy === 'first-available'
          ? this.#firstAvailable()
          : this.#roundRobin();
    if (pod !== undefined) pod.inFlight++;
    return pod;
  }

  release(slot: PodSlot): void {
    const pod = this.#byId.get(slot.id);
    if (pod !== slot || pod.inFlight <= 0) {
      throw new ZeroscaleError(
        'BALANCER_RELEASE_UNDERFLOW',
        `release of pod ${slot.id} with nothing in flight`,
      );
    }
    pod.inFlight--;
    if (!pod.active && pod.inFlight === 0) this.#byId.delete(pod.id);
  }

  // Power of two choices: nearly as even as least-loaded over all pods, at O(1) per request, and
  // it avoids every activator herding onto the same least-loaded pod.
  #leastOfTwo(): Pod | undefined {
    const pods = this.#active;
    const n = pods.length;
    if (n <= 1) return pods[0];
    const i = Math.floor(this.#random() * n);
    // Second index drawn from the other n - 1 pods, so the two are always distinct.
    let j = Math.floor(this.#random() * (n - 1));
    if (j >= i) j++;
    const a = pods[i]!;
    const b = pods[j]!;
    return b.inFlight < a.inFlight ? b : a;
  }

  #firstAvailable(): Pod | undefined {
    for (const pod of this.#active) {
      if (pod.inFlight < this.#containerConcurrency) return pod;
    }
    return undefined;
  }

  #roundRobin(): Pod | undefined {
    const pods = this.#active;
    const n = pods.length;
    for (let step = 1; step <= n; step++) {
      const index = (this.#cursor + step) % n;
      const pod = pods[index]!;
      if (pod.inFlight < this.#containerConcurrency) {
        this.#cursor = index;
        return pod;
      }
    }
    return undefined;
  }

  #activate(id: string): Pod {
    let pod = this.#byId.get(id);
    if (pod === undefined) {
      pod = new Pod(id);
      this.#byId.set(id, pod);
    }
    pod.active = true;
    return pod;
  }

  #deactivate(pod: Pod): void {
    pod.active = false;
    if (pod.inFlight === 0) this.#byId.delete(pod.id);
  }
}

function checkConcurrency(containerConcurrency: number): number {
  if (Number.isInteger(containerConcurrency) && containerConcurrency >= 0) return containerConcurrency;
  throw new ZeroscaleError(
    'INVALID_OPTIONS',
    `containerConcurrency must be an integer >= 0, got ${containerConcurrency}`,
  );
}
