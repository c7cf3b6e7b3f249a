import { RATE_WINDOW_MS, type WindowResult, type WindowSpec } from "./types";

/**
 * The sliding-window counter both limiters keep (the algorithm of
 * @upstash/ratelimit's `slidingWindow`): requests are counted per fixed
 * window of RATE_WINDOW_MS, and at time t the window in force counts
 *
 *   floor(previous * (1 - elapsed / RATE_WINDOW_MS)) + current
 *
 * where `elapsed` is how far t is into the current fixed window. From the two
 * counts alone follows, exactly, when quota comes back: that is what the
 * rate-limit headers tell a client (DESIGN 3.4).
 */
export interface WindowCounts {
  /** Start of the fixed window `current` counts, Unix ms (a multiple of RATE_WINDOW_MS). */
  start: number;
  /** Requests counted in the fixed window before it. */
  previous: number;
  /** Requests counted in this fixed window. */
  current: number;
}

export const windowStart = (t: number) => t - (t % RATE_WINDOW_MS);

/** The counts as they stand at `t`, when nothing more is counted after `c` was read. */
export function rolled(c: WindowCounts, t: number): WindowCounts {
  const start = windowStart(t);
  if (start === c.start) return c;
  if (start === c.start + RATE_WINDOW_MS) return { start, previous: c.current, current: 0 };
  return { start, previous: 0, current: 0 };
}

/** Requests the window counts at `t`. */
export function usedAt(c: WindowCounts, t: number): number {
  const r = rolled(c, t);
  return Math.floor(r.previous * (1 - (t - r.start) / RATE_WINDOW_MS)) + r.current;
}

/**
 * The earliest time (Unix ms, at or after `now`) at which the window counts at
 * most `target` requests, if none is counted meanwhile. What is counted never
 * grows as time passes, so a binary search over the two windows it can take
 * finds it. A negative target (a limit of 0) is never met: Infinity.
 */
export function availableAt(c: WindowCounts, now: number, target: number): number {
  if (target < 0) return Infinity;
  if (usedAt(c, now) <= target) return now;
  let lo = now; // used > target here
  let hi = c.start + 2 * RATE_WINDOW_MS; // nothing counted from here on
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (usedAt(c, mid) <= target) hi = mid;
    else lo = mid;
  }
  return hi;
}

/**
 * A window's answer from its counts after the decision (`counts` includes this
 * request when it was admitted): what remains, when the next request would be
 * admitted, and when the whole quota is back.
 */
export function windowResult(counts: WindowCounts, limit: number, now: number, success: boolean): WindowResult {
  const used = usedAt(counts, now);
  return {
    limit,
    remaining: success ? Math.max(0, limit - used) : 0,
    retryAt: availableAt(counts, now, limit - 1),
    reset: availableAt(counts, now, 0),
    success,
  };
}

/**
 * The windows' results at `t` from their counts, without counting anything,
 * when at least one of them refuses; null when all would admit.
 */
export function refusalAt(windows: readonly WindowSpec[], counts: readonly WindowCounts[], t: number): WindowResult[] | null {
  const admits = windows.map((w, i) => usedAt(counts[i]!, t) < w.limit);
  if (admits.every(Boolean)) return null;
  return windows.map((w, i) => windowResult(counts[i]!, w.limit, t, admits[i]!));
}
