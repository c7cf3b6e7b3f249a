/** Rate classes (DESIGN 3.3): read = GET; heavy = starts an operation; write = any other mutation. */
export const RATE_CLASSES = ["read", "write", "heavy"] as const;
export type RateClass = (typeof RATE_CLASSES)[number];

/** Every window is one minute long; the limits in the plans table are per minute. */
export const RATE_WINDOW_MS = 60_000;

export interface WindowResult {
  /** The window's limit. */
  limit: number;
  /** Requests left in the window after this one (0 when refused). */
  remaining: number;
  /** Unix time in milliseconds at which the window has room again. */
  reset: number;
  success: boolean;
}

export interface RateCheck {
  keyId: string;
  accountId: string;
  rateClass: RateClass;
  /** This key's limit per minute for `rateClass`. */
  keyLimit: number;
  /** The account's ceiling per minute across all its keys and classes. */
  accountLimit: number;
}

export interface RateOutcome {
  key: WindowResult;
  account: WindowResult;
  /** Background work (analytics, multi-region sync) to hand to `after()`. */
  pending?: Promise<unknown>;
}

export interface RateLimiter {
  readonly kind: "memory" | "upstash";
  /**
   * Counts one request against the key's class window and the account's window,
   * in one round trip. Throws RateLimiterUnavailable when the store cannot
   * answer in time: the caller fails closed.
   */
  check(check: RateCheck): Promise<RateOutcome>;
}

export class RateLimiterUnavailable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RateLimiterUnavailable";
  }
}
