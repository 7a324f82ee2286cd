// A sliding maximum over the last `windowMs`, kept in 2 s slots as an immutable value: the
// scale-down delay holds the highest desired pod count of its window (Knative's max.TimeWindow).

/** Width of one slot: the autoscaler tick, as in Knative. */
export const MAX_WINDOW_SLOT_MS = 2_000;

export interface MaxWindowEntry {
  /** floor(time / slot width). */
  readonly slot: number;
  readonly value: number;
}

/**
 * Invariant: slots strictly ascending, values strictly descending, every slot within the window
 * of the newest one, so the front is the maximum and the length is at most the slot count
 * (ceil(delay / 2 s): 1800 for the longest delay, 1 h; in practice a handful).
 */
export type MaxWindow = readonly MaxWindowEntry[];

export const emptyMaxWindow: MaxWindow = [];

/** Number of slots a window spans: ceil(windowMs / slot), at least 1. 30 s → 15; 1 s → 1. */
export function maxWindowSlots(windowMs: number, slotMs = MAX_WINDOW_SLOT_MS): number {
  return Math.max(1, Math.ceil(windowMs / slotMs));
}

/**
 * Records `value` at `nowMs` and returns the new window; the old one is left as it was.
 *
 * Descending-maxima algorithm: an older entry not above the new value can never be the maximum
 * again (the new one is at least as large and expires later), so it is dropped; entries older
 * than the window are dropped from the front. Window 6 s (3 slots), values 5, 3, 4 at t = 0, 2,
 * 4 s → entries [5@0, 4@2]; at t = 6 s, 1 → [4@2, 1@3]: the 5 has expired, the maximum is 4.
 * A second value in the same slot keeps the larger of the two. Time that runs backwards is
 * treated as the newest slot, so the invariant holds whatever the caller passes.
 */
export function recordMax(
  window: MaxWindow,
  nowMs: number,
  value: number,
  windowMs: number,
  slotMs = MAX_WINDOW_SLOT_MS,
): MaxWindow {
  const size = maxWindowSlots(windowMs, slotMs);
  const newest = window.at(-1);
  const slot = Math.max(Math.floor(nowMs / slotMs), newest?.slot ?? Number.NEGATIVE_INFINITY);
  if (newest !== undefined && newest.slot === slot && newest.value >= value) {
    return window.filter((entry) => slot - entry.slot < size);
  }
  const kept = window.filter((entry) => slot - entry.slot < size && entry.value > value);
  kept.push({ slot, value });
  return kept;
}

/** The maximum over the window, or undefined when nothing was recorded. */
export function currentMax(window: MaxWindow): number | undefined {
  return window[0]?.value;
}
