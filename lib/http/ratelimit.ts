import { ApiError } from "../errors";
import { forgetVerification, rememberVerification } from "../keys/cache";
import type { Principal, Verification } from "../keys/verify";
import { rateLimiter } from "../ratelimit";
import { RATE_WINDOW_MS, RateLimiterUnavailable, requestWindows, type RateCheck, type RateClass, type RateOutcome, type WindowResult } from "../ratelimit/types";
import { runAfter } from "../after";
import { errorMessage, log } from "../log";

/** A request's verified key, and how to read it again from the database. */
export interface Authentication {
  principal: Principal;
  verification: Extract<Verification, { ok: true }>;
  /** The token's digest: what this process remembers the key under (lib/keys/cache.ts). */
  digest: string;
  /** Reads the key again from the database, whatever this process remembers (throws as authentication does). */
  reread(): Promise<Authentication>;
}

/**
 * Counts the request against its key's class limit and its account's ceiling,
 * and checks in the same round trip that a remembered key is still what the
 * database says (its account's auth version, lib/keys/auth-version.ts): one
 * that is not is read again (`reread`, which may throw 401) and counted with
 * what it says now; one read for this request is remembered when its version
 * is current. Answers the authentication the request goes on with and the
 * rate-limit headers for the response, or throws 429 (which limit, and when to
 * retry) or 503 when the store cannot answer: fail closed.
 */
export async function enforceRateLimit(auth: Authentication, rateClass: RateClass): Promise<{ auth: Authentication; headers: Record<string, string> }> {
  const limiter = rateLimiter();
  let now = limiter.now();
  let outcome = await count(auth, rateClass);
  if (outcome.authVersion === "stale") {
    forgetVerification(auth.digest);
    auth = await auth.reread();
    now = limiter.now();
    outcome = await count(auth, rateClass);
  }
  if (!auth.verification.remembered && outcome.authVersion === "current") rememberVerification(auth.digest, auth.verification);
  if (outcome.pending) runAfter("ratelimit-pending", outcome.pending);

  const headers = rateLimitHeaders(rateClass, outcome, now);
  const refused: [string, WindowResult] | undefined = !outcome.key.success
    ? ["key", outcome.key]
    : !outcome.account.success
      ? ["account", outcome.account]
      : undefined;
  if (refused) {
    const [which, w] = refused;
    const retryAfter = retryAfterSeconds([outcome.key, outcome.account], now);
    throw new ApiError(
      "rate_limited",
      which === "key"
        ? `This key's limit of ${w.limit} ${rateClass} requests per minute is used up. Retry in ${retryAfter} s.`
        : `This account's ceiling of ${w.limit} requests per minute across all its keys is used up. Retry in ${retryAfter} s.`,
      { extra: { limit: which, rate_class: rateClass }, headers, retryAfter },
    );
  }
  return { auth, headers };
}

/** The key's class window and its account's ceiling, as the limiter counts a request of `rateClass`. */
function rateCheck(principal: Principal, rateClass: RateClass): RateCheck {
  return {
    keyId: principal.key.id,
    accountId: principal.account.id,
    rateClass,
    keyLimit: principal.account.limits.rate[rateClass],
    accountLimit: principal.account.limits.accountPerMinute,
  };
}

/**
 * Whether this process already knows, without asking the store, that a
 * request of `rateClass` would be refused now (the limiter's last known counts,
 * `RateLimiter.knownRefusal`): then a read's query is not started alongside the
 * limiter call, so a key over its limit costs the database nothing.
 */
export function knownToBeRefused(principal: Principal, rateClass: RateClass): boolean {
  return rateLimiter().knownRefusal(requestWindows(rateCheck(principal, rateClass))) !== null;
}

async function count(auth: Authentication, rateClass: RateClass): Promise<RateOutcome> {
  const { principal, verification } = auth;
  try {
    return await rateLimiter().check({
      ...rateCheck(principal, rateClass),
      authVersion: { version: verification.authVersion, fresh: !verification.remembered },
    });
  } catch (err) {
    log.error("rate limiter unavailable", { error: errorMessage(err) });
    throw limiterUnavailable(err);
  }
}

/** 503 rate_limiter_unavailable for a store that could not answer (or publish): nothing was executed. */
export function limiterUnavailable(err: unknown): ApiError {
  const detail =
    err instanceof RateLimiterUnavailable
      ? "The rate limiter cannot be reached, so the request was refused without being executed. Retry shortly."
      : "The rate limiter failed, so the request was refused without being executed. Retry shortly.";
  return new ApiError("rate_limiter_unavailable", detail);
}

/** The rate-limit headers every counted answer carries (see limitHeaders), as the OpenAPI document names them. */
export const RATE_LIMIT_HEADERS = ["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "RateLimit-Policy", "RateLimit"] as const;

export function rateLimitHeaders(rateClass: RateClass, o: Pick<RateOutcome, "key" | "account">, now: number): Record<string, string> {
  return limitHeaders([[`key-${rateClass}`, o.key], ["account", o.account]], now);
}

/**
 * The headers for a set of windows (named as in the IETF draft's policies):
 * X-RateLimit-* describe whichever window is closest to refusing, the draft's
 * RateLimit-Policy and RateLimit fields describe each. `X-RateLimit-Reset`
 * (Unix seconds) and `t` (seconds) say when the window's whole quota is back;
 * `Retry-After` on a refusal says when the next request is admitted
 * (retryAfterSeconds). Both assume nothing more is counted meanwhile, and both
 * are rounded up, so a client that waits them out is admitted.
 */
export function limitHeaders(windows: readonly (readonly [string, WindowResult])[], now: number): Record<string, string> {
  const binding = windows.reduce((a, b) => (b[1].remaining < a[1].remaining ? b : a))[1];
  const secs = (w: WindowResult) => Math.max(0, Math.ceil((w.reset - now) / 1000));
  return {
    "x-ratelimit-limit": String(binding.limit),
    "x-ratelimit-remaining": String(binding.remaining),
    "x-ratelimit-reset": String(Math.ceil(Math.max(binding.reset, now) / 1000)),
    "ratelimit-policy": windows.map(([name, w]) => `"${name}";q=${w.limit};w=${RATE_WINDOW_MS / 1000}`).join(", "),
    ratelimit: windows.map(([name, w]) => `"${name}";r=${w.remaining};t=${secs(w)}`).join(", "),
  };
}

/**
 * Whole seconds until every refusing window admits the next request (at least
 * 1): a client that waits them out is admitted by all of them.
 */
export function retryAfterSeconds(windows: readonly WindowResult[], now: number): number {
  const at = Math.max(now, ...windows.filter((w) => !w.success).map((w) => Math.min(w.retryAt, w.reset)));
  return Math.max(1, Math.ceil((at - now) / 1000));
}
