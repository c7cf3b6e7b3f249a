import { describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { getDb } from "@/db/client";
import { operation, webhookDelivery, webhookMessage } from "@/db/schema";
import { newId } from "@/lib/ids";
import { client, createAccount, createRunningInstance, uniqueSubdomain } from "../support/fixtures";
import { useApiServer } from "../support/security";

// Repeated query parameters, on every list endpoint, in the one place the
// wrapper reads the query (lib/http/query.ts): a filter given several times
// means any of its values; `limit` or `cursor` given twice is a 400.
const server = useApiServer();

async function account() {
  const me = await createAccount({ plan: "business", limits: { heavy: 100 } });
  const api = client(server.url, me.token);
  const a = await createRunningInstance(api, uniqueSubdomain("rq"));
  const b = await createRunningInstance(api, uniqueSubdomain("rq"));
  // One failed operation beside the two succeeded creates (an operation fails on the machine's side,
  // which the simulated provider does not do on request).
  const db = await getDb();
  const failedId = newId("op");
  await db.insert(operation).values({
    id: failedId,
    accountId: me.accountId,
    instanceId: b.id,
    type: "instance.restart",
    status: "failed",
    error: { code: "machine_failed", message: "test" },
    createdAt: new Date(),
    completedAt: new Date(),
    deadlineAt: new Date(),
  });
  return { me, api, a, b, failedId };
}

const ids = (body: { id: string }[]) => body.map((x) => x.id).sort();

describe("repeated query parameters", () => {
  it("GET /operations?status=succeeded&status=failed answers both, in either order (the issue's input)", async () => {
    const { api, a, b, failedId } = await account();
    const both = await api.get("/api/v1/operations?status=succeeded&status=failed");
    expect(both.status).toBe(200);
    expect(ids(both.body)).toEqual([a.operationId, b.operationId, failedId].sort());
    const reversed = await api.get("/api/v1/operations?status=failed&status=succeeded");
    expect(ids(reversed.body)).toEqual(ids(both.body));
    // One value still filters.
    expect(ids((await api.get("/api/v1/operations?status=failed")).body)).toEqual([failedId]);
    expect((await api.get("/api/v1/operations?status=failed&status=pending")).body.map((o: { id: string }) => o.id)).toEqual([failedId]);
  });

  it("takes several instance_id and type values, ids and subdomains alike", async () => {
    const { api, a, b, failedId } = await account();
    const sub = (await api.get(`/api/v1/instances/${b.id}`)).body.subdomain as string;
    const byInstance = await api.get(`/api/v1/operations?instance_id=${a.id}&instance_id=${sub}`);
    expect(ids(byInstance.body)).toEqual([a.operationId, b.operationId, failedId].sort());
    const byType = await api.get("/api/v1/operations?type=instance.restart&type=instance.stop");
    expect(ids(byType.body)).toEqual([failedId]);
    // An unknown value among known ones is still a 400 naming the parameter.
    const bad = await api.get("/api/v1/operations?status=failed&status=done");
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].path).toMatch(/^query\.status/);
  });

  it("GET /instances?status= takes several statuses", async () => {
    const { api, a, b } = await account();
    const stop = await api.post(`/api/v1/instances/${a.id}/stop`);
    expect(stop.status).toBe(202);
    await expect.poll(async () => (await api.get(`/api/v1/instances/${a.id}`)).body.status, { timeout: 20_000 }).toBe("stopped");
    expect(ids((await api.get("/api/v1/instances?status=running&status=stopped")).body)).toEqual([a.id, b.id].sort());
    expect(ids((await api.get("/api/v1/instances?status=stopped")).body)).toEqual([a.id]);
    expect((await api.get("/api/v1/instances?status=failed&status=deleting")).body).toEqual([]);
  });

  it("GET /webhooks/{id}/deliveries?status= takes several statuses", async () => {
    const { me, api } = await account();
    const wh = await api.post("/api/v1/webhooks", { url: "http://127.0.0.1:9/hook", events: ["operation.succeeded"] });
    expect(wh.status).toBe(201);
    const db = await getDb();
    const make = async (status: string) => {
      const msg = newId("msg");
      // Already dispatched: the outbox's dispatcher has nothing to do with these.
      await db.insert(webhookMessage).values({ id: msg, accountId: me.accountId, eventType: "operation.succeeded", payload: {}, dispatchedAt: new Date() });
      const id = newId("dlv");
      await db.insert(webhookDelivery).values({ id, endpointId: wh.body.id, messageId: msg, eventType: "operation.succeeded", status });
      return id;
    };
    const ok = await make("succeeded");
    const failed = await make("failed");
    await make("pending");
    const res = await api.get(`/api/v1/webhooks/${wh.body.id}/deliveries?status=succeeded&status=failed`);
    expect(res.status).toBe(200);
    expect(ids(res.body)).toEqual([ok, failed].sort());
    await db.delete(webhookDelivery).where(eq(webhookDelivery.endpointId, wh.body.id));
  });

  it("refuses limit or cursor given twice, on every paged list", async () => {
    const { api, a } = await account();
    const wh = await api.post("/api/v1/webhooks", { url: "http://127.0.0.1:9/hook", events: ["operation.succeeded"] });
    const lists = ["/api/v1/operations", "/api/v1/keys", `/api/v1/webhooks/${wh.body.id}/deliveries`];
    for (const list of lists) {
      for (const query of ["limit=1&limit=50", "cursor=op_01&cursor=op_02", "limit=5&status=x&limit=5"]) {
        if (list !== "/api/v1/operations" && query.includes("status")) continue;
        const res = await api.get(`${list}?${query}`);
        expect(res.status, `${list}?${query}`).toBe(400);
        expect(res.headers.get("content-type")).toBe("application/problem+json");
        expect(res.body.code).toBe("validation_error");
        const param = query.split("=")[0];
        expect(res.body.errors).toContainEqual({ path: `query.${param}`, message: "Give this parameter once." });
      }
    }
    // A filter that takes one value at most elsewhere is not silently last-wins either: unknown parameters are refused.
    expect((await api.get(`/api/v1/instances/${a.id}?x=1&x=2`)).status).toBe(400);
  });
});
