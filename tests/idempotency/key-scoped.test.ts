import { describe, expect, it } from "vitest";
import { client, createAccount, createKeyFor } from "../support/fixtures";
import { useApiServer } from "../support/security";

// Stored requests are scoped to the API key that sent them (DESIGN 3.5): the
// same Idempotency-Key from another key of the account is a new request, so a
// replay never hands a key what it could not get itself. Every answer that
// carries a secret shown once is tried: POST /keys (token), POST /webhooks and
// POST /webhooks/{id}/rotate-secret (signing secret).
const server = useApiServer();
const SHA = "9fceb02d0ae598e95dc970b74767f19372d61af8"; // guessable: the product page uses the commit sha

describe("Idempotency-Key is scoped to the API key", () => {
  it("a keys:write-only key replaying a full key's POST /keys gets no token (the issue's attack)", async () => {
    const me = await createAccount({ plan: "pro" });
    const full = client(server.url, me.token);
    const weak = await createKeyFor(me.accountId, { scopes: ["keys:write"] });
    const body = { name: "deploy", scopes: ["all"] };

    const first = await full.post("/api/v1/keys", body, { headers: { "idempotency-key": SHA } });
    expect(first.status).toBe(201);
    expect(first.body.token).toMatch(/^moc_/);

    const attack = await client(server.url, weak.token).post("/api/v1/keys", body, { headers: { "idempotency-key": SHA } });
    expect(attack.status).toBe(403);
    expect(attack.headers.get("idempotent-replayed")).toBeNull();
    expect(attack.body).toMatchObject({ code: "insufficient_scope" });
    expect(attack.text).not.toContain(first.body.token);

    // The full key still gets its own answer back.
    const replay = await full.post("/api/v1/keys", body, { headers: { "idempotency-key": SHA } });
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.body.token).toBe(first.body.token);
  });

  it("another key of the account, even one with every scope, makes a new request with the same string", async () => {
    const me = await createAccount({ plan: "pro" });
    const other = await createKeyFor(me.accountId, { scopes: ["all"] });
    const body = { name: "ci", scopes: ["read"] };
    const a = await client(server.url, me.token).post("/api/v1/keys", body, { headers: { "idempotency-key": "same" } });
    const b = await client(server.url, other.token).post("/api/v1/keys", body, { headers: { "idempotency-key": "same" } });
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(b.headers.get("idempotent-replayed")).toBeNull();
    expect(b.body.id).not.toBe(a.body.id);
    expect(b.body.token).not.toBe(a.body.token);
  });

  it("POST /webhooks: another key's replay never carries the first endpoint's secret", async () => {
    const me = await createAccount({ plan: "pro" });
    const hooksOnly = await createKeyFor(me.accountId, { scopes: ["webhooks:write", "webhooks:read"] });
    const body = { url: "http://127.0.0.1:9/hook", events: ["operation.succeeded"] };
    const first = await client(server.url, me.token).post("/api/v1/webhooks", body, { headers: { "idempotency-key": SHA } });
    expect(first.status).toBe(201);
    const second = await client(server.url, hooksOnly.token).post("/api/v1/webhooks", body, { headers: { "idempotency-key": SHA } });
    expect(second.status).toBe(201);
    expect(second.headers.get("idempotent-replayed")).toBeNull();
    expect(second.body.id).not.toBe(first.body.id);
    expect(second.body.secret).not.toBe(first.body.secret);
  });

  it("POST /webhooks/{id}/rotate-secret: another key's replay rotates anew instead of showing the first secret", async () => {
    const me = await createAccount({ plan: "pro" });
    const hooksOnly = await createKeyFor(me.accountId, { scopes: ["webhooks:write"] });
    const full = client(server.url, me.token);
    const wh = await full.post("/api/v1/webhooks", { url: "http://127.0.0.1:9/hook", events: ["operation.failed"] });
    const path = `/api/v1/webhooks/${wh.body.id}/rotate-secret`;
    const first = await full.post(path, undefined, { headers: { "idempotency-key": SHA } });
    expect(first.status).toBe(200);
    const second = await client(server.url, hooksOnly.token).post(path, undefined, { headers: { "idempotency-key": SHA } });
    expect(second.status).toBe(200);
    expect(second.headers.get("idempotent-replayed")).toBeNull();
    expect(second.body.secret).not.toBe(first.body.secret);
    // The key that rotated first gets its own answer replayed, and only it.
    const replay = await full.post(path, undefined, { headers: { "idempotency-key": SHA } });
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.body.secret).toBe(first.body.secret);
  });
});
