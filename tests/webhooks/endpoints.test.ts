import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { client, createAccount, createRunningInstance, uniqueSubdomain, type TestAccount } from "../support/fixtures";
import { describeSecurity, useApiServer } from "../support/security";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver";
import { jobs } from "./harness";

const server = useApiServer();
let receiver: WebhookReceiver;
beforeAll(async () => {
  receiver = await startWebhookReceiver();
});
afterAll(async () => {
  await jobs.idle();
  await receiver.close();
});
beforeEach(() => jobs.reset());

const ENDPOINT_FIELDS = ["created_at", "description", "enabled", "events", "id", "url"];

/** An endpoint of `owner`'s, through the API; throws if refused (describeSecurity relies on it). */
async function endpointOf(owner: TestAccount, body: Record<string, unknown> = {}) {
  const res = await client(server.url, owner.token).post("/api/v1/webhooks", { url: receiver.url, events: ["operation.succeeded"], ...body });
  if (res.status !== 201) throw new Error(`create webhook: ${res.status} ${res.text}`);
  return res.body as { id: string; secret: string };
}

describe("POST /api/v1/webhooks", () => {
  it("creates an endpoint and shows its secret once", async () => {
    const me = await createAccount();
    const api = client(server.url, me.token);
    const res = await api.post("/api/v1/webhooks", {
      url: receiver.url,
      events: ["operation.succeeded", "operation.failed"],
      description: "CI notifications",
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      url: receiver.url,
      events: ["operation.succeeded", "operation.failed"],
      description: "CI notifications",
      enabled: true,
    });
    expect(res.body.id).toMatch(/^wh_[0-9a-z]{26}$/);
    expect(res.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Object.keys(res.body).sort()).toEqual([...ENDPOINT_FIELDS, "secret"].sort());
    expect(res.headers.get("location")).toBe(`${server.url}/api/v1/webhooks/${res.body.id}`);

    // Never shown again.
    const again = await api.get(`/api/v1/webhooks/${res.body.id}`);
    expect(again.status).toBe(200);
    expect(Object.keys(again.body).sort()).toEqual(ENDPOINT_FIELDS.sort());
    expect(again.text).not.toContain(res.body.secret.slice(6));
    expect((await api.get("/api/v1/webhooks")).text).not.toContain(res.body.secret.slice(6));
  });

  it("takes one event, drops repeats, and defaults the description to null", async () => {
    const api = client(server.url, (await createAccount()).token);
    const res = await api.post("/api/v1/webhooks", { url: receiver.url, events: ["operation.failed", "operation.failed"] });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ events: ["operation.failed"], description: null });
  });

  it("validates the body and names the field", async () => {
    const api = client(server.url, (await createAccount()).token);
    const cases: [unknown, string][] = [
      [{ events: ["operation.succeeded"] }, "url"],
      [{ url: "not a url", events: ["operation.succeeded"] }, "url"],
      [{ url: 42, events: ["operation.succeeded"] }, "url"],
      [{ url: receiver.url }, "events"],
      [{ url: receiver.url, events: [] }, "events"],
      [{ url: receiver.url, events: ["instance.created"] }, "events[0]"],
      [{ url: receiver.url, events: "operation.succeeded" }, "events"],
      [{ url: receiver.url, events: ["operation.succeeded"], description: "x".repeat(501) }, "description"],
      [{ url: receiver.url, events: ["operation.succeeded"], secret: "whsec_mine" }, "secret"],
      [{ url: receiver.url, events: ["operation.succeeded"], enabled: false }, "enabled"],
    ];
    for (const [body, path] of cases) {
      const res = await api.post("/api/v1/webhooks", body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.code).toBe("validation_error");
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
    }
    const json = JSON.stringify({ url: receiver.url, events: ["operation.succeeded"] });
    const textPlain = await api.raw("POST", "/api/v1/webhooks", { rawBody: json, headers: { "content-type": "text/plain" } });
    expect(textPlain.status).toBe(415);
    const malformed = await api.raw("POST", "/api/v1/webhooks", { rawBody: "{", headers: { "content-type": "application/json" } });
    expect(malformed.status).toBe(400);
    expect(malformed.body.code).toBe("malformed_json");
    expect((await api.get("/api/v1/webhooks")).body).toEqual([]);
  });

  it("refuses a URL that may not receive webhooks with the reason (422 webhook_url_not_allowed)", async () => {
    const api = client(server.url, (await createAccount()).token);
    for (const url of ["ftp://example.com/hook", "http://10.0.0.7/hook", "http://user:pw@127.0.0.1/hook", "https://169.254.169.254/latest/meta-data"]) {
      const res = await api.post("/api/v1/webhooks", { url, events: ["operation.succeeded"] });
      expect(res.status, url).toBe(422);
      expect(res.body.code).toBe("webhook_url_not_allowed");
      expect(res.body.errors).toEqual([{ path: "url", message: expect.any(String) }]);
      expect(res.body.detail).toContain(res.body.errors[0].message);
    }
    expect((await api.get("/api/v1/webhooks")).body).toEqual([]);
  });

  it("holds the limit of 10 endpoints per account with a clear error", async () => {
    const me = await createAccount({ limits: { write: 100 } });
    const api = client(server.url, me.token);
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push((await endpointOf(me, { description: `n${i}` })).id);
    const over = await api.post("/api/v1/webhooks", { url: receiver.url, events: ["operation.failed"] });
    expect(over.status).toBe(409);
    expect(over.body).toMatchObject({ code: "webhook_endpoint_limit_reached", limit: 10, usage: 10 });
    expect(over.body.detail).toContain("10");

    // Concurrent creations at the limit: never one more.
    expect((await api.delete(`/api/v1/webhooks/${ids[0]}`)).status).toBe(204);
    const racing = await Promise.all(
      Array.from({ length: 4 }, () => api.post("/api/v1/webhooks", { url: receiver.url, events: ["operation.failed"] })),
    );
    expect(racing.map((r) => r.status).sort()).toEqual([201, 409, 409, 409]);
    expect((await api.get("/api/v1/webhooks")).body).toHaveLength(10);
  });
});

describe("GET /api/v1/webhooks", () => {
  it("lists the account's endpoints, oldest first, without secrets", async () => {
    const me = await createAccount();
    const a = await endpointOf(me, { description: "a" });
    const b = await endpointOf(me, { description: "b", events: ["operation.failed"] });
    await endpointOf(await createAccount()); // another account's
    const res = await client(server.url, me.token).get("/api/v1/webhooks");
    expect(res.status).toBe(200);
    expect(res.body.map((e: { id: string }) => e.id)).toEqual([a.id, b.id]);
    expect(res.body[1]).toMatchObject({ description: "b", events: ["operation.failed"], enabled: true });
    expect(res.text).not.toContain("whsec_");
  });
});

describe("GET /api/v1/webhooks/{id}", () => {
  it("answers 404 for an unknown id", async () => {
    const api = client(server.url, (await createAccount()).token);
    for (const id of ["wh_01jd3z6v7a8b9c0d1e2f3g4h5j", "nope"]) {
      const res = await api.get(`/api/v1/webhooks/${id}`);
      expect(res.status, id).toBe(404);
      expect(res.body.code).toBe("not_found");
    }
    // A path that is not valid percent-encoding names nothing: 400 before any route runs.
    const undecodable = await api.get("/api/v1/webhooks/%E0%A4%A");
    expect(undecodable.status).toBe(400);
    expect(undecodable.body.code).toBe("invalid_path");
  });
});

describe("PATCH /api/v1/webhooks/{id}", () => {
  it("changes url, events and description, and keeps the rest", async () => {
    const me = await createAccount();
    const api = client(server.url, me.token);
    const ep = await endpointOf(me, { description: "old" });
    const other = await startWebhookReceiver();
    try {
      const res = await api.patch(`/api/v1/webhooks/${ep.id}`, { url: other.url, events: ["operation.failed"] });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id: ep.id, url: other.url, events: ["operation.failed"], description: "old", enabled: true });
      const cleared = await api.patch(`/api/v1/webhooks/${ep.id}`, { description: null });
      expect(cleared.body).toMatchObject({ description: null, url: other.url });
      expect((await api.get(`/api/v1/webhooks/${ep.id}`)).body).toEqual(cleared.body);
      const nothing = await api.patch(`/api/v1/webhooks/${ep.id}`, {});
      expect(nothing.status).toBe(200);
      expect(nothing.body).toEqual(cleared.body);
    } finally {
      await other.close();
    }
  });

  it("disables with a reason and re-enables, clearing it", async () => {
    const me = await createAccount();
    const api = client(server.url, me.token);
    const ep = await endpointOf(me);
    const off = await api.patch(`/api/v1/webhooks/${ep.id}`, { enabled: false });
    expect(off.status).toBe(200);
    expect(off.body).toMatchObject({ enabled: false, disabled_reason: expect.stringContaining("API") });
    expect((await api.get("/api/v1/webhooks")).body[0]).toMatchObject({ enabled: false, disabled_reason: off.body.disabled_reason });
    const on = await api.patch(`/api/v1/webhooks/${ep.id}`, { enabled: true });
    expect(on.body.enabled).toBe(true);
    expect(on.body).not.toHaveProperty("disabled_reason");
  });

  it("validates the body and checks a new URL", async () => {
    const me = await createAccount();
    const api = client(server.url, me.token);
    const ep = await endpointOf(me);
    const cases: [unknown, string][] = [
      [{ events: [] }, "events"],
      [{ events: ["operation.started"] }, "events[0]"],
      [{ url: "nope" }, "url"],
      [{ enabled: "yes" }, "enabled"],
      [{ secret: "x" }, "secret"],
      [{ id: "wh_x" }, "id"],
    ];
    for (const [body, path] of cases) {
      const res = await api.patch(`/api/v1/webhooks/${ep.id}`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
    }
    const bad = await api.patch(`/api/v1/webhooks/${ep.id}`, { url: "http://192.168.1.10/hook" });
    expect(bad.status).toBe(422);
    expect(bad.body.code).toBe("webhook_url_not_allowed");
    expect((await api.get(`/api/v1/webhooks/${ep.id}`)).body.url).toBe(receiver.url);
    expect((await api.patch("/api/v1/webhooks/wh_01jd3z6v7a8b9c0d1e2f3g4h5j", { enabled: false })).status).toBe(404);
  });
});

describe("DELETE /api/v1/webhooks/{id}", () => {
  it("deletes the endpoint; nothing is delivered to it afterwards", async () => {
    const me = await createAccount({ limits: { heavy: 100 } });
    const api = client(server.url, me.token);
    const ep = await endpointOf(me);
    const res = await api.delete(`/api/v1/webhooks/${ep.id}`);
    expect(res.status).toBe(204);
    expect(res.text).toBe("");
    expect((await api.get(`/api/v1/webhooks/${ep.id}`)).status).toBe(404);
    expect((await api.delete(`/api/v1/webhooks/${ep.id}`)).status).toBe(404);
    expect((await api.get(`/api/v1/webhooks/${ep.id}/deliveries`)).status).toBe(404);

    const before = receiver.requests.length;
    await createRunningInstance(api, uniqueSubdomain("gone"));
    await jobs.idle();
    expect(receiver.requests.length).toBe(before);
  });
});

describe("POST /api/v1/webhooks/{id}/rotate-secret", () => {
  it("answers only a new secret", async () => {
    const me = await createAccount();
    const api = client(server.url, me.token);
    const ep = await endpointOf(me);
    const res = await api.post(`/api/v1/webhooks/${ep.id}/rotate-secret`);
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual(["secret"]);
    expect(res.body.secret).toMatch(/^whsec_/);
    expect(res.body.secret).not.toBe(ep.secret);
    expect((await api.post(`/api/v1/webhooks/${ep.id}/rotate-secret`, { secret: "mine" })).status).toBe(400);
    expect((await api.post("/api/v1/webhooks/wh_01jd3z6v7a8b9c0d1e2f3g4h5j/rotate-secret")).status).toBe(404);
  });
});

describe("GET /api/v1/webhooks/{id}/deliveries", () => {
  it("validates its query", async () => {
    const me = await createAccount();
    const api = client(server.url, me.token);
    const ep = await endpointOf(me);
    for (const q of ["limit=0", "limit=101", "status=done", "color=red", "cursor=op_01jd3z6v7a8b9c0d1e2f3g4h5j&limit=0"]) {
      const res = await api.get(`/api/v1/webhooks/${ep.id}/deliveries?${q}`);
      expect(res.status, q).toBe(400);
      expect(res.body.code).toBe("validation_error");
    }
    // Another resource's id is no cursor of this list.
    const cursor = await api.get(`/api/v1/webhooks/${ep.id}/deliveries?cursor=op_01jd3z6v7a8b9c0d1e2f3g4h5j`);
    expect({ status: cursor.status, code: cursor.body.code }).toEqual({ status: 400, code: "invalid_cursor" });
    expect((await api.get(`/api/v1/webhooks/${ep.id}/deliveries`)).body).toEqual([]);
  });
});

describe("unknown methods", () => {
  it("answers 405 with Allow", async () => {
    const me = await createAccount();
    const api = client(server.url, me.token);
    const ep = await endpointOf(me);
    const cases: [string, string, string][] = [
      ["PUT", "/api/v1/webhooks", "GET, POST, OPTIONS"],
      ["PUT", `/api/v1/webhooks/${ep.id}`, "GET, PATCH, DELETE, OPTIONS"],
      ["GET", `/api/v1/webhooks/${ep.id}/rotate-secret`, "POST, OPTIONS"],
      ["POST", `/api/v1/webhooks/${ep.id}/deliveries`, "GET, OPTIONS"],
    ];
    for (const [method, path, allow] of cases) {
      const res = await api.raw(method, path);
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.get("allow")).toBe(allow);
    }
  });
});

// ---------------------------------------------------------------------------
// Security, for every route

/** An endpoint of `owner`'s with one delivery: an instance created while it listens. */
async function deliveryOf(owner: TestAccount) {
  const ep = await endpointOf(owner);
  await createRunningInstance(client(server.url, owner.token), uniqueSubdomain("sec"));
  await jobs.idle();
  const list = await client(server.url, owner.token).get(`/api/v1/webhooks/${ep.id}/deliveries`);
  const delivery = list.body[0] as { id: string } | undefined;
  if (!delivery) throw new Error(`no delivery: ${list.status} ${list.text}`);
  return { endpointId: ep.id, deliveryId: delivery.id };
}

describeSecurity("GET /api/v1/webhooks", server, { method: "GET", scope: "webhooks:read", path: () => "/api/v1/webhooks" });
describeSecurity("POST /api/v1/webhooks", server, {
  method: "POST",
  scope: "webhooks:write",
  path: () => "/api/v1/webhooks",
  body: { url: "http://127.0.0.1:9/hook", events: ["operation.succeeded"] },
});
describeSecurity("GET /api/v1/webhooks/{id}", server, {
  method: "GET",
  scope: "webhooks:read",
  path: async (owner) => `/api/v1/webhooks/${(await endpointOf(owner)).id}`,
  ownsResource: true,
});
describeSecurity("PATCH /api/v1/webhooks/{id}", server, {
  method: "PATCH",
  scope: "webhooks:write",
  path: async (owner) => `/api/v1/webhooks/${(await endpointOf(owner)).id}`,
  body: { description: "changed" },
  ownsResource: true,
});
describeSecurity("DELETE /api/v1/webhooks/{id}", server, {
  method: "DELETE",
  scope: "webhooks:write",
  path: async (owner) => `/api/v1/webhooks/${(await endpointOf(owner)).id}`,
  ownsResource: true,
});
describeSecurity("POST /api/v1/webhooks/{id}/rotate-secret", server, {
  method: "POST",
  scope: "webhooks:write",
  path: async (owner) => `/api/v1/webhooks/${(await endpointOf(owner)).id}/rotate-secret`,
  ownsResource: true,
});
describeSecurity("GET /api/v1/webhooks/{id}/deliveries", server, {
  method: "GET",
  scope: "webhooks:read",
  path: async (owner) => `/api/v1/webhooks/${(await deliveryOf(owner)).endpointId}/deliveries`,
  ownsResource: true,
});
describeSecurity("POST /api/v1/webhooks/{id}/deliveries/{deliveryId}/redeliver", server, {
  method: "POST",
  scope: "webhooks:write",
  path: async (owner) => {
    const d = await deliveryOf(owner);
    return `/api/v1/webhooks/${d.endpointId}/deliveries/${d.deliveryId}/redeliver`;
  },
  ownsResource: true,
});
