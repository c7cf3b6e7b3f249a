import { describe, expect, it } from "vitest";
import { MemoryRateLimiter, RATE_WINDOW_MS } from "@/lib/ratelimit";
import { accountCeiling, check, perClassLimit, truthfulTimes, windowsReset, type Harness } from "./scenarios";

function harness(): Harness {
  // 1 s into a window, with an injected clock.
  let t = Date.UTC(2030, 0, 1, 12, 0, 1);
  let n = 0;
  return {
    limiter: new MemoryRateLimiter(() => t),
    advance: (ms) => {
      t += ms;
    },
    now: () => t,
    id: (name) => `${name}-${++n}`,
  };
}

describe("MemoryRateLimiter", () => {
  it("refuses the N+1th request of a key's class, and keeps classes apart", () => perClassLimit(harness()));

  it("refuses across two keys at the account ceiling, counting only admitted requests", () =>
    accountCeiling(harness()));

  it("resets its windows as the injected clock moves (sliding weight of the previous minute)", () =>
    windowsReset(harness()));

  it("says truthfully when a refused client is admitted and when the whole quota is back", () => truthfulTimes(harness()));

  it("forgets identifiers idle for more than two windows", async () => {
    const h = harness();
    const c = { keyId: "k", accountId: "a", rateClass: "read", keyLimit: 1, accountLimit: 1 } as const;
    expect((await check(h, c)).key.success).toBe(true);
    expect((await check(h, c)).key.success).toBe(false);
    const windows = (h.limiter as unknown as { windows: Map<string, unknown> }).windows;
    expect(windows.size).toBe(2);
    h.advance(3 * RATE_WINDOW_MS);
    await check(h, { ...c, keyId: "other", accountId: "other" });
    expect([...windows.keys()].sort()).toEqual(["account:other", "key:other:read"]);
  });
});
