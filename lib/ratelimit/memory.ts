import { LRUCache } from "lru-cache";
import {
  RATE_WINDOW_MS,
  requestWindows,
  type AuthVersionCheck,
  type AuthVersionState,
  type RateCheck,
  type RateLimiter,
  type RateOutcome,
  type WindowResult,
  type WindowSpec,
} from "./types";
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
  /** Each account's auth version (publishAuthVersion); one forgotten counts as newer than any remembered principal. */
  private readonly versions = new LRUCache<string, number>({ max: MAX_WINDOWS });
  private lastSweep = 0;

  constructor(readonly now: () => number = Date.now) {}

  async check(c: RateCheck): Promise<RateOutcome> {
    const authVersion = c.authVersion && this.versionState(c.accountId, c.authVersion);
    const [key, account] = this.count(requestWindows(c), authVersion !== "stale");
    return authVersion ? { key: key!, account: account!, authVersion } : { key: key!, account: account! };
  }

  async hit(windows: readonly WindowSpec[]): Promise<WindowResult[]> {
    return this.count(windows, true);
  }

  async publishAuthVersion(accountId: string, version: number): Promise<void> {
    if ((this.versions.get(accountId) ?? -1) < version) this.versions.set(accountId, version);
  }

  private versionState(accountId: string, c: AuthVersionCheck): AuthVersionState {
    const stored = this.versions.get(accountId);
    if (c.fresh) {
      if (stored === undefined || stored < c.version) this.versions.set(accountId, c.version);
      return stored !== undefined && stored > c.version ? "newer" : "current";
    }
    return stored === undefined || stored > c.version ? "stale" : "current";
  }

  /** The windows' results; counted only when `counting` and every window admits it, as one decision. */
  private count(windows: readonly WindowSpec[], counting: boolean): WindowResult[] {
    const t = this.now();
    this.sweep(t);
    const counts = windows.map((w) => this.counts(w.id, t));
    const admits = windows.map((w, i) => usedAt(counts[i]!, t) < w.limit);
    if (counting && admits.every(Boolean)) {
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
