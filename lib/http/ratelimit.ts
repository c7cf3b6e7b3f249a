import { ApiError } from "../errors";
import type { Principal } from "../keys/verify";
import { rateLimiter } from "../ratelimit";
import { RateLimiterUnavailable, type RateClass, type RateOutcome, type WindowResult } from "../ratelimit/types";
import { runAfter } from "../after";
import { errorMessage, log } from "../log";

/**
 * Counts the request against its key's class limit and its account's ceiling.
 * Answers the rate-limit headers for the response, or throws 429 (which limit,
 * and when to retry) or 503 when the store cannot answer: fail closed.
 */
export async function enforceRateLimit(principal: Principal, rateClass: RateClass, now = Date.now()): Promise<Record<string, string>> {
  const keyLimit = principal.account.limits.rate[rateClass];
  const accountLimit = principal.account.limits.accountPerMinute;
  let outcome: RateOutcome;
  try {
    outcome = await rateLimiter().check({
      keyId: principal.key.id,
      accountId: principal.account.id,
      rateClass,
      keyLimit,
      accountLimit,
    });
  } catch (err) {
    log.error("rate limiter unavailable", { error: errorMessage(err) });
    const detail =
      err instanceof RateLimiterUnavailable
        ? "The rate limiter cannot be reached, so the request was refused without being executed. Retry shortly."
        : "The rate limiter failed, so the request was refused without being executed. Retry shortly.";
    throw new ApiError("rate_limiter_unavailable", detail);
  }
  if (outcome.pending) runAfter("ratelimit-pending", outcome.pending);

  const headers = rateLimitHeaders(rateClass, outcome, now);
  const refused: [string, WindowResult] | undefined = !outcome.key.success
    ? ["key", outcome.key]
    : !outcome.account.success
      ? ["account", outcome.account]
      : undefined;
  if (refused) {
    const [which, w] = refused;
    const retryAfter = Math.max(1, Math.ceil((w.reset - now) / 1000));
    throw new ApiError(
      "rate_limited",
      which === "key"
        ? `This key's limit of ${w.limit} ${rateClass} requests per minute is used up. Retry in ${retryAfter} s.`
        : `This account's ceiling of ${w.limit} requests per minute across all its keys is used up. Retry in ${retryAfter} s.`,
      { extra: { limit: which, rate_class: rateClass }, headers, retryAfter },
    );
  }
  return headers;
}

/** The rate-limit headers every counted answer carries (see rateLimitHeaders), as the OpenAPI document names them. */
export const RATE_LIMIT_HEADERS = ["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "RateLimit-Policy", "RateLimit"] as const;

/**
 * X-RateLimit-* describe whichever window is closer to refusing; the IETF
 * draft's RateLimit-Policy and RateLimit fields describe both.
 */
export function rateLimitHeaders(rateClass: RateClass, o: Pick<RateOutcome, "key" | "account">, now: number): Record<string, string> {
  const binding = o.account.remaining < o.key.remaining ? o.account : o.key;
  const secs = (w: WindowResult) => Math.max(0, Math.ceil((w.reset - now) / 1000));
  return {
    "x-ratelimit-limit": String(binding.limit),
    "x-ratelimit-remaining": String(binding.remaining),
    "x-ratelimit-reset": String(Math.ceil(binding.reset / 1000)),
    "ratelimit-policy": `"key-${rateClass}";q=${o.key.limit};w=60, "account";q=${o.account.limit};w=60`,
    ratelimit: `"key-${rateClass}";r=${o.key.remaining};t=${secs(o.key)}, "account";r=${o.account.remaining};t=${secs(o.account)}`,
  };
}
