import { randomBytes } from "node:crypto";
import { and, count, eq } from "drizzle-orm";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import { apiKey, account } from "@/db/schema";
import { resetConfig } from "@/lib/config";
import { resetRateLimiter } from "@/lib/ratelimit";
import { authVersionKey } from "@/lib/ratelimit/upstash";
import { startApiProcess, type ApiProcess } from "../support/api-process";
import { client, createAccount, createKeyFor, type ApiResponse } from "../support/fixtures";
import { useRealPostgres } from "../support/real-postgres";
import { serviceUrl } from "../support/services";
import { startUpstashRelay, type UpstashRelay } from "../support/upstash-relay";

// Two server processes (real OS processes, nothing in memory shared) in front of one Postgres
// server and one Redis behind the Upstash REST relay: each remembers the keys it verified, and
// learns of a revocation, a plan or a limit change made through the other in the rate-limit
// round trip of its very next request (lib/keys/auth-version.ts).
const SUITE = "two API server processes sharing one Postgres and one Redis";
const pg = useRealPostgres(SUITE);
const redisUrl = pg ? serviceUrl(SUITE, "REDIS_URL") : undefined;
const OPERATOR_TOKEN = randomBytes(32).toString("base64url");

const expectProblem = (res: ApiResponse, status: number, code: string) => {
  expect(res.status, res.text).toBe(status);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  expect((res.body as { code: string }).code).toBe(code);
};

describe.skipIf(!pg || !redisUrl)(SUITE, () => {
  let relay: UpstashRelay;
  let a: ApiProcess;
  let b: ApiProcess;
  let redis: Redis;
  const saved = { url: process.env.UPSTASH_REDIS_REST_URL, token: process.env.UPSTASH_REDIS_REST_TOKEN };

  beforeAll(async () => {
    relay = await startUpstashRelay({ redisUrl: redisUrl! });
    redis = new Redis(redisUrl!);
    const env = { DATABASE_URL: pg!, UPSTASH_REDIS_REST_URL: relay.url, UPSTASH_REDIS_REST_TOKEN: relay.token, OPERATOR_TOKEN };
    [a, b] = await Promise.all([startApiProcess(env), startApiProcess(env)]);
    // This process (the fixtures' accounts and keys) is a third one on the same stores.
    process.env.UPSTASH_REDIS_REST_URL = relay.url;
    process.env.UPSTASH_REDIS_REST_TOKEN = relay.token;
    resetConfig();
    resetRateLimiter();
  }, 120_000);
  afterEach(() => {
    relay.mode = "normal";
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await relay?.close();
    redis?.disconnect();
    for (const [k, v] of [["UPSTASH_REDIS_REST_URL", saved.url], ["UPSTASH_REDIS_REST_TOKEN", saved.token]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    resetConfig();
    resetRateLimiter();
  });

  const operator = async (server: ApiProcess, command: string, args: Record<string, string>): Promise<ApiResponse> => {
    const res = await fetch(new URL("/api/operator/run", server.url), {
      method: "POST",
      headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ command, args }),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined, text };
  };
  const keysOf = async (accountId: string) => (await (await getDb()).select({ n: count() }).from(apiKey).where(eq(apiKey.accountId, accountId)))[0]!.n;

  it("a key revoked through one process is refused by the other on its very next request", async () => {
    const me = await createAccount({ plan: "pro" });
    const victim = await createKeyFor(me.accountId);
    const onB = client(b.url, victim.token);
    expect((await onB.get("/api/v1/account")).status).toBe(200);
    // B remembers the key: a change made behind the service's back (no auth version raised) does not reach it...
    await (await getDb()).update(apiKey).set({ scopes: [] }).where(eq(apiKey.id, victim.id));
    expect((await onB.get("/api/v1/keys")).status).toBe(200);
    // ...a revocation through A does, at B's very next request.
    expect((await client(a.url, me.token).delete(`/api/v1/keys/${victim.id}`)).status).toBe(204);
    expectProblem(await onB.get("/api/v1/keys"), 401, "invalid_api_key");
    expectProblem(await onB.post("/api/v1/keys", { name: "late", scopes: ["read"] }), 401, "invalid_api_key");
    expectProblem(await client(a.url, victim.token).get("/api/v1/keys"), 401, "invalid_api_key");
    // The account's other key, which B also remembers, goes on working there.
    expect((await client(b.url, me.token).get("/api/v1/keys")).status).toBe(200);
  });

  it("a revocation by the operator through one process reaches the other likewise", async () => {
    const me = await createAccount({ plan: "pro" });
    const onB = client(b.url, me.token);
    expect((await onB.get("/api/v1/account")).status).toBe(200);
    expect((await operator(a, "revoke-key", { key: me.keyId })).status).toBe(200);
    expectProblem(await onB.get("/api/v1/account"), 401, "invalid_api_key");
  });

  it("limits and the plan changed through one process are what the other enforces on its very next request", async () => {
    const me = await createAccount({ plan: "pro" });
    const onB = client(b.url, me.token);
    const first = await onB.get("/api/v1/account");
    expect(first.headers.get("x-ratelimit-limit")).toBe("120");

    const set = await operator(a, "set-limits", { email: me.email, read: "7" });
    expect(set.status, set.text).toBe(200);
    const after = await onB.get("/api/v1/account");
    expect(after.status).toBe(200);
    expect(after.headers.get("x-ratelimit-limit")).toBe("7");
    expect(after.body.limits.requests_per_minute.read).toBe(7);

    const plan = await operator(a, "set-plan", { email: me.email, plan: "business" });
    expect(plan.status, plan.text).toBe(200);
    const business = await onB.get("/api/v1/account");
    expect(business.body.plan).toBe("business");
    expect(business.headers.get("x-ratelimit-limit")).toBe("7"); // the override stays

    expect((await operator(a, "set-plan", { email: me.email, plan: "starter" })).status).toBe(200);
    expectProblem(await onB.get("/api/v1/account"), 403, "plan_without_api_access");
  });

  it("a read refused by the limiter returns nothing of its query, and a refused mutation executes nothing", async () => {
    const me = await createAccount({ plan: "pro", limits: { read: 1, write: 1 } });
    const hidden = `hidden-${randomBytes(6).toString("hex")}`;
    expect((await client(a.url, me.token).post("/api/v1/keys", { name: hidden, scopes: ["read"] })).status).toBe(201);
    const admitted = await client(a.url, me.token).get("/api/v1/keys");
    expect(admitted.status).toBe(200);
    expect(admitted.text).toContain(hidden);
    // B has not seen the key yet: it reads it from Postgres, runs the list alongside the limiter, and drops it.
    const refused = await client(b.url, me.token).get("/api/v1/keys");
    expectProblem(refused, 429, "rate_limited");
    expect(refused.text).not.toContain(hidden);
    expect(refused.text).not.toContain("key_");
    // Now remembered there: refused again, and again nothing of the list.
    const again = await client(b.url, me.token).get("/api/v1/keys");
    expectProblem(again, 429, "rate_limited");
    expect(again.text).not.toContain(hidden);

    const keys = await keysOf(me.accountId);
    expectProblem(await client(b.url, me.token).post("/api/v1/keys", { name: "never", scopes: ["read"] }), 429, "rate_limited");
    expect(await keysOf(me.accountId)).toBe(keys);
  });

  it("with the store unreachable both processes refuse with 503 and execute nothing, and a revocation that cannot be published rolls back", async () => {
    const me = await createAccount({ plan: "pro" });
    const victim = await createKeyFor(me.accountId);
    for (const s of [a, b]) expect((await client(s.url, me.token).get("/api/v1/keys")).status).toBe(200); // both remember it
    const keys = await keysOf(me.accountId);
    relay.mode = "error";
    for (const s of [a, b]) {
      expectProblem(await client(s.url, me.token).get("/api/v1/keys"), 503, "rate_limiter_unavailable");
      expectProblem(await client(s.url, me.token).post("/api/v1/keys", { name: "never", scopes: ["read"] }), 503, "rate_limiter_unavailable");
      expectProblem(await client(s.url, victim.token).get("/api/v1/keys"), 503, "rate_limiter_unavailable"); // read from Postgres, then refused
    }
    // The operator's revocation passes no limiter, but must tell the store before it commits: it cannot, so nothing is revoked.
    expectProblem(await operator(a, "revoke-key", { key: victim.id }), 503, "rate_limiter_unavailable");
    relay.mode = "normal";
    expect(await keysOf(me.accountId)).toBe(keys);
    const [row] = await (await getDb()).select({ revokedAt: apiKey.revokedAt }).from(apiKey).where(eq(apiKey.id, victim.id));
    expect(row!.revokedAt).toBeNull();
    expect((await client(b.url, victim.token).get("/api/v1/keys")).status).toBe(200);
  });

  it("refuses with 503 and executes nothing when the auth version is what cannot be read", async () => {
    const me = await createAccount({ plan: "pro" });
    const onB = client(b.url, me.token);
    expect((await onB.get("/api/v1/keys")).status).toBe(200);
    const key = authVersionKey(me.accountId);
    // The rate-limit windows can be read and counted; the account's version cannot (a value of the wrong type).
    await redis.del(key);
    await redis.rpush(key, "not a version");
    try {
      const keys = await keysOf(me.accountId);
      expectProblem(await onB.get("/api/v1/keys"), 503, "rate_limiter_unavailable");
      expectProblem(await onB.post("/api/v1/keys", { name: "never", scopes: ["read"] }), 503, "rate_limiter_unavailable");
      expectProblem(await client(a.url, me.token).get("/api/v1/keys"), 503, "rate_limiter_unavailable");
      expect(await keysOf(me.accountId)).toBe(keys);
    } finally {
      await redis.del(key);
    }
    // A version the store no longer holds (expired, or a Redis restarted empty): B reads the key again, and goes on.
    expect((await onB.get("/api/v1/keys")).status).toBe(200);
    const [acct] = await (await getDb()).select({ v: account.authVersion }).from(account).where(and(eq(account.id, me.accountId)));
    expect(await redis.get(key)).toBe(String(acct!.v));
  });
});
