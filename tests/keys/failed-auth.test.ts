import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import { config } from "@/lib/config";
import { resetTokenMemory } from "@/lib/keys/token-check";
import { formatToken, generateToken, parseToken } from "@/lib/keys/token";
import { MemoryRateLimiter, RATE_WINDOW_MS, resetRateLimiter, setRateLimiter } from "@/lib/ratelimit";
import { AUTH_FAILURE_LIMITS } from "@/lib/ratelimit/failures";
import { client, createAccount } from "../support/fixtures";
import { useApiServer } from "../support/security";

// Failed authentications are limited (429, with the rate-limit headers): per
// claimed key id, per client address where the deployment can tell it
// (Vercel's own headers), and overall; a token known to fail costs no
// database query.
const server = useApiServer();

let t = 0;
beforeEach(() => {
  t = Math.floor(Date.now() / RATE_WINDOW_MS) * RATE_WINDOW_MS + 1000;
  setRateLimiter(new MemoryRateLimiter(() => t));
  resetTokenMemory();
});
afterEach(() => {
  resetRateLimiter();
  resetTokenMemory();
  delete (globalThis as { __mocConfig?: unknown }).__mocConfig;
});

/** Counts the queries that read api_key on the database client, as the key lookup does. */
async function keyLookups() {
  const db = (await getDb()) as unknown as { $client: { query: (...a: unknown[]) => Promise<unknown> } };
  const target = db.$client;
  const original = target.query;
  let n = 0;
  target.query = function (this: unknown, ...args: unknown[]) {
    const text = typeof args[0] === "string" ? args[0] : (args[0] as { text?: string })?.text;
    if (text?.includes('from "api_key"')) n++;
    return original.apply(this, args);
  };
  return { get count() { return n; }, restore: () => void (target.query = original) }; // prettier-ignore
}

const call = (token: string, headers: Record<string, string> = {}) => client(server.url, token).get("/api/v1/account", { headers });

describe("failed authentication", () => {
  // 900 requests one after another: a few seconds alone, longer on a busy machine.
  it("900 well-formed unknown tokens in a row (the issue's input): refused with 429 past the overall limit, with no lookup after it", { timeout: 180_000 }, async () => {
    const me = await createAccount();
    expect((await call(me.token)).status).toBe(200);
    const lookups = await keyLookups();
    try {
      const statuses: number[] = [];
      let lastRefusal: Awaited<ReturnType<typeof call>> | undefined;
      for (let i = 0; i < 900; i++) {
        const res = await call(generateToken().token);
        statuses.push(res.status);
        if (res.status === 429) lastRefusal = res;
      }
      expect(statuses.slice(0, AUTH_FAILURE_LIMITS.overall).every((s) => s === 401)).toBe(true);
      expect(statuses.slice(AUTH_FAILURE_LIMITS.overall).every((s) => s === 429)).toBe(true);
      expect(lookups.count).toBe(AUTH_FAILURE_LIMITS.overall);
      expect(lastRefusal!.headers.get("content-type")).toBe("application/problem+json");
      expect(lastRefusal!.body).toMatchObject({ code: "rate_limited", limit: "auth-failures" });
      expect(Number(lastRefusal!.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(lastRefusal!.headers.get("x-ratelimit-remaining")).toBe("0");
      expect(lastRefusal!.headers.get("ratelimit-policy")).toContain(`"auth-failures";q=${AUTH_FAILURE_LIMITS.overall};w=60`);
    } finally {
      lookups.restore();
    }
    // A key this process has seen keeps working: someone else's failures do not lock its holder out,
    // nor do guesses at its own public id.
    expect((await call(me.token)).status).toBe(200);
    const { shortId } = parseToken(me.token)!;
    for (let i = 0; i < 3; i++) expect((await call(formatToken(shortId, generateToken().secret))).status).toBe(429);
    expect((await call(me.token)).status).toBe(200);
  });

  it("a revoked key used again and again (a forgotten cron job): one lookup, then 401s from memory, then 429 per key id", async () => {
    const me = await createAccount();
    const other = await createAccount();
    const api = client(server.url, me.token);
    const made = await api.post("/api/v1/keys", { name: "cron", scopes: ["read"] });
    expect((await api.delete(`/api/v1/keys/${made.body.id}`)).status).toBe(204);
    const lookups = await keyLookups();
    try {
      const statuses: number[] = [];
      for (let i = 0; i < AUTH_FAILURE_LIMITS.key + 2; i++) {
        const res = await call(made.body.token);
        statuses.push(res.status);
        if (res.status === 401) expect(res.body.detail).toMatch(/revoked/);
      }
      expect(statuses).toEqual([...Array(AUTH_FAILURE_LIMITS.key).fill(401), 429, 429]);
      expect(lookups.count).toBe(1);
      const refused = await call(made.body.token);
      expect(refused.body).toMatchObject({ code: "rate_limited", limit: "auth-failures-key" });
      // Other keys are not affected by this key id's failures.
      expect((await call(other.token)).status).toBe(200);
      // Once the window has room again, the refusal is a 401 again.
      t += Number(refused.headers.get("retry-after")) * 1000;
      expect((await call(made.body.token)).status).toBe(401);
    } finally {
      lookups.restore();
    }
  });

  it("guessing secrets for one key id: 429 after the limit, whatever X-Forwarded-For the client claims", async () => {
    const me = await createAccount();
    const { shortId } = parseToken(me.token)!;
    const statuses: number[] = [];
    for (let i = 0; i < AUTH_FAILURE_LIMITS.key + 3; i++) {
      const token = formatToken(shortId, generateToken().secret);
      const spoof = `203.0.113.${i}`;
      statuses.push((await call(token, { "x-forwarded-for": spoof, "x-real-ip": spoof, "x-vercel-forwarded-for": spoof })).status);
    }
    expect(statuses).toEqual([...Array(AUTH_FAILURE_LIMITS.key).fill(401), 429, 429, 429]);
    // The guesses' lookups showed this process the key's stored secret: its holder's token is vouched for
    // without a lookup and admitted, while the guesses go on being refused.
    expect((await call(me.token)).status).toBe(200);
    expect((await call(formatToken(shortId, generateToken().secret))).status).toBe(429);
  });

  it("on Vercel, per client address from Vercel's own header: one address is limited, another is not", async () => {
    (globalThis as { __mocConfig?: unknown }).__mocConfig = { ...config(), clientAddressHeaders: ["x-vercel-forwarded-for", "x-real-ip"] };
    const from = (ip: string) => ({ "x-vercel-forwarded-for": ip });
    const statuses: number[] = [];
    for (let i = 0; i < AUTH_FAILURE_LIMITS.address + 2; i++) statuses.push((await call(generateToken().token, from("198.51.100.7"))).status);
    expect(statuses).toEqual([...Array(AUTH_FAILURE_LIMITS.address).fill(401), 429, 429]);
    const refused = await call(generateToken().token, from("198.51.100.7"));
    expect(refused.body.limit).toBe("auth-failures-address");
    expect((await call(generateToken().token, from("198.51.100.8"))).status).toBe(401);
  });

  it("malformed tokens cost nothing and are never counted", async () => {
    const lookups = await keyLookups();
    try {
      for (let i = 0; i < 50; i++) expect((await call(`moc_${"x".repeat(8)}_${i}`)).status).toBe(401);
      expect(lookups.count).toBe(0);
      expect((await call(generateToken().token)).status).toBe(401);
    } finally {
      lookups.restore();
    }
  });
});
