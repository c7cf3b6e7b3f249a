import { config, type Config } from "@/lib/config";
import { MemoryRateLimiter } from "./memory";
import type { RateLimiter } from "./types";
import { UpstashRateLimiter } from "./upstash";

export * from "./types";
export { MemoryRateLimiter } from "./memory";
export { UpstashRateLimiter, type UpstashRateLimiterOptions } from "./upstash";

/** Builds a limiter for the given settings (`config().rateLimit`). Tests call this directly. */
export function createRateLimiter(
  cfg: Config["rateLimit"],
  opts: { prefix?: string; now?: () => number } = {},
): RateLimiter {
  switch (cfg.kind) {
    case "memory":
      return new MemoryRateLimiter(opts.now);
    case "upstash":
      return new UpstashRateLimiter({ url: cfg.url, token: cfg.token, timeoutMs: cfg.timeoutMs, prefix: opts.prefix }, opts.now);
  }
}

const holder = globalThis as unknown as { __mocRateLimiter?: RateLimiter };

/**
 * The limiter of this process, built lazily from `config().rateLimit` and kept on
 * `globalThis` so that Next.js dev reloads and every route share one instance:
 * the memory limiter's counters and the Upstash limiters' ephemeral caches must
 * outlive a single request.
 */
export function rateLimiter(): RateLimiter {
  holder.__mocRateLimiter ??= createRateLimiter(config().rateLimit);
  return holder.__mocRateLimiter;
}

/** Tests only: forget the process's limiter so the next call rebuilds it from config(). */
export function resetRateLimiter(): void {
  delete holder.__mocRateLimiter;
}

/** Tests only: use this limiter (e.g. one with a fixed clock) until reset. */
export function setRateLimiter(limiter: RateLimiter): void {
  holder.__mocRateLimiter = limiter;
}
