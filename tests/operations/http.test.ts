import { describe, expect, it } from "vitest";
import { client, createAccount, createRunningInstance, uniqueSubdomain, waitForOperation } from "../support/fixtures";
import { describeSecurity, useApiServer } from "../support/security";

// GET /api/v1/operations and /operations/{id}: an account's operations over HTTP.

const server = useApiServer();

describe("GET /api/v1/operations", () => {
  it("filters, pages newest first, and links the next page", async () => {
    const api = client(server.url, (await createAccount({ limits: { heavy: 100 } })).token);
    const a = await createRunningInstance(api, uniqueSubdomain("opsa"));
    const b = await createRunningInstance(api, uniqueSubdomain("opsb"));
    const stop = await api.post(`/api/v1/instances/${a.id}/stop`);
    await waitForOperation(api, stop.body.id);

    const all = await api.get("/api/v1/operations");
    expect(all.body.map((o: { id: string }) => o.id)).toEqual([stop.body.id, b.operationId, a.operationId]);
    const p1 = await api.get("/api/v1/operations?limit=2");
    expect(p1.body).toHaveLength(2);
    const link = p1.headers.get("link")!;
    expect(link).toContain('rel="next"');
    const p2 = await api.get(link.slice(1, link.indexOf(">")));
    expect(p2.body.map((o: { id: string }) => o.id)).toEqual([a.operationId]);
    expect(p2.headers.get("link")).toBeNull();

    expect((await api.get(`/api/v1/operations?instance_id=${b.id}`)).body.map((o: { id: string }) => o.id)).toEqual([b.operationId]);
    expect((await api.get("/api/v1/operations?type=instance.stop")).body.map((o: { id: string }) => o.id)).toEqual([stop.body.id]);
    expect((await api.get("/api/v1/operations?status=failed")).body).toEqual([]);
    expect((await api.get("/api/v1/operations?status=done")).status).toBe(400);
    expect((await api.get("/api/v1/operations?instance_id=nobody-here")).body).toEqual([]);
    const badCursor = await api.get(`/api/v1/operations?cursor=${a.id}`); // an instance's id is no cursor of this list
    expect({ status: badCursor.status, code: badCursor.body.code }).toEqual({ status: 400, code: "invalid_cursor" });
  });

  it("does not show another account's operation", async () => {
    const a = client(server.url, (await createAccount({ limits: { heavy: 100 } })).token);
    const b = client(server.url, (await createAccount({ limits: { heavy: 100 } })).token);
    const { operationId } = await createRunningInstance(a, uniqueSubdomain("mine"));
    expect((await b.get(`/api/v1/operations/${operationId}`)).status).toBe(404);
    expect((await b.get("/api/v1/operations")).body).toEqual([]);
  });
});

describeSecurity("GET /api/v1/operations", server, { method: "GET", scope: "operations:read", path: () => "/api/v1/operations" });
describeSecurity("GET /api/v1/operations/{id}", server, {
  method: "GET",
  scope: "operations:read",
  ownsResource: true,
  path: async (o) => {
    const res = await client(server.url, o.token).post("/api/v1/instances", { subdomain: uniqueSubdomain("secop") });
    return `/api/v1/operations/${res.body.id}`;
  },
});
