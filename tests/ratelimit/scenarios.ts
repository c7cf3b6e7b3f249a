import { expect } from "vitest";
import { RATE_WINDOW_MS, type RateCheck, type RateLimiter, type RateOutcome } from "@/lib/ratelimit";

/**
 * Scenarios every RateLimiter must pass, run against the memory limiter and
 * against UpstashRateLimiter on a real redis-server. `advance(ms)` moves the
 * clock both read; `id()` gives identifiers no other test uses. The clock starts
 * 1 s into a window.
 */
export interface Harness {
  limiter: RateLimiter;
  advance(ms: number): void;
  now(): number;
  id(name: string): string;
}

export async function check(h: Harness, c: RateCheck): Promise<RateOutcome> {
  const o = await h.limiter.check(c);
  await o.pending; // deterministic sequences: background work settles before the next request
  return o;
}

export async function perClassLimit(h: Harness) {
  const keyId = h.id("key");
  const accountId = h.id("acct");
  const base = { keyId, accountId, keyLimit: 5, accountLimit: 1000 } as const;
  // Everything was counted in this fixed window: the whole quota is back once the next
  // window's weight of them has decayed below one request (1 - 1/n of the way into it).
  const windowEnd = h.now() - (h.now() % RATE_WINDOW_MS) + RATE_WINDOW_MS;
  // (To the millisecond, as floating point has it: the limiters compute the weight as @upstash/ratelimit does.)
  const allBack = (n: number) => expect.toSatisfy((t: number) => Math.abs(t - (windowEnd + RATE_WINDOW_MS * (1 - 1 / n))) <= 1);
  for (let i = 0; i < 5; i++) {
    const o = await check(h, { ...base, rateClass: "heavy" });
    expect(o.key).toEqual({ limit: 5, remaining: 4 - i, retryAt: i < 4 ? h.now() : windowEnd + 1, reset: allBack(i + 1), success: true });
    expect(o.account).toEqual({ limit: 1000, remaining: 999 - i, retryAt: h.now(), reset: allBack(i + 1), success: true });
  }
  const refused = await check(h, { ...base, rateClass: "heavy" });
  // All five were counted in this fixed window: the next is admitted just after it ends.
  expect(refused.key).toEqual({ limit: 5, remaining: 0, retryAt: windowEnd + 1, reset: allBack(5), success: false });
  // Refused by the key window: it does not count against the account.
  expect(refused.account).toEqual({ limit: 1000, remaining: 995, retryAt: h.now(), reset: allBack(5), success: true });
  // Another class of the same key has its own window.
  const read = await check(h, { ...base, rateClass: "read", keyLimit: 120 });
  expect(read.key).toMatchObject({ limit: 120, remaining: 119, success: true });
  expect(read.account).toMatchObject({ remaining: 994, success: true });
}

export async function accountCeiling(h: Harness) {
  const accountId = h.id("acct");
  const a = { keyId: h.id("keyA"), accountId, rateClass: "write", keyLimit: 5, accountLimit: 6 } as const;
  const b = { ...a, keyId: h.id("keyB") };
  for (let i = 0; i < 5; i++) expect((await check(h, a)).key.success).toBe(true);
  const b1 = await check(h, b);
  expect(b1.key).toMatchObject({ success: true, remaining: 4 });
  expect(b1.account).toMatchObject({ success: true, remaining: 0, limit: 6 });
  const b2 = await check(h, b);
  expect(b2.account).toMatchObject({ success: false, remaining: 0, limit: 6 });
  // Admitted by its key window but not counted there: the request was refused.
  expect(b2.key).toMatchObject({ success: true, remaining: 4 });
  const b3 = await check(h, b);
  expect(b3.account.success).toBe(false);
  expect(b3.key).toMatchObject({ success: true, remaining: 4 });
  // Both windows refuse.
  const a6 = await check(h, a);
  expect(a6.key.success).toBe(false);
  expect(a6.account.success).toBe(false);
}

export async function windowsReset(h: Harness) {
  const c = { keyId: h.id("key"), accountId: h.id("acct"), rateClass: "read", keyLimit: 4, accountLimit: 100 } as const;
  for (let i = 0; i < 4; i++) expect((await check(h, c)).key.success).toBe(true);
  expect((await check(h, c)).key.success).toBe(false);
  // Next window, 29 s later than the start of this test: the previous minute still
  // weighs (1 - 30/60) * 4 = 2 requests, so 2 are admitted.
  h.advance(RATE_WINDOW_MS + 29_000);
  const first = await check(h, c);
  expect(first.key).toMatchObject({ success: true, remaining: 1 });
  expect((await check(h, c)).key).toMatchObject({ success: true, remaining: 0 });
  const refused = await check(h, c);
  expect(refused.key.success).toBe(false);
  // Exactly 30 s in, the previous minute's 4 weigh 2 (with the 2 of this one: 4, the limit); a
  // millisecond later they weigh less than 2, which rounds down to 1: room for one more.
  expect(refused.key.retryAt).toBe(h.now() + 1);
  // Two windows later nothing of the old counts is left.
  h.advance(2 * RATE_WINDOW_MS);
  expect((await check(h, c)).key).toMatchObject({ success: true, remaining: 3, limit: 4 });
}

/**
 * The headers' promises kept, by the clock: a refused client that waits until
 * `retryAt` is admitted (and not a millisecond earlier), and one that waits
 * until `reset` finds the whole quota back.
 */
export async function truthfulTimes(h: Harness) {
  const c = { keyId: h.id("key"), accountId: h.id("acct"), rateClass: "heavy", keyLimit: 5, accountLimit: 1000 } as const;
  // A Pro key's heavy limit used up; a minute later the five still weigh 5 * 59/60, rounded down 4: one more fits.
  for (let i = 0; i < 5; i++) expect((await check(h, c)).key.success).toBe(true);
  h.advance(RATE_WINDOW_MS);
  expect((await check(h, c)).key.success).toBe(true);
  // Then one request every 12 s as the old five decay (a fixed-window reset would say: in 59 s).
  for (let round = 0; round < 4; round++) {
    const refused = await check(h, c);
    expect(refused.key.success).toBe(false);
    expect(refused.key.retryAt - h.now()).toBeLessThanOrEqual(12_000);
    h.advance(refused.key.retryAt - h.now() - 1);
    expect((await check(h, c)).key.success, "a millisecond early").toBe(false);
    h.advance(1);
    expect((await check(h, c)).key.success, `round ${round}: admitted at retryAt`).toBe(true);
  }
  // Five counted in this minute: the next one fits right after it, the whole quota 48 s into the next.
  const last = await check(h, c);
  expect(last.key.success).toBe(false);
  const nextMinute = h.now() - (h.now() % RATE_WINDOW_MS) + RATE_WINDOW_MS;
  expect(last.key.retryAt).toBe(nextMinute + 1);
  expect(Math.abs(last.key.reset - (nextMinute + 48_000))).toBeLessThanOrEqual(1);
  h.advance(last.key.reset - h.now());
  for (let i = 0; i < 5; i++) expect((await check(h, c)).key, "the whole quota is back at reset").toMatchObject({ success: true, remaining: 4 - i });
}

/** A fixed script of requests over two keys of one account, for comparing two limiters step by step. */
export function script(keyA: string, keyB: string, accountId: string): RateCheck[] {
  const out: RateCheck[] = [];
  const classes = ["read", "write", "heavy"] as const;
  const limits = { read: 6, write: 3, heavy: 2 };
  for (let i = 0; i < 30; i++) {
    const rateClass = classes[(i * 7) % 3]!;
    out.push({ keyId: i % 3 === 0 ? keyB : keyA, accountId, rateClass, keyLimit: limits[rateClass], accountLimit: 9 });
  }
  return out;
}
