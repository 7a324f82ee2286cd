// Does a live object already carry everything we would apply? Then applying again changes nothing
// and the call can be skipped. Only the fields we set are compared; the apiserver's defaults and
// other managers' fields are ignored.

export function containsDesired(desired: unknown, actual: unknown): boolean {
  if (desired === actual) return true;
  if (desired === null || typeof desired !== 'object') return desired === actual;
  if (actual === null || typeof actual !== 'object') return false;
  if (Array.isArray(desired)) {
    if (!Array.isArray(actual) || actual.length !== desired.length) return false;
    return desired.every((d, i) => containsDesired(d, actual[i]));
  }
  if (Array.isArray(actual)) return false;
  const a = actual as Record<string, unknown>;
  for (const [k, v] of Object.entries(desired as Record<string, unknown>)) {
    if (v === undefined) continue;
    if (!containsDesired(v, a[k])) return false;
  }
  return true;
}
