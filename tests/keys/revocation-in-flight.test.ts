import { and, count, eq, isNull } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import { apiKey } from "@/db/schema";
import { setPlan } from "@/lib/services/accounts";
import { client, createAccount, createKeyFor, uniqueSubdomain } from "../support/fixtures";
import { useApiServer } from "../support/security";
import { slowRequest } from "../support/slow-request";

// Revocation is final for mutations: a request whose headers arrived before
// DELETE /keys/{id} answered 204, and whose body finished after, commits nothing.
const server = useApiServer();

/** Waits until the key has been used (its verification recorded), i.e. the request got past authentication. */
async function authenticated(keyId: string) {
  const db = await getDb();
  await expect
    .poll(async () => (await db.select({ at: apiKey.lastUsedAt }).from(apiKey).where(eq(apiKey.id, keyId)))[0]?.at ?? null, { timeout: 10_000 })
    .not.toBeNull();
}

describe("a key revoked while its mutation is in flight", () => {
  const cases = [
    { name: "POST /instances (the issue's input)", path: "/api/v1/instances", body: () => `"${uniqueSubdomain("rv")}"}`, start: '{"subdomain":' },
    { name: "POST /keys", path: "/api/v1/keys", body: () => `"read"]}`, start: '{"name":"late","scopes":[' },
  ];
  for (const c of cases) {
    it(`${c.name}: headers before the revocation, body after: 401, nothing created`, async () => {
      const me = await createAccount({ plan: "business", limits: { heavy: 100 } });
      const victim = await createKeyFor(me.accountId);
      const admin = client(server.url, me.token);
      const before = (await admin.get("/api/v1/instances")).body.length + (await admin.get("/api/v1/keys")).body.length;

      const slow = slowRequest(server.url, "POST", c.path, { authorization: `Bearer ${victim.token}`, "content-type": "application/json" }, c.start);
      await authenticated(victim.id);
      expect((await admin.delete(`/api/v1/keys/${victim.id}`)).status).toBe(204);
      const res = await slow.finish(c.body());

      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ code: "invalid_api_key" });
      expect(res.body.detail).toMatch(/revoked/);
      const after = (await admin.get("/api/v1/instances")).body.length + (await admin.get("/api/v1/keys")).body.length;
      expect(after).toBe(before - 1); // the revoked key is gone from the list; nothing was added
    });
  }

  it("a plan without API access set while the mutation's body streams: 403 plan_without_api_access, nothing created", async () => {
    const me = await createAccount({ plan: "business" });
    const db = await getDb();
    const live = async () =>
      (await db.select({ n: count() }).from(apiKey).where(and(eq(apiKey.accountId, me.accountId), isNull(apiKey.revokedAt))))[0]!.n;
    const before = await live();
    const slow = slowRequest(server.url, "POST", "/api/v1/keys", { authorization: `Bearer ${me.token}`, "content-type": "application/json" }, '{"name":"late",');
    await authenticated(me.keyId);
    await setPlan(db, me.email, "starter");
    const res = await slow.finish('"scopes":["read"]}');
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ code: "plan_without_api_access" });
    expect(res.body.detail).toMatch(/starter.*in flight/);
    expect(await live()).toBe(before);
  });

  it("a mutation that finished before the revocation stands", async () => {
    const me = await createAccount({ plan: "business", limits: { heavy: 100 } });
    const victim = await createKeyFor(me.accountId);
    const made = await client(server.url, victim.token).post("/api/v1/keys", { name: "before", scopes: ["read"] });
    expect(made.status).toBe(201);
    expect((await client(server.url, me.token).delete(`/api/v1/keys/${victim.id}`)).status).toBe(204);
    expect((await client(server.url, made.body.token).get("/api/v1/account")).status).toBe(200);
  });
});
