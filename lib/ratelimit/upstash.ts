import { Ratelimit } from "@upstash/ratelimit";
import { Redis } from "@upstash/redis";
import {
  RATE_WINDOW_MS,
  RateLimiterUnavailable,
  type RateCheck,
  type RateLimiter,
  type RateOutcome,
  type WindowResult,
} from "./types";

export interface UpstashRateLimiterOptions {
  /** UPSTASH_REDIS_REST_URL */
  url: string;
  /** UPSTASH_REDIS_REST_TOKEN */
  token: string;
  /** The whole check (one HTTP round trip) must answer within this, or the request is refused. */
  timeoutMs: number;
  /** Prefix of every Redis key this limiter writes. Tests use their own. */
  prefix?: string;
}

type Scope = "key" | "account";
type LimitResponse = Awaited<ReturnType<Ratelimit["limit"]>>;

/** Reasons @upstash/ratelimit may give that still mean "Redis (or its cache) decided". */
const TRUSTED_REASONS = new Set<string | undefined>([undefined, "cacheBlock"]);

/**
 * The production limiter: the same two sliding windows as MemoryRateLimiter
 * (per key and rate class; per account), kept in Upstash Redis so every
 * serverless instance shares them.
 *
 * Fails closed. @upstash/ratelimit fails open by default (after its `timeout` it
 * resolves `success: true, reason: "timeout"`), so: the Redis client has no
 * retries and aborts every HTTP request after `timeoutMs`; the limiters have
 * `timeout: 0`; and any throw, a `reason: "timeout"`, or any result of an
 * unexpected shape becomes RateLimiterUnavailable (the caller answers 503).
 *
 * One round trip: both windows are checked with Promise.all on one Redis client
 * with auto-pipelining, so the two EVALSHAs go out as one `/pipeline` request.
 *
 * Counting across the two windows. Redis checks each window on its own, so a
 * request refused by one window has already consumed a token in the other if
 * that one admitted it. To match the memory limiter ("a request counts only when
 * both windows admit it"), that token is given back (`rate: -1`) in `pending`,
 * after the response, and `remaining` is reported as if it had never been taken.
 * This is close, not exact:
 * - until the refund lands, a concurrent request sees one token fewer (it may be
 *   refused early; never admitted wrongly);
 * - the refund is skipped if the minute has rolled over meanwhile (it would go
 *   to the new window's bucket), and it is lost if Redis fails at that moment;
 *   in both cases the refused request keeps counting against the other window;
 * - ephemeralCache: once Redis has refused an identifier, its limiter object
 *   refuses it locally until the window's `reset`, without asking Redis; the
 *   memory limiter may admit a little earlier as the previous minute's weight
 *   decays. (A cache-refused request costs nothing in Redis and needs no refund.)
 */
export class UpstashRateLimiter implements RateLimiter {
  readonly kind = "upstash" as const;
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly timeoutMs: number;
  /**
   * One Ratelimit per distinct (scope, limit), built on first use and kept: its
   * ephemeralCache of blocked identifiers lives in the object, so building one
   * per request would throw it away. Limits come from a handful of plans and
   * overrides, so this stays small.
   */
  private readonly limiters = new Map<string, Ratelimit>();

  constructor(opts: UpstashRateLimiterOptions) {
    if (!Number.isInteger(opts.timeoutMs) || opts.timeoutMs < 1) throw new TypeError("timeoutMs must be a positive integer");
    this.timeoutMs = opts.timeoutMs;
    this.prefix = opts.prefix ?? "moc:ratelimit";
    this.redis = new Redis({
      url: opts.url,
      token: opts.token,
      // One attempt (the client's "no retry" still re-sends once after a network
      // error, within the same signal), each HTTP request aborted after timeoutMs.
      retry: false,
      // A function: a fresh signal per request. A signal object would abort once, for good.
      signal: () => AbortSignal.timeout(this.timeoutMs),
      enableAutoPipelining: true,
      enableTelemetry: false,
    });
  }

  private limiter(scope: Scope, limit: number): Ratelimit {
    const id = `${scope}:${limit}`;
    let l = this.limiters.get(id);
    if (!l) {
      l = new Ratelimit({
        redis: this.redis,
        limiter: Ratelimit.slidingWindow(limit, `${RATE_WINDOW_MS} ms`),
        prefix: this.prefix,
        timeout: 0, // never resolve "success: true" on a slow Redis
        analytics: false,
        ephemeralCache: new Map(),
        enableTelemetry: false,
      });
      this.limiters.set(id, l);
    }
    return l;
  }

  async check(c: RateCheck): Promise<RateOutcome> {
    for (const [name, v] of [["keyLimit", c.keyLimit], ["accountLimit", c.accountLimit]] as const) {
      if (!Number.isInteger(v) || v < 0) throw new TypeError(`${name} must be a non-negative integer, got ${v}`);
    }
    const keyId = `key:${c.keyId}:${c.rateClass}`;
    const accountId = `account:${c.accountId}`;
    const keyLimiter = this.limiter("key", c.keyLimit);
    const accountLimiter = this.limiter("account", c.accountLimit);
    const window = Math.floor(Date.now() / RATE_WINDOW_MS);

    let responses: [LimitResponse, LimitResponse];
    try {
      // Both calls enqueue their command synchronously on the auto-pipeline: one HTTP request.
      responses = await deadline(
        Promise.all([keyLimiter.limit(keyId), accountLimiter.limit(accountId)]),
        // The fetch is aborted at timeoutMs; this only bounds anything else.
        this.timeoutMs + 100,
      );
    } catch (err) {
      throw new RateLimiterUnavailable(`rate-limit store unavailable: ${describe(err)}`, { cause: err });
    }
    const [k, a] = responses;
    const key = toWindow(k, "key");
    const account = toWindow(a, "account");
    const admitted = key.success && account.success;

    // Give back the token a refused request took from the window that admitted it.
    let refund: Promise<unknown> = Promise.resolve();
    if (!admitted && key.success !== account.success) {
      const [limiter, id, w] = key.success ? [keyLimiter, keyId, key] : [accountLimiter, accountId, account];
      w.remaining = Math.min(w.limit, w.remaining + 1);
      refund = Promise.resolve().then(() =>
        Math.floor(Date.now() / RATE_WINDOW_MS) === window ? limiter.limit(id, { rate: -1 }) : undefined,
      );
    }
    if (!key.success) key.remaining = 0;
    if (!account.success) account.remaining = 0;

    const pending = Promise.all([k.pending, a.pending, refund]).then(
      () => undefined,
      () => undefined, // background work only: a failure here must not reject after()
    );
    return { key, account, pending };
  }
}

function toWindow(r: LimitResponse, scope: Scope): WindowResult {
  const ok =
    r !== null &&
    typeof r === "object" &&
    typeof r.success === "boolean" &&
    TRUSTED_REASONS.has(r.reason) &&
    [r.limit, r.remaining, r.reset].every((n) => typeof n === "number" && Number.isFinite(n)) &&
    r.reset > 0;
  if (!ok) {
    // reason "timeout" (fail-open answer), "denyList", or a malformed reply.
    const reason = r && typeof r === "object" ? (r.reason ?? "malformed reply") : "malformed reply";
    throw new RateLimiterUnavailable(`rate-limit store gave no usable answer for the ${scope} window (${reason})`);
  }
  return { limit: r.limit, remaining: Math.max(0, r.remaining), reset: r.reset, success: r.success };
}

function deadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? ` (${err.cause.message})` : "";
    return `${err.name}: ${err.message}${cause}`.slice(0, 300);
  }
  return String(err).slice(0, 300);
}
