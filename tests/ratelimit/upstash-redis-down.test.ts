import { spawn, type ChildProcess } from "node:child_process";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRateLimiter, RateLimiterUnavailable, type RateCheck, type RateOutcome } from "@/lib/ratelimit";
import { freePort, hasBinary } from "../support/services";
import { startUpstashRelay, type UpstashRelay } from "../support/upstash-relay";

// Its own redis-server, on its own port, so it can be killed without touching REDIS_URL's.
const available = hasBinary("tests/ratelimit/upstash-redis-down.test.ts (redis-server stopped mid-test)", "redis-server");
const TIMEOUT_MS = 1000;

function startRedis(port: number): ChildProcess {
  return spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdio: "ignore",
  });
}

async function waitForPort(port: number, withinMs = 5000): Promise<void> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const s = connect({ host: "127.0.0.1", port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (up) return;
    if (Date.now() > deadline) throw new Error(`redis-server did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stop(p: ChildProcess | undefined): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once("exit", r));
  p.kill("SIGKILL");
  await exited;
}

describe.skipIf(!available)("UpstashRateLimiter when redis-server stops behind the relay", () => {
  let port: number;
  let redis: ChildProcess | undefined;
  let relay: UpstashRelay;

  beforeAll(async () => {
    port = await freePort();
    redis = startRedis(port);
    await waitForPort(port);
    relay = await startUpstashRelay({ redisUrl: `redis://127.0.0.1:${port}`, token: "down-test" });
  });
  afterAll(async () => {
    await relay?.close();
    await stop(redis);
  });

  it("refuses while Redis is down, then recovers once it is back", async () => {
    const limiter = createRateLimiter({ kind: "upstash", url: relay.url, token: relay.token, timeoutMs: TIMEOUT_MS });
    const c: RateCheck = { keyId: "k1", accountId: "a1", rateClass: "write", keyLimit: 3, accountLimit: 10 };
    expect((await limiter.check(c)).key).toMatchObject({ success: true, remaining: 2 });

    await stop(redis); // crash: SIGKILL, nothing saved
    const err = await limiter.check(c).then(
      () => null,
      (e: unknown) => e,
    );
    // Fails closed (a check that hung instead would run into the test's time limit).
    expect(err).toBeInstanceOf(RateLimiterUnavailable);
    expect((err as Error).message).toMatch(/^rate-limit store unavailable: /);

    // Back, empty (no persistence) and without the scripts: EVALSHA -> NOSCRIPT -> EVAL.
    redis = startRedis(port);
    await waitForPort(port);
    let outcome: RateOutcome | undefined;
    const deadline = Date.now() + 5000;
    while (!outcome && Date.now() < deadline) {
      outcome = await limiter.check(c).catch(() => undefined);
      if (!outcome) await new Promise((r) => setTimeout(r, 100));
    }
    expect(outcome?.key).toMatchObject({ success: true, remaining: 2 });
  });
});
