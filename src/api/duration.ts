// Go-format durations ("60s", "1m30s", "500ms") as the API writes them: one pattern shared by the
// OpenAPI schema, the CEL rules and the TypeScript parser, so all three accept the same strings.

/**
 * The subset of Go's time.ParseDuration syntax that the API accepts: "0", or one or more
 * "<decimal><unit>" parts with unit ns, us, ms, s, m or h; no sign. Every string it matches is also
 * accepted by CEL's duration(), which uses Go's parser.
 */
// No backslashes, so that it can be quoted verbatim inside a CEL string literal.
export const DURATION_PATTERN = '^(0|([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+)$';

/** Longest duration string accepted; also bounds the cost the apiserver estimates for CEL rules. */
export const DURATION_MAX_LENGTH = 32;

const durationRegExp = new RegExp(DURATION_PATTERN);
const partRegExp = /([0-9]+(?:\.[0-9]+)?)(ns|us|ms|s|m|h)/g;

const msPerUnit: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};

/** True when `text` is a duration the API accepts. */
export function isDuration(text: string): boolean {
  return text.length <= DURATION_MAX_LENGTH && durationRegExp.test(text);
}

/**
 * Milliseconds in a Go-format duration: "1m30s" → 90_000, "1.5s" → 1_500, "0" → 0.
 * Returns undefined for text the API does not accept.
 */
export function parseDurationMs(text: string): number | undefined {
  if (!isDuration(text)) return undefined;
  let ms = 0;
  for (const [, amount, unit] of text.matchAll(partRegExp)) {
    ms += Number(amount) * (msPerUnit[unit ?? ''] ?? Number.NaN);
  }
  // Sub-nanosecond float noise from "1.1ms"-style sums is rounded away at microsecond precision.
  return Math.round(ms * 1_000) / 1_000;
}

/** Formats milliseconds the way the API writes them: 90_000 → "1m30s", 1_500 → "1.5s", 0 → "0s". */
export function formatDurationMs(ms: number): string {
  if (ms === 0) return '0s';
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const seconds = (ms % 60_000) / 1_000;
  return `${hours > 0 ? `${hours}h` : ''}${minutes > 0 ? `${minutes}m` : ''}${seconds > 0 ? `${seconds}s` : ''}`;
}
