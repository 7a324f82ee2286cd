// Warm windows (spec.scaling.schedules): when each opens and closes, read in its time zone. The
// CRD checks the shape; here the values are checked (minute 61, an unknown zone), and the window
// in force at a moment is found. Pure: the time is given. Cron math by croner (no dependencies,
// time zones through Intl).

import { Cron } from 'croner';

export interface WarmSchedule {
  readonly cron: string;
  /** IANA name; UTC when the spec leaves it out. */
  readonly timeZone: string;
  readonly durationMs: number;
  readonly minScale: number;
}

export interface WarmWindow {
  readonly startMs: number;
  readonly endMs: number;
  readonly minScale: number;
}

export interface WarmFloor {
  /** The highest minScale of the windows in force (or about to open, within the lead); 0 = none. */
  readonly minScale: number;
  /** The window that sets minScale, if any. */
  readonly window: WarmWindow | undefined;
  /** The next window opening after now (not counting the one in force). */
  readonly nextStartMs: number | undefined;
}

const crons = new Map<string, Cron>();
const MAX_CACHED = 10_000;

function cronOf(schedule: Pick<WarmSchedule, 'cron' | 'timeZone'>): Cron {
  const key = `${schedule.timeZone} ${schedule.cron}`;
  let cron = crons.get(key);
  if (cron === undefined) {
    cron = new Cron(schedule.cron, { timezone: schedule.timeZone, paused: true });
    if (crons.size >= MAX_CACHED) crons.clear();
    crons.set(key, cron);
  }
  return cron;
}

/** Why the cron or time zone cannot be used, or undefined when both can. */
export function warmScheduleProblem(cron: string, timeZone: string): string | undefined {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
  } catch {
    return `unknown time zone "${timeZone}"`;
  }
  try {
    const c = new Cron(cron, { timezone: timeZone, paused: true });
    if (c.nextRun(new Date(0)) === null) return `cron "${cron}" never fires`;
  } catch (err) {
    return `cron "${cron}": ${(err as Error).message.replace(/^CronPattern: /, '')}`;
  }
  return undefined;
}

/**
 * The floor at `nowMs`: a window counts from `leadMs` before it opens (pods take that long to be
 * ready) until it closes. Each schedule's latest opening at or before now + lead is the one that
 * can be in force; a later one would open after the lead. `held`, a window already in force at
 * the last decision, stays until it closes: a lead that shrank meanwhile (a cold start measured)
 * must not switch it off and on again.
 */
export function warmFloor(
  schedules: readonly WarmSchedule[],
  nowMs: number,
  leadMs: number,
  held?: WarmWindow,
): WarmFloor {
  let window = held !== undefined && held.endMs > nowMs ? held : undefined;
  const horizonMs = Math.max(nowMs + leadMs, window?.startMs ?? Number.NEGATIVE_INFINITY);
  let nextStartMs: number | undefined;
  for (const s of schedules) {
    const cron = cronOf(s);
    // previousRuns is strictly before its reference: 1 ms later takes an opening at the horizon.
    const last = cron.previousRuns(1, new Date(nowMs + leadMs + 1))[0]?.getTime();
    if (last !== undefined && last + s.durationMs > nowMs && s.minScale > (window?.minScale ?? 0)) {
      window = { startMs: last, endMs: last + s.durationMs, minScale: s.minScale };
    }
    const next = cron.nextRun(new Date(horizonMs))?.getTime();
    if (next !== undefined && (nextStartMs === undefined || next < nextStartMs)) nextStartMs = next;
  }
  return { minScale: window?.minScale ?? 0, window, nextStartMs };
}
