import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRateLimiter, MemoryRateLimiter, type RateCheck, type RateLimiter } from "@/lib/ratelimit";
import { serviceUrl } from "../support/services";
import { startUpstashRelay, type UpstashRelay } from "../support/upstash-relay";

// The account's auth version, read in the same call as the windows (lib/keys/auth-version.ts),
// answered alike by both limiters: the in-process one (embedded, exact in its one process) and
// the Upstash one on redis-server behind the REST relay.
const redisUrl = serviceUrl("tests/ratelimit/auth-version.test.ts (auth versions on redis-server)", "REDIS_URL");
const run = randomUUID().slice(0, 8);
let n = 0;

const checkOf = (accountId: string, version: number, fresh: boolean): RateCheck => ({
  keyId: `key-${run}-${++n}`,
  accountId,
  rateClass: "read",
  keyLimit: 10,
  accountLimit: 100,
  authVersion: { version, fresh },
});

function scenarios(limiter: () => RateLimiter) {
  it("a remembered principal is current until a newer version is published, then stale and not counted", async () => {
    const l = limiter();
    const acct = `acct-${run}-${++n}`;
    // The store knows nothing of the account: a remembered principal cannot be vouched for.
    expect((await l.check(checkOf(acct, 3, false))).authVersion).toBe("stale");
    // One read from the database teaches it the version.
    expect((await l.check(checkOf(acct, 3, true))).authVersion).toBe("current");
    const remembered = await l.check(checkOf(acct, 3, false));
    expect(remembered.authVersion).toBe("current");
    expect(remembered.account.remaining).toBe(98);

    await l.publishAuthVersion(acct, 4);
    const stale = await l.check(checkOf(acct, 3, false));
    expect(stale.authVersion).toBe("stale");
    // Not counted: the account's window still has what it had.
    expect((await l.check(checkOf(acct, 4, false))).account.remaining).toBe(97);
    // Publishing never lowers the version.
    await l.publishAuthVersion(acct, 2);
    expect((await l.check(checkOf(acct, 3, false))).authVersion).toBe("stale");
  });

  it("a principal read while a change is committing is counted but answered newer (not to be remembered)", async () => {
    const l = limiter();
    const acct = `acct-${run}-${++n}`;
    await l.publishAuthVersion(acct, 5);
    const during = await l.check(checkOf(acct, 4, true));
    expect(during.authVersion).toBe("newer");
    expect(during.key.success).toBe(true);
    expect(during.account.remaining).toBe(99);
    expect((await l.check(checkOf(acct, 5, true))).authVersion).toBe("current");
  });

  it("a check without a version reads none", async () => {
    const l = limiter();
    const { authVersion: _, ...plain } = checkOf(`acct-${run}-${++n}`, 0, false);
    expect((await l.check(plain)).authVersion).toBeUndefined();
  });
}

describe("the in-process limiter's auth versions", () => scenarios(() => new MemoryRateLimiter()));

describe.skipIf(!redisUrl)("the Upstash limiter's auth versions (redis-server behind the REST relay)", () => {
  let relay: UpstashRelay;
  beforeAll(async () => {
    relay = await startUpstashRelay({ redisUrl: redisUrl!, token: "version-token" });
  });
  afterAll(async () => {
    await relay?.close();
  });
  scenarios(() => createRateLimiter({ kind: "upstash", url: relay.url, token: relay.token, timeoutMs: 1000 }, { prefix: `test:${run}` }));
});
