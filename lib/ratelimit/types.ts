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
  /**
   * Unix ms at which the next request would be admitted, if none is counted
   * meanwhile: `Retry-After` (now, while requests remain).
   */
  retryAt: number;
  /**
   * Unix ms at which the whole quota is back (nothing counted any more), if
   * none is counted meanwhile: `X-RateLimit-Reset` and the IETF draft's `t`.
   */
  reset: number;
  success: boolean;
}

/** One window to count a request against: an identifier and its limit per minute. */
export interface WindowSpec {
  id: string;
  limit: number;
}

export interface RateCheck {
  keyId: string;
  accountId: string;
  rateClass: RateClass;
  /** This key's limit per minute for `rateClass`. */
  keyLimit: number;
  /** The account's ceiling per minute across all its keys and classes. */
  accountLimit: number;
  /**
   * The account's auth version the principal was read at (`account.auth_version`),
   * checked in the same round trip as the windows: see AuthVersionCheck. Left
   * out, no version is read.
   */
  authVersion?: AuthVersionCheck;
}

/**
 * How a rate check treats the account's auth version, the number every change
 * to what a verified key carries (a revocation, the plan, the limits) raises in
 * the database and publishes to the limiter's store before it commits
 * (`publishAuthVersion`). The store keeps the highest version published.
 */
export interface AuthVersionCheck {
  /** The version the principal was read at. */
  version: number;
  /**
   * `true`: the principal was read from the database for this request; the
   * request is counted whatever the store holds, and the store learns the
   * version when it has none. `false`: the principal was remembered from an
   * earlier request; the request is counted only while the store holds this
   * version or an older one (else nothing is counted: `"stale"`).
   */
  fresh: boolean;
}

/**
 * What the store's version said of the principal's: `current` (not newer: a
 * fresh principal may be remembered, a remembered one is still right),
 * `newer` (a fresh principal was counted, but a change is committing: do not
 * remember it), `stale` (a remembered principal is out of date: nothing was
 * counted; read it again and check again). A store that holds no version
 * (expired, or emptied by a restart) counts as newer than any remembered one.
 */
export type AuthVersionState = "current" | "newer" | "stale";

export interface RateOutcome {
  key: WindowResult;
  account: WindowResult;
  /** Background work (analytics, multi-region sync) to hand to `after()`. */
  pending?: Promise<unknown>;
  /** When the check carried an auth version: what the store said of it. */
  authVersion?: AuthVersionState;
}

export interface RateLimiter {
  readonly kind: "memory" | "upstash";
  /** The clock this limiter decides by, Unix ms: header times are relative to it. */
  readonly now: () => number;
  /**
   * Counts one request against the key's class window and the account's window,
   * in one round trip. Throws RateLimiterUnavailable when the store cannot
   * answer in time: the caller fails closed.
   */
  check(check: RateCheck): Promise<RateOutcome>;
  /**
   * Counts one event against every window, only when every window admits it
   * (one decision, one round trip); answers each window's result, in order.
   * `check` is this for the key and account windows; failed authentications
   * use it with their own (lib/ratelimit/failures.ts). Throws
   * RateLimiterUnavailable as `check` does.
   */
  hit(windows: readonly WindowSpec[]): Promise<WindowResult[]>;
  /**
   * What this process knows without asking the store: the results of those
   * windows if one of them is known to refuse now, else null. Exact for the
   * memory limiter; for Upstash, windows Redis refused earlier, until their
   * `retryAt` (other processes can only make that later, never sooner).
   */
  knownRefusal(windows: readonly WindowSpec[]): WindowResult[] | null;
  /**
   * Records that the account's auth version is now `version` (the store keeps
   * the highest it was told), so every process's next check of a principal
   * read at an older version answers `stale`. Called inside the transaction
   * that raises it, before the commit: a throw (RateLimiterUnavailable) rolls
   * the change back.
   */
  publishAuthVersion(accountId: string, version: number): Promise<void>;
}

/** The windows of `check`: the key's class window and the account's. */
export function requestWindows(c: RateCheck): [WindowSpec, WindowSpec] {
  return [
    { id: `key:${c.keyId}:${c.rateClass}`, limit: c.keyLimit },
    { id: `account:${c.accountId}`, limit: c.accountLimit },
  ];
}

export class RateLimiterUnavailable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RateLimiterUnavailable";
  }
}
