import { afterEach, describe, expect, it } from "vitest";
import { retryAfterSeconds } from "@/lib/http/ratelimit";
import { createRateLimiter, RATE_WINDOW_MS, resetRateLimiter, setRateLimiter, type RateLimiter } from "@/lib/ratelimit";
import { client, createAccount } from "../support/fixtures";
import { useApiServer } from "../support/security";
import { serviceUrl } from "../support/services";
import { startUpstashRelay, type UpstashRelay } from "../support/upstash-relay";

// The rate-limit headers tell the truth, by the clock (DESIGN 3.4): a client
// that waits Retry-After seconds is admitted, and at X-RateLimit-Reset (the
// IETF draft's `t`) the whole quota is back. The limiter's clock is injected
// (the Upstash limiter hands its clock to its Redis script), so a minute
// passes in no time, for the in-process limiter and Upstash's alike.
const server = useApiServer();
afterEach(() => resetRateLimiter());

/** A clock that stands still until moved, starting `offsetMs` into a minute. */
function clock(offsetMs: number) {
  let t = Math.floor(Date.now() / RATE_WINDOW_MS) * RATE_WINDOW_MS + offsetMs;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

const heavy = (api: ReturnType<typeof client>) => api.post("/api/v1/instances/nope/start"); // 404, counted as heavy

async function byTheClock(limiter: (now: () => number) => RateLimiter) {
  const c = clock(24_000); // the timeline: a Pro key's heavy quota used up 24 s into a minute
  setRateLimiter(limiter(c.now));
  const me = await createAccount({ plan: "pro" });
  const api = client(server.url, me.token);
  for (let i = 0; i < 5; i++) expect((await heavy(api)).status).toBe(404);

  let refused = await heavy(api);
  expect(refused.status).toBe(429);
  const retries: number[] = [];
  // Four times: wait exactly Retry-After, be admitted; the next is refused with a new, truthful Retry-After.
  for (let round = 0; round < 4; round++) {
    const wait = Number(refused.headers.get("retry-after"));
    retries.push(wait);
    expect(wait).toBeGreaterThan(0);
    // The RateLimit field's `t` never promises less than Retry-After.
    const t = Number(/"key-heavy";r=0;t=(\d+)/.exec(refused.headers.get("ratelimit") ?? "")?.[1]);
    expect(t).toBeGreaterThanOrEqual(wait);
    c.advance(wait * 1000 - 1000);
    expect((await heavy(api)).status, `round ${round}: a second early`).toBe(429);
    c.advance(1000);
    expect((await heavy(api)).status, `round ${round}: after Retry-After`).toBe(404);
    refused = await heavy(api);
    expect(refused.status).toBe(429);
  }
  // 36 s to the minute's end (+1 ms, rounded up), then one every 12 s as the first five decay.
  expect(retries).toEqual([37, 12, 12, 12]);

  // X-RateLimit-Reset: the whole quota is back then.
  const reset = Number(refused.headers.get("x-ratelimit-reset"));
  expect(reset * 1000).toBeGreaterThan(c.now());
  c.advance(reset * 1000 - c.now());
  for (let i = 0; i < 5; i++) {
    const res = await heavy(api);
    expect(res.status, `request ${i + 1} of 5 after the reset`).toBe(404);
    expect(res.headers.get("x-ratelimit-remaining")).toBe(String(4 - i));
  }
  expect((await heavy(api)).status).toBe(429);
}

describe("rate-limit headers by the clock", () => {
  it("in-process limiter: waiting Retry-After is admitted, X-RateLimit-Reset brings the whole quota back", () =>
    byTheClock((now) => createRateLimiter({ kind: "memory" }, { now })));

  const redisUrl = serviceUrl("rate-limit headers by the clock through the Upstash limiter", "REDIS_URL");
  it.skipIf(!redisUrl)("Upstash limiter (redis-server behind the REST relay): the same, to the second", async () => {
    const relay: UpstashRelay = await startUpstashRelay({ redisUrl: redisUrl! });
    try {
      const prefix = `truthful:${Math.random().toString(36).slice(2)}`;
      await byTheClock((now) => createRateLimiter({ kind: "upstash", url: relay.url, token: relay.token, timeoutMs: 2000 }, { prefix, now }));
    } finally {
      await relay.close();
    }
  });
});

describe("Retry-After when several windows refuse", () => {
  it("waits for the last of them, so that every window admits the retry", () => {
    const now = 1_000_000;
    const win = (retryIn: number, success = false) => ({ limit: 5, remaining: 0, retryAt: now + retryIn, reset: now + 90_000, success });
    expect(retryAfterSeconds([win(1_500), win(30_001)], now)).toBe(31);
    expect(retryAfterSeconds([win(30_001), win(1_500)], now)).toBe(31);
    // A window that admitted (the request was refused by the other) does not hold the retry back.
    expect(retryAfterSeconds([win(0, true), win(1_500)], now)).toBe(2);
    expect(retryAfterSeconds([win(0)], now)).toBe(1);
  });
});
