import http from "node:http";
import type { AddressInfo } from "node:net";
import { count, eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import { apiKey } from "@/db/schema";
import { config, resetConfig } from "@/lib/config";
import { PLANS } from "@/lib/plans";
import { createRateLimiter, MemoryRateLimiter, resetRateLimiter, setRateLimiter } from "@/lib/ratelimit";
import { client, createAccount, createKeyFor, createRunningInstance, uniqueSubdomain } from "../support/fixtures";
import { useApiServer } from "../support/security";
import { serviceUrl } from "../support/services";
import { startUpstashRelay } from "../support/upstash-relay";

const server = useApiServer();

// The limiter's clock stands still in the middle of the current window, so a run that crosses a
// minute boundary cannot blur the counts. (Header seconds are relative to the real clock.)
const T = Math.floor(Date.now() / 60_000) * 60_000 + 30_000;
// A sliding window's whole quota is back within two minutes of the last request it counted.
const secondsLeft = (v: string | null) => {
  expect(v).toMatch(/^\d+$/); // Number(null) would be 0, and pass below
  const n = Number(v);
  expect(n).toBeGreaterThanOrEqual(0);
  expect(n).toBeLessThanOrEqual(120);
  return n;
};
beforeEach(() => setRateLimiter(new MemoryRateLimiter(() => T)));
afterEach(() => resetRateLimiter());

const hammer = async (n: number, fn: () => Promise<{ status: number }>) => {
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) statuses.push((await fn()).status);
  return statuses;
};

describe("rate limits", () => {
  it("puts the limit headers on every authenticated response, errors included", async () => {
    const me = await createAccount({ plan: "pro" });
    const api = client(server.url, me.token);
    for (const res of [await api.get("/api/v1/account"), await api.get("/api/v1/instances/nope"), await api.post("/api/v1/keys", { bad: 1 })]) {
      expect(res.headers.get("x-ratelimit-limit")).toMatch(/^\d+$/);
      expect(res.headers.get("x-ratelimit-remaining")).toMatch(/^\d+$/);
      expect(res.headers.get("ratelimit-policy")).toMatch(/"key-(read|write)";q=\d+;w=60, "account";q=1000;w=60/);
      const m = /^"key-(read|write)";r=(\d+);t=(\d+), "account";r=(\d+);t=(\d+)$/.exec(res.headers.get("ratelimit") ?? "");
      expect(m).not.toBeNull();
      // X-RateLimit-Reset (Unix seconds) is the key window's `t` from the limiter's clock: when its whole quota is back.
      expect(Number(res.headers.get("x-ratelimit-reset"))).toBe(Math.ceil(T / 1000) + secondsLeft(m![3]!));
    }
    const read = await api.get("/api/v1/account");
    expect(read.headers.get("x-ratelimit-limit")).toBe("120");
    expect(read.headers.get("x-ratelimit-remaining")).toBe("117"); // two reads before this one, and this one
  });

  it("refuses a Pro key's 121st read in a minute with 429, Retry-After and which limit", async () => {
    const me = await createAccount({ plan: "pro" });
    const api = client(server.url, me.token);
    const statuses = await hammer(120, () => api.get("/api/v1/account"));
    expect(statuses.every((s) => s === 200)).toBe(true);
    const refused = await api.get("/api/v1/account");
    expect(refused.status).toBe(429);
    expect(refused.headers.get("content-type")).toBe("application/problem+json");
    expect(refused.body).toMatchObject({ code: "rate_limited", limit: "key", rate_class: "read" });
    expect(secondsLeft(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(refused.headers.get("x-ratelimit-remaining")).toBe("0");
    // Another key of the same account has its own per-key window.
    const other = await createKeyFor(me.accountId);
    expect((await client(server.url, other.token).get("/api/v1/account")).status).toBe(200);
  });

  it("gives Business keys the higher limits", async () => {
    const me = await createAccount({ plan: "business" });
    const res = await client(server.url, me.token).get("/api/v1/account");
    expect(res.headers.get("x-ratelimit-limit")).toBe(String(PLANS.business.rate.read));
    expect(res.headers.get("ratelimit-policy")).toContain(`"account";q=${PLANS.business.accountPerMinute}`);
    const writes = await client(server.url, me.token).post("/api/v1/keys", { name: "w", scopes: ["read"] });
    expect(writes.headers.get("x-ratelimit-limit")).toBe(String(PLANS.business.rate.write));
  });

  it("counts heavy requests apart from writes", async () => {
    const me = await createAccount({ plan: "pro" });
    const api = client(server.url, me.token);
    const statuses = await hammer(5, () => api.post(`/api/v1/instances/nope/start`));
    expect(statuses).toEqual([404, 404, 404, 404, 404]);
    const sixth = await api.post(`/api/v1/instances/nope/stop`);
    expect(sixth.status).toBe(429);
    expect(sixth.body).toMatchObject({ limit: "key", rate_class: "heavy" });
    expect((await api.post("/api/v1/keys", { name: "w", scopes: ["read"] })).status).toBe(201);
  });

  it("holds the account's ceiling across all its keys", async () => {
    const me = await createAccount({ plan: "pro", limits: { account: 10 } });
    const second = await createKeyFor(me.accountId);
    const a = client(server.url, me.token);
    const b = client(server.url, second.token);
    expect(await hammer(5, () => a.get("/api/v1/account"))).toEqual([200, 200, 200, 200, 200]);
    expect(await hammer(5, () => b.get("/api/v1/account"))).toEqual([200, 200, 200, 200, 200]);
    const refused = await a.get("/api/v1/account");
    expect(refused.status).toBe(429);
    expect(refused.body.limit).toBe("account");
    expect(refused.body.detail).toContain("all its keys");
    // A different account is untouched.
    expect((await client(server.url, (await createAccount()).token).get("/api/v1/account")).status).toBe(200);
  });

  it("runs no query for reads this process already knows the limiter refuses: a key over its limit costs the database nothing", async () => {
    const me = await createAccount({ plan: "pro", limits: { read: 1 } });
    const api = client(server.url, me.token);
    expect((await api.get("/api/v1/keys")).status).toBe(200);
    expect((await api.get("/api/v1/keys")).status).toBe(429); // the limiter's answer, now known to this process
    const db = await getDb();
    const select = db.select;
    let selects = 0;
    db.select = ((...args: Parameters<typeof select>) => (selects++, select.apply(db, args))) as typeof select;
    try {
      for (let i = 0; i < 5; i++) {
        const refused = await api.get("/api/v1/keys?limit=100");
        expect(refused.status).toBe(429);
        expect(refused.body).not.toHaveProperty("length");
      }
    } finally {
      db.select = select;
    }
    expect(selects).toBe(0);
  });

  it("does not execute a refused request", async () => {
    const me = await createAccount({ plan: "pro", limits: { write: 2 } });
    const api = client(server.url, me.token);
    expect(await hammer(3, () => api.post("/api/v1/keys", { name: "k", scopes: ["read"] }))).toEqual([201, 201, 429]);
    const db = await getDb();
    const [{ n }] = (await db.select({ n: count() }).from(apiKey).where(eq(apiKey.accountId, me.accountId))) as [{ n: number }];
    expect(n).toBe(3); // the fixture's key and two created
  });
});

/** An Upstash-shaped endpoint that fails in a chosen way. */
async function brokenStore(mode: "refuse" | "error" | "hang") {
  if (mode === "refuse") {
    const s = http.createServer();
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
    const { port } = s.address() as AddressInfo;
    await new Promise<void>((r) => s.close(() => r()));
    return { url: `http://127.0.0.1:${port}`, close: async () => undefined };
  }
  const sockets = new Set<import("node:net").Socket>();
  const s = http.createServer((_req, res) => {
    if (mode === "error") res.writeHead(500, { "content-type": "application/json" }).end('{"error":"ERR internal"}');
    // "hang": never answer
  });
  s.on("connection", (c) => sockets.add(c));
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const c of sockets) c.destroy();
      await new Promise<void>((r) => s.close(() => r()));
    },
  };
}

describe("fail closed when the rate-limit store is unavailable", () => {
  const useUpstash = (url: string) => {
    process.env.UPSTASH_REDIS_REST_URL = url;
    process.env.UPSTASH_REDIS_REST_TOKEN = "test-token";
    process.env.RATE_LIMIT_TIMEOUT_MS = "500";
    resetConfig();
    resetRateLimiter();
  };
  afterEach(() => {
    delete process.env.UPSTASH_REDIS_REST_URL;
    delete process.env.UPSTASH_REDIS_REST_TOKEN;
    delete process.env.RATE_LIMIT_TIMEOUT_MS;
    resetConfig();
    resetRateLimiter();
  });

  for (const mode of ["refuse", "error", "hang"] as const) {
    it(`refuses with 503 and executes nothing when the store ${mode === "refuse" ? "refuses connections" : mode === "error" ? "answers errors" : "does not answer"}`, async () => {
      const me = await createAccount({ plan: "pro" });
      const store = await brokenStore(mode);
      try {
        useUpstash(store.url);
        const api = client(server.url, me.token);
        // Refused (a request that hung on the store instead would run into the test's time limit).
        const res = await api.post("/api/v1/keys", { name: "never", scopes: ["read"] });
        expect(res.status).toBe(503);
        expect(res.body.code).toBe("rate_limiter_unavailable");
        expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
        expect((await api.get("/api/v1/account")).status).toBe(503);
      } finally {
        await store.close();
      }
      const db = await getDb();
      const [{ n }] = (await db.select({ n: count() }).from(apiKey).where(eq(apiKey.accountId, me.accountId))) as [{ n: number }];
      expect(n).toBe(1);
    });
  }

  const redisUrl = serviceUrl("rate limits through the real Upstash client and redis-server", "REDIS_URL");
  it.skipIf(!redisUrl)("limits through the real Upstash client against redis-server, then fails closed when the relay goes down", async () => {
    const relay = await startUpstashRelay({ redisUrl: redisUrl! });
    try {
      useUpstash(relay.url);
      process.env.UPSTASH_REDIS_REST_TOKEN = relay.token;
      resetConfig();
      // On this file's standing clock, so the counts cannot blur across a minute turning between the requests.
      setRateLimiter(createRateLimiter(config().rateLimit, { now: () => T }));
      const me = await createAccount({ plan: "pro", limits: { heavy: 2 } });
      const api = client(server.url, me.token);
      const { id } = await createRunningInstance(client(server.url, (await createKeyFor(me.accountId)).token), uniqueSubdomain("up"));
      const first = await api.get(`/api/v1/instances/${id}`);
      expect(first.status).toBe(200);
      expect(first.headers.get("x-ratelimit-limit")).toBe("120");
      expect(first.headers.get("x-ratelimit-remaining")).toBe("119");
      expect((await api.post(`/api/v1/instances/${id}/start`)).status).toBe(409);
      expect((await api.post(`/api/v1/instances/${id}/start`)).status).toBe(409);
      const third = await api.post(`/api/v1/instances/${id}/start`);
      expect(third.status).toBe(429);
      expect(third.body).toMatchObject({ limit: "key", rate_class: "heavy" });
      relay.mode = "hang";
      expect((await api.get("/api/v1/account")).status).toBe(503);
    } finally {
      await relay.close();
    }
  });
});
