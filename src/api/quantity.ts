// Kubernetes resource quantities as numbers ("250m" → 0.25, "64Mi" → 67108864, "1e3" → 1000), for
// the cost accounting of a pod's CPU and memory requests. The grammar is the apiserver's; anything
// else gives undefined, and the caller counts nothing for it.

export const QUANTITY_PATTERN =
  /^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(([KMGTPE]i)|[numkMGTPE]|[eE][+-]?[0-9]+)?$/;

const SUFFIX: Readonly<Record<string, number>> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

export function parseQuantity(text: string | number | undefined): number | undefined {
  if (typeof text === 'number') return Number.isFinite(text) ? text : undefined;
  if (text === undefined) return undefined;
  const t = text.trim();
  const match = QUANTITY_PATTERN.exec(t);
  if (match === null) return undefined;
  const number = match[1]!;
  const suffix = match[3];
  const sign = t.startsWith('-') ? -1 : 1;
  if (suffix === undefined) return sign * Number(number);
  if (suffix[0] === 'e' || suffix[0] === 'E') return sign * Number(`${number}${suffix}`);
  return sign * Number(number) * SUFFIX[suffix]!;
}
