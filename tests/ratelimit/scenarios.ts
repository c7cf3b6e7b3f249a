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
  const windowEnd = h.now() - (h.now() % RATE_WINDOW_MS) + RATE_WINDOW_MS;
  for (let i = 0; i < 5; i++) {
    const o = await check(h, { ...base, rateClass: "heavy" });
    expect(o.key).toEqual({ limit: 5, remaining: 4 - i, reset: windowEnd, success: true });
    expect(o.account).toEqual({ limit: 1000, remaining: 999 - i, reset: windowEnd, success: true });
  }
  const refused = await check(h, { ...base, rateClass: "heavy" });
  expect(refused.key).toEqual({ limit: 5, remaining: 0, reset: windowEnd, success: false });
  // Refused by the key window: it does not count against the account.
  expect(refused.account).toEqual({ limit: 1000, remaining: 995, reset: windowEnd, success: true });
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
  expect(refused.key.reset).toBe(h.now() - (h.now() % RATE_WINDOW_MS) + RATE_WINDOW_MS);
  // Two windows later nothing of the old counts is left.
  h.advance(2 * RATE_WINDOW_MS);
  expect((await check(h, c)).key).toMatchObject({ success: true, remaining: 3, limit: 4 });
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
