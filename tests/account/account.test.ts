import { describe, expect, it } from "vitest";
import { REGIONS } from "@/lib/regions";
import { client, createAccount } from "../support/fixtures";
import { describeSecurity, useApiServer } from "../support/security";

// GET /api/v1/account (the key's account: plan, limits, usage) and GET /api/v1/regions (public).

const server = useApiServer();

describe("GET /api/v1/account", () => {
  it("shows the plan, its limits and the usage, to a key of any scope", async () => {
    const me = await createAccount({ plan: "business", scopes: ["operations:read"] });
    const res = await client(server.url, me.token).get("/api/v1/account");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      id: me.accountId,
      email: me.email.toLowerCase(),
      plan: "business",
      limits: { instances: 21, requests_per_minute: { read: 240, write: 60, heavy: 10, account: 2000 } },
      usage: { instances: 0 },
    });
  });

  it("shows an operator's overrides", async () => {
    const me = await createAccount({ plan: "pro", limits: { read: 999 } });
    const res = await client(server.url, me.token).get("/api/v1/account");
    expect(res.body.limits.requests_per_minute).toEqual({ read: 999, write: 30, heavy: 5, account: 1000 });
  });
});

describe("GET /api/v1/regions", () => {
  it("lists the regions, without a key", async () => {
    const res = await client(server.url).get("/api/v1/regions");
    expect(res.status).toBe(200);
    expect(res.body).toEqual(REGIONS.map((r) => ({ code: r.code, name: r.name })));
    expect(res.body.map((r: { code: string }) => r.code)).toContain("dfw");
  });
});

describeSecurity("GET /api/v1/account", server, { method: "GET", scope: "any", path: () => "/api/v1/account" });
