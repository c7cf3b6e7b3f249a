import { afterEach, describe, expect, it, vi } from "vitest";
import { getDb } from "@/db/client";
import { apiKey } from "@/db/schema";
import { eq } from "drizzle-orm";
import { client, createAccount, createKeyFor } from "../support/fixtures";
import { describeSecurity, useApiServer } from "../support/security";

const server = useApiServer();

describe("POST /api/v1/keys", () => {
  it("creates a key and shows its token once", async () => {
    const me = await createAccount();
    const api = client(server.url, me.token);
    const res = await api.post("/api/v1/keys", { name: "monitoring", scopes: ["read"] });
    expect(res.status).toBe(201);
    expect(res.body.token).toMatch(/^moc_[0-9A-Za-z]{8}_[0-9A-Za-z]{38}$/);
    expect(res.body.prefix).toBe(res.body.token.slice(0, 12));
    expect(res.body.scopes).toEqual(["instance:read", "provider:read", "integrations:read", "agents:read", "operations:read", "keys:read", "webhooks:read"]);
    expect(res.headers.get("location")).toBe(`${server.url}/api/v1/keys/${res.body.id}`);

    // The new key works, and its token is never shown again.
    const again = await client(server.url, res.body.token).get(`/api/v1/keys/${res.body.id}`);
    expect(again.status).toBe(200);
    expect(again.body.token).toBeUndefined();
    expect(again.body).toMatchObject({ id: res.body.id, name: "monitoring", expires_at: null });
    expect(again.text).not.toContain(res.body.token.slice(13));
  });

  it("never grants a scope the creating key lacks", async () => {
    const me = await createAccount({ scopes: ["keys:write", "keys:read", "instance:read"] });
    const api = client(server.url, me.token);
    const res = await api.post("/api/v1/keys", { name: "escalate", scopes: ["instance:write"] });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ code: "insufficient_scope", missing_scopes: ["instance:write"] });
    const all = await api.post("/api/v1/keys", { name: "escalate", scopes: ["all"] });
    expect(all.status).toBe(403);
    const ok = await api.post("/api/v1/keys", { name: "narrower", scopes: ["instance:read"] });
    expect(ok.status).toBe(201);
  });

  it("validates the body and names the field", async () => {
    const me = await createAccount();
    const api = client(server.url, me.token);
    const cases: [unknown, string][] = [
      [{ scopes: ["read"] }, "name"],
      [{ name: "x", scopes: [] }, "scopes"],
      [{ name: "x", scopes: ["instance:destroy"] }, "scopes[0]"],
      [{ name: "x", scopes: ["read"], color: "red" }, "color"],
      [{ name: "x", scopes: ["read"], expires_at: "tomorrow" }, "expires_at"],
      [{ name: "x", scopes: ["read"], expires_at: "2001-01-01T00:00:00Z" }, "expires_at"],
      [[1, 2], ""],
    ];
    for (const [body, path] of cases) {
      const res = await api.post("/api/v1/keys", body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.code).toBe("validation_error");
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
    }
  });

  it("accepts an expiry in the future", async () => {
    const me = await createAccount();
    const expires = new Date(Date.now() + 86_400_000).toISOString();
    const res = await client(server.url, me.token).post("/api/v1/keys", { name: "temp", scopes: ["read"], expires_at: expires });
    expect(res.status).toBe(201);
    expect(res.body.expires_at).toBe(expires);
  });
});

describe("GET /api/v1/keys", () => {
  it("lists live keys with prefix, scopes and times, never a secret or hash, in cursor pages", async () => {
    const me = await createAccount();
    const made = [me.keyId];
    for (let i = 0; i < 4; i++) made.push((await createKeyFor(me.accountId, { scopes: ["read"] })).id);
    const api = client(server.url, me.token);
    const first = await api.get("/api/v1/keys?limit=2");
    expect(first.status).toBe(200);
    expect(Array.isArray(first.body)).toBe(true);
    expect(first.body.map((k: { id: string }) => k.id)).toEqual(made.slice(0, 2));
    expect(Object.keys(first.body[0]).sort()).toEqual(["created_at", "expires_at", "id", "last_used_at", "name", "prefix", "scopes"]);
    const link = first.headers.get("link");
    expect(link).toMatch(/^<.+cursor=.+>; rel="next"$/);
    const next = link!.slice(1, link!.indexOf(">"));
    const second = await api.get(next);
    expect(second.body.map((k: { id: string }) => k.id)).toEqual(made.slice(2, 4));
    const third = await api.get(second.headers.get("link")!.slice(1, second.headers.get("link")!.indexOf(">")));
    expect(third.body.map((k: { id: string }) => k.id)).toEqual(made.slice(4));
    expect(third.headers.get("link")).toBeNull();
  });

  it("records when a key was last used", async () => {
    const me = await createAccount();
    const api = client(server.url, me.token);
    const other = await createKeyFor(me.accountId);
    expect((await api.get(`/api/v1/keys/${other.id}`)).body.last_used_at).toBeNull();
    expect((await client(server.url, other.token).get("/api/v1/account")).status).toBe(200);
    // Last use is written after the response: wait until it shows.
    await vi.waitFor(async () => expect((await api.get(`/api/v1/keys/${other.id}`)).body.last_used_at).not.toBeNull());
  });

  it("refuses a bad cursor or limit", async () => {
    const me = await createAccount();
    const api = client(server.url, me.token);
    expect((await api.get("/api/v1/keys?limit=0")).status).toBe(400);
    expect((await api.get("/api/v1/keys?limit=101")).status).toBe(400);
    const badCursor = await api.get("/api/v1/keys?cursor=garbage");
    expect({ status: badCursor.status, code: badCursor.body.code, path: badCursor.body.errors[0].path }).toEqual({ status: 400, code: "invalid_cursor", path: "query.cursor" });
    expect((await api.get("/api/v1/keys?sort=desc")).body.errors[0].path).toBe("query.sort");
  });
});

describe("DELETE /api/v1/keys/{id}", () => {
  it("revokes: the key stops working and leaves the listing", async () => {
    const me = await createAccount();
    const other = await createKeyFor(me.accountId);
    const api = client(server.url, me.token);
    expect((await client(server.url, other.token).get("/api/v1/account")).status).toBe(200);
    expect((await api.delete(`/api/v1/keys/${other.id}`)).status).toBe(204);
    expect((await client(server.url, other.token).get("/api/v1/account")).status).toBe(401);
    expect((await api.get(`/api/v1/keys/${other.id}`)).status).toBe(404);
    expect((await api.delete(`/api/v1/keys/${other.id}`)).status).toBe(404);
    const list = await api.get("/api/v1/keys");
    expect(list.body.map((k: { id: string }) => k.id)).toEqual([me.keyId]);
  });
});

describe("tokens at rest", () => {
  it("stores only an HMAC of the secret", async () => {
    const me = await createAccount();
    const db = await getDb();
    const [row] = await db.select().from(apiKey).where(eq(apiKey.id, me.keyId));
    const secret = me.token.split("_")[2]!;
    expect(JSON.stringify(row)).not.toContain(secret);
    expect(JSON.stringify(row)).not.toContain(secret.slice(0, 16));
    expect(row!.secretHash).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

describeSecurity("GET /api/v1/keys", server, { method: "GET", scope: "keys:read", path: () => "/api/v1/keys" });
describeSecurity("POST /api/v1/keys", server, { method: "POST", scope: "keys:write", path: () => "/api/v1/keys", body: { name: "x", scopes: ["keys:read"] } });
describeSecurity("GET /api/v1/keys/{id}", server, {
  method: "GET",
  scope: "keys:read",
  ownsResource: true,
  path: async (o) => `/api/v1/keys/${(await createKeyFor(o.accountId)).id}`,
});
describeSecurity("DELETE /api/v1/keys/{id}", server, {
  method: "DELETE",
  scope: "keys:write",
  ownsResource: true,
  path: async (o) => `/api/v1/keys/${(await createKeyFor(o.accountId)).id}`,
});

describe("the verified-key cache", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("still refuses a key whose expiry passed while it was remembered, and one revoked meanwhile", async () => {
    const me = await createAccount();
    const api = client(server.url, me.token);
    // Only Date is faked (the server runs in this process): the clock moves when the test says.
    const t0 = Date.UTC(2031, 0, 1, 12, 0, 0);
    vi.useFakeTimers({ toFake: ["Date"], now: t0 });
    const expiresAt = new Date(t0 + 5_000).toISOString(); // well inside the 10 s a verified key is remembered
    const short = await api.post("/api/v1/keys", { name: "brief", scopes: ["read"], expires_at: expiresAt });
    expect(short.status).toBe(201);
    const shortApi = client(server.url, short.body.token);
    expect((await shortApi.get("/api/v1/account")).status).toBe(200); // now remembered
    vi.setSystemTime(t0 + 4_999);
    expect((await shortApi.get("/api/v1/account")).status).toBe(200);
    vi.setSystemTime(t0 + 5_000);
    const expired = await shortApi.get("/api/v1/account");
    expect(expired.status).toBe(401);
    expect(expired.body.code).toBe("api_key_expired");
    vi.useRealTimers();

    const other = await createKeyFor(me.accountId);
    const otherApi = client(server.url, other.token);
    expect((await otherApi.get("/api/v1/account")).status).toBe(200);
    expect((await api.delete(`/api/v1/keys/${other.id}`)).status).toBe(204);
    expect((await otherApi.get("/api/v1/account")).status).toBe(401);
  });
});
