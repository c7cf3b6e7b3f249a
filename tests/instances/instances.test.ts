import { describe, expect, it } from "vitest";
import { client, createAccount, createRunningInstance, holdOperations, uniqueSubdomain, waitForOperation } from "../support/fixtures";
import { describeSecurity, useApiServer } from "../support/security";

const server = useApiServer();

describe("instance lifecycle through the API", () => {
  it("creates, runs, stops, starts, restarts and deletes an instance", async () => {
    const me = await createAccount({ plan: "pro", limits: { heavy: 100 } });
    const api = client(server.url, me.token);
    const subdomain = uniqueSubdomain("life");

    const create = await api.post("/api/v1/instances", { subdomain, fly_region: "dfw", name: "Life" });
    expect(create.status).toBe(202);
    expect(create.body).toMatchObject({ type: "instance.create", status: "pending", error: null });
    expect(create.body.id).toMatch(/^op_/);
    const opUrl = `${server.url}/api/v1/operations/${create.body.id}`;
    expect(create.headers.get("location")).toBe(opUrl);
    expect(create.headers.get("operation-location")).toBe(opUrl);

    const created = await waitForOperation(api, create.body.id);
    expect(created.body).toMatchObject({ status: "succeeded", type: "instance.create" });
    expect(created.body.started_at).not.toBeNull();
    expect(created.body.completed_at).not.toBeNull();
    expect(created.headers.get("retry-after")).toBeNull();
    const id = created.body.instance_id;

    const list = await api.get("/api/v1/instances");
    expect(list.status).toBe(200);
    expect(list.body).toEqual([
      expect.objectContaining({ id, subdomain, name: "Life", status: "running", plan: "pro", fly_region: "dfw" }),
    ]);

    // An id and a subdomain both address the instance.
    const bySub = await api.get(`/api/v1/instances/${subdomain}`);
    expect(bySub.body.id).toBe(id);
    expect(Object.keys(bySub.body).sort()).toEqual(["created_at", "fly_region", "id", "name", "plan", "status", "subdomain", "updated_at", "url"]);

    const stop = await api.post(`/api/v1/instances/${id}/stop`);
    expect(stop.status).toBe(202);
    expect(stop.body.type).toBe("instance.stop");
    expect((await waitForOperation(api, stop.body.id)).body.status).toBe("succeeded");
    expect((await api.get(`/api/v1/instances/${id}`)).body.status).toBe("stopped");
    expect((await api.get("/api/v1/instances?status=stopped")).body.map((i: { id: string }) => i.id)).toEqual([id]);
    expect((await api.get("/api/v1/instances?status=running")).body).toEqual([]);

    const start = await api.post(`/api/v1/instances/${subdomain}/start`);
    expect(start.status).toBe(202);
    expect((await waitForOperation(api, start.body.id)).body.status).toBe("succeeded");
    expect((await api.get(`/api/v1/instances/${id}`)).body.status).toBe("running");

    const restart = await api.post(`/api/v1/instances/${id}/restart`);
    expect(restart.status).toBe(202);
    expect((await waitForOperation(api, restart.body.id)).body.status).toBe("succeeded");
    expect((await api.get(`/api/v1/instances/${id}`)).body.status).toBe("running");

    const del = await api.delete(`/api/v1/instances/${id}`);
    expect(del.status).toBe(202);
    expect(del.body.type).toBe("instance.delete");
    expect((await waitForOperation(api, del.body.id)).body.status).toBe("succeeded");
    expect((await api.get(`/api/v1/instances/${id}`)).status).toBe(404);
    expect((await api.get("/api/v1/instances")).body).toEqual([]);

    // The history outlives the instance.
    const ops = await api.get(`/api/v1/operations?instance_id=${id}`);
    expect(ops.body.map((o: { type: string }) => o.type)).toEqual([
      "instance.delete",
      "instance.restart",
      "instance.start",
      "instance.stop",
      "instance.create",
    ]);
    // ...and a deleted instance's subdomain is free again.
    expect((await api.post("/api/v1/instances", { subdomain })).status).toBe(202);
  });

  it("shows the transitional status while an operation is unfinished, and Retry-After on the operation", async () => {
    const me = await createAccount();
    const api = client(server.url, me.token);
    const { id } = await createRunningInstance(api, uniqueSubdomain("trans"));
    const hold = holdOperations();
    const stop = await api.post(`/api/v1/instances/${id}/stop`);
    // Set in the request's own transaction, so it is visible at once.
    expect((await api.get(`/api/v1/instances/${id}`)).body.status).toBe("stopping");
    const pending = await api.get(`/api/v1/operations/${stop.body.id}`);
    expect(pending.body).toMatchObject({ status: "pending", started_at: null, completed_at: null });
    expect(Number(pending.headers.get("retry-after"))).toBeGreaterThan(0);
    await hold.resume(stop.body.id);
    expect((await waitForOperation(api, stop.body.id)).body.status).toBe("succeeded");
    expect((await api.get(`/api/v1/instances/${id}`)).body.status).toBe("stopped");
  });
});

describe("POST /api/v1/instances", () => {
  it("validates subdomain, region and fields, naming the field", async () => {
    const api = client(server.url, (await createAccount({ limits: { heavy: 100 } })).token);
    const bad: [unknown, string][] = [
      [{}, "subdomain"],
      [{ subdomain: "ab" }, "subdomain"],
      [{ subdomain: "-abc" }, "subdomain"],
      [{ subdomain: "abc-" }, "subdomain"],
      [{ subdomain: "ABC" }, "subdomain"],
      [{ subdomain: "a_b_c" }, "subdomain"],
      [{ subdomain: "x".repeat(64) }, "subdomain"],
      [{ subdomain: "www" }, "subdomain"],
      [{ subdomain: "admin" }, "subdomain"],
      [{ subdomain: 42 }, "subdomain"],
      [{ subdomain: "fine-name", fly_region: "mars" }, "fly_region"],
      [{ subdomain: "fine-name", plan: "business" }, "plan"],
      [{ subdomain: "fine-name", name: "" }, "name"],
    ];
    for (const [body, field] of bad) {
      const res = await api.post("/api/v1/instances", body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.code).toBe("validation_error");
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(field);
    }
    expect((await api.get("/api/v1/instances")).body).toEqual([]);
  });

  it("uses the default region when none is given", async () => {
    const api = client(server.url, (await createAccount({ limits: { heavy: 100 } })).token);
    const res = await api.post("/api/v1/instances", { subdomain: uniqueSubdomain("reg") });
    const inst = await api.get(`/api/v1/instances/${res.body.instance_id}`);
    expect(inst.body.fly_region).toBe("iad");
    await waitForOperation(api, res.body.id);
  });

  it("refuses a subdomain another account uses: 409 subdomain_taken", async () => {
    const a = client(server.url, (await createAccount({ limits: { heavy: 100 } })).token);
    const b = client(server.url, (await createAccount({ limits: { heavy: 100 } })).token);
    const subdomain = uniqueSubdomain("taken");
    expect((await a.post("/api/v1/instances", { subdomain })).status).toBe(202);
    const res = await b.post("/api/v1/instances", { subdomain });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("subdomain_taken");
  });

  it("holds the plan's instance limit, and a deleted instance frees its slot once deleted", async () => {
    const me = await createAccount({ plan: "pro", limits: { heavy: 100 } });
    const api = client(server.url, me.token);
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await createRunningInstance(api, uniqueSubdomain(`lim${i}`))).id);
    const over = await api.post("/api/v1/instances", { subdomain: uniqueSubdomain("over") });
    expect(over.status).toBe(409);
    expect(over.body).toMatchObject({ code: "instance_limit_reached", limit: 6, usage: 6 });
    const account = await api.get("/api/v1/account");
    expect(account.body.usage.instances).toBe(6);

    const del = await api.delete(`/api/v1/instances/${ids[0]}`);
    await waitForOperation(api, del.body.id);
    expect((await api.post("/api/v1/instances", { subdomain: uniqueSubdomain("again") })).status).toBe(202);
  });
});

describe("409s", () => {
  it("answers invalid_instance_state for a request that makes no sense now", async () => {
    const api = client(server.url, (await createAccount({ limits: { heavy: 100 } })).token);
    const { id } = await createRunningInstance(api, uniqueSubdomain("state"));
    const res = await api.post(`/api/v1/instances/${id}/start`);
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ code: "invalid_instance_state", status: 409 });
    expect(res.body.detail).toContain("running");
    const stop = await api.post(`/api/v1/instances/${id}/stop`);
    await waitForOperation(api, stop.body.id);
    expect((await api.post(`/api/v1/instances/${id}/stop`)).body.code).toBe("invalid_instance_state");
    expect((await api.post(`/api/v1/instances/${id}/restart`)).body.code).toBe("invalid_instance_state");
  });

  it("answers operation_in_progress naming the unfinished operation, and accepts the request once it has finished", async () => {
    const api = client(server.url, (await createAccount({ limits: { heavy: 100 } })).token);
    const hold = holdOperations();
    const create = await api.post("/api/v1/instances", { subdomain: uniqueSubdomain("busy") });
    expect(create.status).toBe(202);
    const res = await api.delete(`/api/v1/instances/${create.body.instance_id}`);
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ code: "operation_in_progress", operation_id: create.body.id });
    expect(res.body.detail).toContain(create.body.id);
    await hold.resume(create.body.id);
    expect((await waitForOperation(api, create.body.id)).body.status).toBe("succeeded");
    expect((await api.delete(`/api/v1/instances/${create.body.instance_id}`)).status).toBe(202);
  });
});

const withInstance = async (o: { token: string }) => {
  const api = client(server.url, o.token);
  const { id } = await createRunningInstance(api, uniqueSubdomain("sec"));
  return id;
};

describeSecurity("GET /api/v1/instances", server, { method: "GET", scope: "instance:read", path: () => "/api/v1/instances" });
describeSecurity("POST /api/v1/instances", server, { method: "POST", scope: "instance:write", path: () => "/api/v1/instances", body: { subdomain: "never-made" } });
describeSecurity("GET /api/v1/instances/{id}", server, { method: "GET", scope: "instance:read", ownsResource: true, path: async (o) => `/api/v1/instances/${await withInstance(o)}` });
describeSecurity("DELETE /api/v1/instances/{id}", server, { method: "DELETE", scope: "instance:write", ownsResource: true, path: async (o) => `/api/v1/instances/${await withInstance(o)}` });
const lifecycleSecurity = (action: string) => ({
  method: "POST" as const,
  scope: "instance:write" as const,
  ownsResource: true,
  path: async (o: { token: string }) => `/api/v1/instances/${await withInstance(o)}/${action}`,
});
describeSecurity("POST /api/v1/instances/{id}/start", server, lifecycleSecurity("start"));
describeSecurity("POST /api/v1/instances/{id}/stop", server, lifecycleSecurity("stop"));
describeSecurity("POST /api/v1/instances/{id}/restart", server, lifecycleSecurity("restart"));
