import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import {
  createRateLimiter,
  MemoryRateLimiter,
  RATE_WINDOW_MS,
  RateLimiterUnavailable,
  type RateCheck,
  type RateLimiter,
} from "@/lib/ratelimit";
import { serviceUrl } from "../support/services";
import { startUpstashRelay, type UpstashRelay } from "../support/upstash-relay";
import { accountCeiling, check, perClassLimit, script, truthfulTimes, windowsReset, type Harness } from "./scenarios";

const redisUrl = serviceUrl("tests/ratelimit/upstash.test.ts (UpstashRateLimiter on redis-server)", "REDIS_URL");
const TIMEOUT_MS = 1000;
const run = randomUUID().slice(0, 8);
let n = 0;
const uid = (name: string) => `${name}-${run}-${++n}`;

function upstash(relay: { url: string; token: string }, timeoutMs = TIMEOUT_MS): RateLimiter {
  return createRateLimiter({ kind: "upstash", url: relay.url, token: relay.token, timeoutMs }, { prefix: `test:${run}` });
}

const fresh = (over: Partial<RateCheck> = {}): RateCheck => ({
  keyId: uid("key"),
  accountId: uid("acct"),
  rateClass: "read",
  keyLimit: 10,
  accountLimit: 100,
  ...over,
});

/**
 * The check is refused (fails closed). `before` is a bound far from when the refusal is due: a
 * check still unsettled then has hung, which is what failing closed exists to prevent.
 */
async function expectUnavailable(p: Promise<unknown>, before = 10 * TIMEOUT_MS): Promise<RateLimiterUnavailable> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<"hung">((resolve) => (timer = setTimeout(() => resolve("hung"), before)));
  const err = await Promise.race([p.then(() => new Error("expected the check to be refused"), (e: unknown) => e), hung]).finally(() => clearTimeout(timer));
  expect(err, `still unsettled after ${before} ms`).not.toBe("hung");
  expect(err).toBeInstanceOf(RateLimiterUnavailable);
  return err as RateLimiterUnavailable;
}

describe.skipIf(!redisUrl)("UpstashRateLimiter through the Upstash REST relay on a real redis-server", () => {
  let relay: UpstashRelay;
  beforeAll(async () => {
    relay = await startUpstashRelay({ redisUrl: redisUrl!, token: "test-token" });
  });
  afterAll(async () => {
    await relay?.close();
  });

  describe("limits (same scenarios as the memory limiter, on a frozen clock)", () => {
    // Only Date is faked: the limiter reads Date.now() and hands it to its script,
    // while timers, fetch and abort signals stay real.
    beforeEach(() => {
      vi.useFakeTimers({ toFake: ["Date"] });
      vi.setSystemTime(Date.UTC(2030, 0, 1, 12, 0, 1));
    });
    afterEach(() => {
      vi.useRealTimers();
    });
    const harness = (): Harness => ({
      limiter: upstash(relay),
      advance: (ms) => vi.setSystemTime(Date.now() + ms),
      now: () => Date.now(),
      id: uid,
    });

    it("refuses the N+1th request of a key's class, and keeps classes apart", () => perClassLimit(harness()));
    it("refuses across two keys at the account ceiling", () => accountCeiling(harness()));
    it("resets its windows as the clock moves", () => windowsReset(harness()));
    it("says truthfully when a refused client is admitted and when the whole quota is back", () => truthfulTimes(harness()));

    it("answers exactly as the memory limiter does, step by step", async () => {
      const h = harness();
      const memory = new MemoryRateLimiter(() => Date.now());
      const steps = script(uid("keyA"), uid("keyB"), uid("acct"));
      const compare = async () => {
        for (const [i, c] of steps.entries()) {
          const u = await check(h, c);
          const m = await memory.check(c);
          expect({ step: i, key: u.key, account: u.account }).toEqual({ step: i, key: m.key, account: m.account });
        }
      };
      await compare();
      h.advance(RATE_WINDOW_MS + 45_000); // into the next window: the previous one still weighs
      await compare();
      h.advance(2 * RATE_WINDOW_MS);
      await compare();
    });
  });

  it("checks both windows in one HTTP round trip", async () => {
    const limiter = upstash(relay);
    const c = fresh();
    await check({ limiter } as unknown as Harness, c); // loads the scripts (EVALSHA -> NOSCRIPT -> EVAL) on a fresh redis
    relay.requests = 0;
    const o = await limiter.check(c);
    expect(relay.requests).toBe(1);
    expect(o.key).toMatchObject({ success: true, remaining: 8 });
    expect(o.account).toMatchObject({ success: true, remaining: 98 });
    await o.pending;
    expect(relay.requests).toBe(1); // nothing in the background either
  });

  it("decides both windows at once: a request one window refuses is not counted in the other", async () => {
    const limiter = upstash(relay);
    const c = fresh({ keyLimit: 5, accountLimit: 1 });
    await check({ limiter } as unknown as Harness, c);
    const refused = await limiter.check(c); // the account refuses; the key window admits but does not count it
    expect(refused.account.success).toBe(false);
    expect(refused.key).toMatchObject({ success: true, remaining: 4 });
    const again = await limiter.check(c);
    expect(again.key).toMatchObject({ success: true, remaining: 4 });
  });

  it("knows, without a round trip, a window Redis refused, until it admits again", async () => {
    const limiter = upstash(relay);
    const c = fresh({ keyLimit: 2, accountLimit: 100 });
    const windows = [{ id: `key:${c.keyId}:${c.rateClass}`, limit: 2 }];
    expect(limiter.knownRefusal(windows)).toBeNull();
    await limiter.check(c);
    await limiter.check(c);
    relay.requests = 0;
    const known = limiter.knownRefusal(windows);
    expect(relay.requests).toBe(0);
    expect(known).toEqual([expect.objectContaining({ success: false, remaining: 0, limit: 2 })]);
  });

  describe("fails closed", () => {
    let own: UpstashRelay;
    beforeEach(async () => {
      own = await startUpstashRelay({ redisUrl: redisUrl!, token: "t" });
    });
    afterEach(async () => {
      await own.close();
    });

    it("when the relay is gone (connection refused)", async () => {
      const limiter = upstash(own);
      await limiter.check(fresh());
      await own.close();
      const err = await expectUnavailable(limiter.check(fresh()));
      expect(err.message).toMatch(/^rate-limit store unavailable: .*ECONNREFUSED/);
    });

    it("when the store answers errors (500)", async () => {
      const limiter = upstash(own);
      own.mode = "error";
      await expectUnavailable(limiter.check(fresh()));
      own.mode = "normal";
      await expect(limiter.check(fresh())).resolves.toMatchObject({ key: { success: true } });
    });

    it("when the token is wrong (401)", async () => {
      const limiter = upstash({ url: own.url, token: "wrong" });
      await expectUnavailable(limiter.check(fresh()));
    });

    it("when the store hangs: refused by its own time budget, well before a client would give up", async () => {
      const limiter = upstash(own);
      own.mode = "hang";
      const err = await expectUnavailable(limiter.check(fresh()));
      // Refused because the budget ran out (not by some other error that came first).
      expect(err.message).toMatch(/^rate-limit store unavailable: .*(TimeoutError|aborted due to timeout|no answer within)/);
      // The next check gets a fresh abort signal: it is not refused at once.
      own.mode = "normal";
      await expect(limiter.check(fresh())).resolves.toMatchObject({ account: { success: true } });
    });

    it("when the answer is not a rate-limit reply", async () => {
      // A well-formed Upstash REST answer (one result per command sent, pipelined or not) whose
      // result is no rate-limit reply.
      const bogus: Server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c)).on("end", () => {
          let sent: unknown;
          try {
            sent = JSON.parse(Buffer.concat(chunks).toString("utf8"));
          } catch {
            sent = null;
          }
          const pipelined = Array.isArray(sent) && sent.every((c) => Array.isArray(c));
          res.writeHead(200, { "content-type": "application/json" });
          res.end(JSON.stringify(pipelined ? (sent as unknown[]).map(() => ({ result: "bogus" })) : { result: "bogus" }));
        });
      });
      await new Promise<void>((r) => bogus.listen(0, "127.0.0.1", r));
      try {
        const url = `http://127.0.0.1:${(bogus.address() as AddressInfo).port}`;
        // A generous budget: this refusal must come from the answer, not from a slow machine.
        const err = await expectUnavailable(upstash({ url, token: "t" }, 30_000).check(fresh()));
        expect(err.message).toContain("no usable answer");
      } finally {
        bogus.closeAllConnections();
        await new Promise<void>((r) => bogus.close(() => r()));
      }
    });
  });
});
