import { afterEach, describe, expect, it } from "vitest";
import { resetConfig } from "@/lib/config";
import { freePort } from "../support/services";
import {
  createRateLimiter,
  MemoryRateLimiter,
  rateLimiter,
  RateLimiterUnavailable,
  resetRateLimiter,
  UpstashRateLimiter,
} from "@/lib/ratelimit";

const saved = { url: process.env.UPSTASH_REDIS_REST_URL, token: process.env.UPSTASH_REDIS_REST_TOKEN };

afterEach(() => {
  if (saved.url === undefined) delete process.env.UPSTASH_REDIS_REST_URL;
  else process.env.UPSTASH_REDIS_REST_URL = saved.url;
  if (saved.token === undefined) delete process.env.UPSTASH_REDIS_REST_TOKEN;
  else process.env.UPSTASH_REDIS_REST_TOKEN = saved.token;
  resetConfig();
  resetRateLimiter();
});

describe("rateLimiter()", () => {
  it("is the memory limiter without Upstash settings, one per process", () => {
    delete process.env.UPSTASH_REDIS_REST_URL;
    delete process.env.UPSTASH_REDIS_REST_TOKEN;
    resetConfig();
    const a = rateLimiter();
    expect(a).toBeInstanceOf(MemoryRateLimiter);
    expect(a.kind).toBe("memory");
    expect(rateLimiter()).toBe(a);
    expect((globalThis as { __mocRateLimiter?: unknown }).__mocRateLimiter).toBe(a);
  });

  it("is the Upstash limiter when UPSTASH_REDIS_REST_URL and _TOKEN are set", () => {
    process.env.UPSTASH_REDIS_REST_URL = "http://127.0.0.1:9";
    process.env.UPSTASH_REDIS_REST_TOKEN = "t";
    resetConfig();
    const l = rateLimiter();
    expect(l).toBeInstanceOf(UpstashRateLimiter);
    expect(l.kind).toBe("upstash");
    expect(rateLimiter()).toBe(l);
  });
});

describe("createRateLimiter()", () => {
  it("builds either kind from settings", () => {
    expect(createRateLimiter({ kind: "memory" })).toBeInstanceOf(MemoryRateLimiter);
    expect(createRateLimiter({ kind: "upstash", url: "http://127.0.0.1:9", token: "t", timeoutMs: 100 })).toBeInstanceOf(
      UpstashRateLimiter,
    );
  });

  it("an Upstash limiter with nothing listening refuses with RateLimiterUnavailable, at once (no REDIS_URL needed)", async () => {
    // A closed port on loopback: connection refused. The time budget is far longer than the test's own
    // time limit, so a limiter that waited it out instead of refusing at once could not pass.
    const url = `http://127.0.0.1:${await freePort()}`;
    const l = createRateLimiter({ kind: "upstash", url, token: "t", timeoutMs: 120_000 });
    const err = await l.check({ keyId: "k", accountId: "a", rateClass: "read", keyLimit: 1, accountLimit: 1 }).then(
      () => new Error("expected a refusal"),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RateLimiterUnavailable);
    expect((err as Error).message).toMatch(/^rate-limit store unavailable: .*ECONNREFUSED/);
  });
});
