import { RATE_WINDOW_MS, type RateCheck, type RateLimiter, type RateOutcome, type WindowResult } from "./types";

/**
 * The embedded default: a sliding-window counter per identifier, the same
 * algorithm @upstash/ratelimit's slidingWindow uses, kept in this process.
 * Old windows are dropped as they expire, so memory stays bounded by the number
 * of identifiers active in the last two minutes.
 */
export class MemoryRateLimiter implements RateLimiter {
  readonly kind = "memory" as const;
  private readonly windows = new Map<string, { start: number; current: number; previous: number }>();
  private lastSweep = 0;

  constructor(private readonly now: () => number = Date.now) {}

  async check(c: RateCheck): Promise<RateOutcome> {
    const t = this.now();
    this.sweep(t);
    const keyId = `key:${c.keyId}:${c.rateClass}`;
    const accountId = `account:${c.accountId}`;
    const key = this.peek(keyId, c.keyLimit, t);
    const account = this.peek(accountId, c.accountLimit, t);
    // Count the request only when both windows admit it, as one decision.
    if (key.success && account.success) {
      this.hit(keyId, t);
      this.hit(accountId, t);
    }
    return { key: this.finish(key, key.success && account.success), account: this.finish(account, key.success && account.success) };
  }

  private finish(w: WindowResult & { used: number }, counted: boolean): WindowResult {
    const remaining = counted ? Math.max(0, w.limit - w.used - 1) : Math.max(0, w.limit - w.used);
    return { limit: w.limit, remaining: w.success ? remaining : 0, reset: w.reset, success: w.success };
  }

  private peek(id: string, limit: number, t: number): WindowResult & { used: number } {
    const start = t - (t % RATE_WINDOW_MS);
    const w = this.roll(id, start);
    const weight = 1 - (t - start) / RATE_WINDOW_MS;
    const used = Math.floor(w.previous * weight) + w.current;
    return { limit, used, reset: start + RATE_WINDOW_MS, success: used < limit, remaining: 0 };
  }

  private hit(id: string, t: number): void {
    const w = this.roll(id, t - (t % RATE_WINDOW_MS));
    w.current += 1;
  }

  private roll(id: string, start: number) {
    let w = this.windows.get(id);
    if (!w) {
      w = { start, current: 0, previous: 0 };
      this.windows.set(id, w);
    } else if (w.start !== start) {
      w.previous = w.start === start - RATE_WINDOW_MS ? w.current : 0;
      w.current = 0;
      w.start = start;
    }
    return w;
  }

  private sweep(t: number): void {
    if (t - this.lastSweep < RATE_WINDOW_MS) return;
    this.lastSweep = t;
    for (const [id, w] of this.windows) if (w.start < t - 2 * RATE_WINDOW_MS) this.windows.delete(id);
  }
}
