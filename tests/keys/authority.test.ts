import { describe, expect, it } from "vitest";
import { client, createAccount, createKeyFor } from "../support/fixtures";
import { useApiServer } from "../support/security";

// A key never acts above its own scopes: it cannot create (DESIGN 3.2) nor
// revoke a key holding a scope it lacks.
const server = useApiServer();

describe("a key's authority over other keys", () => {
  it("a keys:write-only key cannot revoke a key with more scopes (403, naming them), and the key keeps working", async () => {
    const me = await createAccount({ plan: "pro" });
    const weak = await createKeyFor(me.accountId, { scopes: ["keys:write"] });
    const res = await client(server.url, weak.token).delete(`/api/v1/keys/${me.keyId}`);
    expect(res.status).toBe(403);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(res.body.code).toBe("insufficient_scope");
    expect(res.body.missing_scopes).toEqual(expect.arrayContaining(["instance:write", "keys:read", "webhooks:write"]));
    expect(res.body.missing_scopes).not.toContain("keys:write");
    expect((await client(server.url, me.token).get("/api/v1/account")).status).toBe(200);
  });

  it("it can revoke keys whose every scope it holds, itself included", async () => {
    const me = await createAccount({ plan: "pro" });
    const writer = await createKeyFor(me.accountId, { scopes: ["keys:write", "instance:read"] });
    const lesser = await createKeyFor(me.accountId, { scopes: ["instance:read"] });
    const api = client(server.url, writer.token);
    expect((await api.delete(`/api/v1/keys/${lesser.id}`)).status).toBe(204);
    expect((await client(server.url, lesser.token).get("/api/v1/instances")).status).toBe(401);
    expect((await api.delete(`/api/v1/keys/${writer.id}`)).status).toBe(204);
    expect((await api.get("/api/v1/instances")).status).toBe(401);
  });

  it("another account's key is still 404, whatever its scopes", async () => {
    const me = await createAccount({ plan: "pro" });
    const other = await createAccount({ plan: "pro" });
    const res = await client(server.url, me.token).delete(`/api/v1/keys/${other.keyId}`);
    expect(res.status).toBe(404);
  });
});
