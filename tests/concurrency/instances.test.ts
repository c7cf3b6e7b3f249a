import { and, count, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import { operation } from "@/db/schema";
import { client, createAccount, createRunningInstance, holdOperations, uniqueSubdomain, waitForOperation } from "../support/fixtures";
import { useRealPostgres } from "../support/real-postgres";
import { useApiServer } from "../support/security";

const pg = useRealPostgres("concurrency on a real Postgres server");
const server = useApiServer();

const tally = (statuses: number[]) => statuses.reduce<Record<number, number>>((t, s) => ({ ...t, [s]: (t[s] ?? 0) + 1 }), {});

describe.skipIf(!pg)("concurrent requests on a real Postgres server", () => {
  it("never admits one instance more than the plan allows", async () => {
    const me = await createAccount({ plan: "pro", limits: { heavy: 1000, account: 10_000 } });
    const api = client(server.url, me.token);
    const results = await Promise.all(Array.from({ length: 14 }, (_, i) => api.post("/api/v1/instances", { subdomain: uniqueSubdomain(`race${i}`) })));
    expect(tally(results.map((r) => r.status))).toEqual({ 202: 6, 409: 8 });
    for (const r of results.filter((r) => r.status === 409)) expect(r.body.code).toBe("instance_limit_reached");
    const account = await api.get("/api/v1/account");
    expect(account.body.usage.instances).toBe(6);
    await Promise.all(results.filter((r) => r.status === 202).map((r) => waitForOperation(api, r.body.id)));
  });

  it("lets exactly one of many concurrent lifecycle requests on one instance start an operation", async () => {
    const me = await createAccount({ plan: "business", limits: { heavy: 1000, account: 10_000 } });
    const api = client(server.url, me.token);
    const { id } = await createRunningInstance(api, uniqueSubdomain("one"));
    const actions = ["stop", "restart", "stop", "restart", "stop", "restart", "stop", "restart"];
    // The winner's operation stays unfinished while the requests race: otherwise a fast one could
    // finish first, and a later request (a delete of the stopped instance) rightly start a second.
    const hold = holdOperations();
    const results = await Promise.all([
      ...actions.map((a) => api.post(`/api/v1/instances/${id}/${a}`)),
      api.delete(`/api/v1/instances/${id}`),
      api.delete(`/api/v1/instances/${id}`),
    ]);
    const winners = results.filter((r) => r.status === 202);
    await hold.resume(...winners.map((w) => w.body.id as string));
    expect(winners).toHaveLength(1);
    for (const r of results.filter((r) => r.status !== 202)) {
      expect(r.status).toBe(409);
      expect(r.body).toMatchObject({ code: "operation_in_progress", operation_id: winners[0]!.body.id });
    }
    const db = await getDb();
    const [{ n }] = (await db.select({ n: count() }).from(operation).where(and(eq(operation.instanceId, id)))) as [{ n: number }];
    expect(n).toBe(2); // the create, and the one winner
    await waitForOperation(api, winners[0]!.body.id);
  });

  it("gives a subdomain to exactly one of two accounts racing for it", async () => {
    const a = client(server.url, (await createAccount({ limits: { heavy: 1000 } })).token);
    const b = client(server.url, (await createAccount({ limits: { heavy: 1000 } })).token);
    const subdomain = uniqueSubdomain("contest");
    const results = await Promise.all([a.post("/api/v1/instances", { subdomain }), b.post("/api/v1/instances", { subdomain })]);
    expect(results.map((r) => r.status).sort()).toEqual([202, 409]);
    expect(results.find((r) => r.status === 409)!.body.code).toBe("subdomain_taken");
  });

  it("creates exactly one operation for many identical concurrent requests with one Idempotency-Key", async () => {
    const me = await createAccount({ plan: "business", limits: { heavy: 1000, account: 10_000 } });
    const api = client(server.url, me.token);
    const subdomain = uniqueSubdomain("idem");
    const headers = { "idempotency-key": `deploy-${subdomain}` };
    const results = await Promise.all(Array.from({ length: 12 }, () => api.post("/api/v1/instances", { subdomain }, { headers })));
    const statuses = tally(results.map((r) => r.status));
    expect(Object.keys(statuses).sort()).toEqual(expect.arrayContaining(["202"]));
    for (const r of results) {
      if (r.status === 409) expect(r.body.code).toBe("idempotency_key_in_use");
      else expect(r.status).toBe(202);
    }
    const opIds = new Set(results.filter((r) => r.status === 202).map((r) => r.body.id));
    expect(opIds.size).toBe(1);
    const db = await getDb();
    const [{ n }] = (await db.select({ n: count() }).from(operation).where(eq(operation.accountId, me.accountId))) as [{ n: number }];
    expect(n).toBe(1);
    expect(results.filter((r) => r.headers.get("idempotent-replayed") === "true").length).toBe(statuses[202]! - 1);
  });
});
