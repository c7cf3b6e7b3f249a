import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import { idempotencyKey } from "@/db/schema";
import { client, createAccount, createRunningInstance, uniqueSubdomain, waitForOperation } from "../support/fixtures";
import { useApiServer } from "../support/security";

const server = useApiServer();
const newApi = async () => {
  const me = await createAccount({ plan: "business", limits: { heavy: 100 } });
  return { me, api: client(server.url, me.token) };
};

describe("Idempotency-Key", () => {
  it("restarts once when a CI job runs twice with the commit sha as the key (the product page's GitHub Actions step)", async () => {
    const { api } = await newApi();
    const { id } = await createRunningInstance(api, uniqueSubdomain("ci"));
    const sha = "9fceb02d0ae598e95dc970b74767f19372d61af8";
    // Exactly the product page's request: POST, bearer key, Idempotency-Key, no body.
    const first = await api.post(`/api/v1/instances/${id}/restart`, undefined, { headers: { "idempotency-key": sha } });
    expect(first.status).toBe(202);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    await waitForOperation(api, first.body.id);

    const second = await api.post(`/api/v1/instances/${id}/restart`, undefined, { headers: { "idempotency-key": sha } });
    expect(second.status).toBe(202);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expect(second.body).toEqual(first.body); // the first response, as it was
    expect(second.headers.get("location")).toBe(first.headers.get("location"));
    expect(second.headers.get("x-request-id")).not.toBe(first.headers.get("x-request-id"));

    const restarts = await api.get(`/api/v1/operations?instance_id=${id}&type=instance.restart`);
    expect(restarts.body).toHaveLength(1);
  });

  it("replays a configuration change that changed nothing as it was answered: 200 with Config-Unchanged", async () => {
    const { api } = await newApi();
    const { id } = await createRunningInstance(api, uniqueSubdomain("unch"));
    const agents = await api.get(`/api/v1/instances/${id}/agents`);
    const headers = { "idempotency-key": `same-agents-${id}` };
    const first = await api.put(`/api/v1/instances/${id}/agents`, agents.body, { headers });
    expect(first.status, first.text).toBe(200);
    expect(first.headers.get("config-unchanged")).toBe("true");
    const replay = await api.put(`/api/v1/instances/${id}/agents`, agents.body, { headers });
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.status).toBe(200);
    expect(replay.headers.get("config-unchanged")).toBe("true");
    expect(replay.body).toEqual(first.body);
  });

  it("accepts the key quoted or bare, as the same key", async () => {
    const { api } = await newApi();
    const body = { name: "quoted", scopes: ["read"] };
    const a = await api.post("/api/v1/keys", body, { headers: { "idempotency-key": '"abc-123"' } });
    const b = await api.post("/api/v1/keys", body, { headers: { "idempotency-key": "abc-123" } });
    expect(a.status).toBe(201);
    expect(b.headers.get("idempotent-replayed")).toBe("true");
    expect(b.body.id).toBe(a.body.id);
  });

  it("treats bodies that differ only in key order or spacing as the same request", async () => {
    const { api } = await newApi();
    const a = await api.raw("POST", "/api/v1/keys", { rawBody: '{"name":"n","scopes":["read"]}', headers: { "content-type": "application/json", "idempotency-key": "k-order" } });
    const b = await api.raw("POST", "/api/v1/keys", { rawBody: '{ "scopes": ["read"],\n "name": "n" }', headers: { "content-type": "application/json", "idempotency-key": "k-order" } });
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(b.headers.get("idempotent-replayed")).toBe("true");
  });

  it("answers 422 when the key is reused for a different request", async () => {
    const { api } = await newApi();
    expect((await api.post("/api/v1/keys", { name: "one", scopes: ["read"] }, { headers: { "idempotency-key": "reuse" } })).status).toBe(201);
    const other = await api.post("/api/v1/keys", { name: "two", scopes: ["read"] }, { headers: { "idempotency-key": "reuse" } });
    expect(other.status).toBe(422);
    expect(other.body.code).toBe("idempotency_key_reused");
    const otherPath = await api.delete("/api/v1/keys/key_01m8dp393rrqg3nrq86kh7t363", { headers: { "idempotency-key": "reuse" } });
    expect(otherPath.body.code).toBe("idempotency_key_reused");
  });

  it("scopes keys to the account: another account's identical key is its own", async () => {
    const a = await newApi();
    const b = await newApi();
    const body = { name: "same", scopes: ["read"] };
    const ra = await a.api.post("/api/v1/keys", body, { headers: { "idempotency-key": "shared" } });
    const rb = await b.api.post("/api/v1/keys", body, { headers: { "idempotency-key": "shared" } });
    expect(rb.status).toBe(201);
    expect(rb.headers.get("idempotent-replayed")).toBeNull();
    expect(rb.body.id).not.toBe(ra.body.id);
  });

  it("stores nothing for a request refused before it executes, nor for one that failed", async () => {
    const { api } = await newApi();
    const key = { "idempotency-key": "refused-first" };
    expect((await api.post("/api/v1/instances", { subdomain: "no" }, { headers: key })).status).toBe(400);
    expect((await api.post("/api/v1/instances", { subdomain: "www" }, { headers: key })).status).toBe(400);
    const { id } = await createRunningInstance(api, uniqueSubdomain("st"));
    expect((await api.post(`/api/v1/instances/${id}/start`, undefined, { headers: key })).status).toBe(409);
    // The same key now executes a valid request.
    const ok = await api.post("/api/v1/instances", { subdomain: uniqueSubdomain("after") }, { headers: key });
    expect(ok.status).toBe(202);
    expect(ok.headers.get("idempotent-replayed")).toBeNull();
  });

  it("forgets a key after 24 hours", async () => {
    const { me, api } = await newApi();
    const first = await api.post("/api/v1/keys", { name: "old", scopes: ["read"] }, { headers: { "idempotency-key": "expiring" } });
    const db = await getDb();
    await db
      .update(idempotencyKey)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(and(eq(idempotencyKey.apiKeyId, me.keyId), eq(idempotencyKey.key, "expiring")));
    const again = await api.post("/api/v1/keys", { name: "new", scopes: ["read"] }, { headers: { "idempotency-key": "expiring" } });
    expect(again.status).toBe(201);
    expect(again.body.id).not.toBe(first.body.id);
    expect(again.headers.get("idempotent-replayed")).toBeNull();
  });

  it("refuses a malformed key", async () => {
    const { api } = await newApi();
    for (const bad of ["x".repeat(256), "tab\there", '""']) {
      const res = await api.post("/api/v1/keys", { name: "k", scopes: ["read"] }, { headers: { "idempotency-key": bad } });
      expect(res.status, bad).toBe(400);
      expect(res.body.code).toBe("invalid_idempotency_key");
    }
    expect((await api.get("/api/v1/keys")).body).toHaveLength(1);
  });
});
