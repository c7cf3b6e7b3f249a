import { LRUCache } from "lru-cache";
import { RATE_WINDOW_MS, requestWindows, type RateCheck, type RateLimiter, type RateOutcome, type WindowResult, type WindowSpec } from "./types";
import { refusalAt, rolled, usedAt, windowResult, windowStart, type WindowCounts } from "./window";

/** Identifiers kept at most: far above the live keys, accounts and failure windows of one process; the least recently used go first. */
const MAX_WINDOWS = 100_000;

/**
 * The embedded default: a sliding-window counter per identifier, the same
 * algorithm @upstash/ratelimit's slidingWindow uses (lib/ratelimit/window.ts),
 * kept in this process. Windows idle for two minutes are dropped, and there are
 * never more than MAX_WINDOWS, so memory stays bounded whatever identifiers
 * requests claim.
 */
export class MemoryRateLimiter implements RateLimiter {
  readonly kind = "memory" as const;
  private readonly windows = new LRUCache<string, WindowCounts>({ max: MAX_WINDOWS });
  private lastSweep = 0;

  constructor(readonly now: () => number = Date.now) {}

  async check(c: RateCheck): Promise<RateOutcome> {
    const [key, account] = await this.hit(requestWindows(c));
    return { key: key!, account: account! };
  }

  async hit(windows: readonly WindowSpec[]): Promise<WindowResult[]> {
    const t = this.now();
    this.sweep(t);
    const counts = windows.map((w) => this.counts(w.id, t));
    const admits = windows.map((w, i) => usedAt(counts[i]!, t) < w.limit);
    // Count the request only when every window admits it, as one decision.
    if (admits.every(Boolean)) {
      for (const [i, w] of windows.entries()) {
        const c = { ...counts[i]!, current: counts[i]!.current + 1 };
        counts[i] = c;
        this.windows.set(w.id, c);
      }
    }
    return windows.map((w, i) => windowResult(counts[i]!, w.limit, t, admits[i]!));
  }

  knownRefusal(windows: readonly WindowSpec[]): WindowResult[] | null {
    const t = this.now();
    return refusalAt(windows, windows.map((w) => this.counts(w.id, t)), t);
  }

  private counts(id: string, t: number): WindowCounts {
    const c = this.windows.get(id);
    return c ? rolled(c, t) : { start: windowStart(t), previous: 0, current: 0 };
  }

  private sweep(t: number): void {
    if (t - this.lastSweep < RATE_WINDOW_MS) return;
    this.lastSweep = t;
    for (const [id, w] of this.windows.entries()) if (w.start < t - 2 * RATE_WINDOW_MS) this.windows.delete(id);
  }
}
