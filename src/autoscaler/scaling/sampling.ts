// Which pods to scrape: all of them when there are few, a random sample when there are many, so
// that one tick costs O(sample) per service however large it grows (Knative's sample_size.go).
// Pure apart from the random source, which is passed in.

/**
 * X = z² · σ² / e², Knative's constants: z = 1.96 (95 % confidence), an assumed population
 * variance σ² = 100 and a margin of error e = 5: 1.96² × 100 / 5² = 15.3664. The finite-population
 * correction then gives n = N·X / (N + X − 1).
 */
const POPULATION_CONSTANT = (1.96 * 1.96 * 100) / (5 * 5);

/** Up to this many pods, every pod is scraped. */
const SCRAPE_ALL_UP_TO = 3;

/**
 * Pods to scrape out of `readyPods`: N when N <= 3, else ceil(N·X / (N + X − 1)), X = 15.3664.
 * N = 5 → 4, 10 → 7, 20 → 9, 50 → 12, 100 → 14, 1000 → 16; it never exceeds 16 (the limit of
 * the formula as N grows is X = 15.37), which bounds the scrape cost per service.
 */
export function sampleSize(readyPods: number): number {
  if (readyPods <= SCRAPE_ALL_UP_TO) return Math.max(0, readyPods);
  return Math.ceil((readyPods * POPULATION_CONSTANT) / (readyPods + POPULATION_CONSTANT - 1));
}

/** Returns a number in [0, 1), like Math.random. */
export type RandomSource = () => number;

/**
 * Chooses `size` distinct items of `items` uniformly at random and writes them to the front of
 * `out` (which is cleared first), without touching `items`. Floyd's algorithm: for j from N − n
 * to N − 1 pick t in [0, j]; take t unless already taken, else take j. n draws, no index array of
 * size N, each n-subset equally likely. With size >= N every item is taken, in order.
 */
export function chooseSample<T>(items: readonly T[], size: number, random: RandomSource, out: T[]): T[] {
  out.length = 0;
  const n = items.length;
  if (size >= n) {
    for (let i = 0; i < n; i++) out.push(items[i]!);
    return out;
  }
  // `taken` holds indices; n is at most 16 here, so a linear search beats a Set.
  const taken: number[] = [];
  for (let j = n - size; j < n; j++) {
    const t = Math.floor(random() * (j + 1));
    taken.push(taken.includes(t) ? j : t);
  }
  for (const index of taken) out.push(items[index]!);
  return out;
}
