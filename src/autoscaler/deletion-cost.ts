// Idle pods go first when a service scales down. Just before the replicas are lowered, each
// scraped pod's `controller.kubernetes.io/pod-deletion-cost` is set from its requests in flight,
// and the ReplicaSet controller deletes ready pods with the lower cost first. Knative tried to
// choose the pods itself and reverted it (#3886); this asks Kubernetes, with its own mechanism.
// Pure: what to write, and a token bucket that bounds how fast.

export const POD_DELETION_COST_ANNOTATION = 'controller.kubernetes.io/pod-deletion-cost';

/** Cost per request in flight; fractions of a request (an average over 1 s) still rank. */
const COST_PER_REQUEST = 1_000;
/** Well inside the annotation's int32. */
const MAX_COST = 1_000_000;

/** The pod-deletion-cost of a pod with `concurrency` requests in flight (a 1 s average). */
export function deletionCost(concurrency: number): number {
  if (!(concurrency > 0)) return 0;
  return Math.min(MAX_COST, Math.round(concurrency * COST_PER_REQUEST));
}

export interface CostWrite {
  readonly pod: string;
  readonly cost: number;
}

/**
 * The writes a scale-down needs: each pod whose cost differs from the one last written to it (a
 * pod never written has Kubernetes' default, 0). Busiest first, so a write budget that runs out
 * still protects the pods with the most to lose.
 */
export function costWrites(
  loads: ReadonlyMap<string, number>,
  lastWritten: (pod: string) => number | undefined,
): CostWrite[] {
  const writes: CostWrite[] = [];
  for (const [pod, concurrency] of loads) {
    const cost = deletionCost(concurrency);
    if (cost !== (lastWritten(pod) ?? 0)) writes.push({ pod, cost });
  }
  return writes.sort((a, b) => b.cost - a.cost);
}
