import { and, count, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import { backup, operation } from "@/db/schema";
import { client, createAccount, createRunningInstance, holdOperations, uniqueSubdomain, waitForOperation } from "../support/fixtures";
import { useRealPostgres } from "../support/real-postgres";
import { useApiServer } from "../support/security";

// Backups and restores racing each other and the lifecycle requests, on the
// real Postgres server (PGlite runs one transaction at a time, so no race
// could show there): the instance row's lock and the one-unfinished-operation
// rule admit exactly one.

const pg = useRealPostgres("backup and restore races on a real Postgres server");
const server = useApiServer();

async function newApi() {
  const me = await createAccount({ plan: "business", limits: { heavy: 1000, account: 10_000 } });
  return { me, api: client(server.url, me.token) };
}

async function operationsOf(instanceId: string): Promise<number> {
  const db = await getDb();
  const [{ n }] = (await db.select({ n: count() }).from(operation).where(eq(operation.instanceId, instanceId))) as [{ n: number }];
  return n;
}

describe.skipIf(!pg)("backups and restores racing on one instance", () => {
  it("lets exactly one of concurrent restores, backups, stops and restarts start an operation", async () => {
    const { api } = await newApi();
    const { id } = await createRunningInstance(api, uniqueSubdomain("rrace"));
    const first = await api.post(`/api/v1/instances/${id}/backups`);
    expect((await waitForOperation(api, first.body.id)).body.status).toBe("succeeded");
    const second = await api.post(`/api/v1/instances/${id}/backups`);
    expect((await waitForOperation(api, second.body.id)).body.status).toBe("succeeded");
    const [newer, older] = (await api.get(`/api/v1/instances/${id}/backups`)).body as { id: string }[];
    expect(await operationsOf(id)).toBe(3);

    for (let round = 0; round < 2; round++) {
      // The winner's operation stays pending while the requests race (on the simulated
      // machines it could otherwise finish before the slowest request takes the row lock).
      const before = await operationsOf(id);
      const hold = holdOperations();
      const results = await Promise.all([
        api.post(`/api/v1/instances/${id}/restore`, { backup_id: older!.id }),
        api.post(`/api/v1/instances/${id}/restore`, { backup_id: newer!.id }),
        api.post(`/api/v1/instances/${id}/backups`),
        api.post(`/api/v1/instances/${id}/restart`),
        api.post(`/api/v1/instances/${id}/restore`, { backup_id: older!.id }),
        api.post(`/api/v1/instances/${id}/stop`),
        api.post(`/api/v1/instances/${id}/backups`),
        api.post(`/api/v1/instances/${id}/restore`, { backup_id: newer!.id }),
      ]);
      const winners = results.filter((r) => r.status === 202);
      await hold.resume(...winners.map((w) => w.body.id as string));
      expect(winners, results.map((r) => `${r.status} ${r.text}`).join("\n")).toHaveLength(1);
      for (const r of results.filter((r) => r.status !== 202)) {
        expect(r.status, r.text).toBe(409);
        expect(r.body).toMatchObject({ code: "operation_in_progress", operation_id: winners[0]!.body.id });
      }
      expect(await operationsOf(id)).toBe(before + 1);
      expect((await waitForOperation(api, winners[0]!.body.id)).body.status).toBe("succeeded");
      if ((await api.get(`/api/v1/instances/${id}`)).body.status === "stopped") {
        expect((await waitForOperation(api, (await api.post(`/api/v1/instances/${id}/start`)).body.id)).body.status).toBe("succeeded");
      }
    }
  });

  it("many identical backup requests with one Idempotency-Key take one backup", async () => {
    const { me, api } = await newApi();
    const { id } = await createRunningInstance(api, uniqueSubdomain("ibk"));
    const headers = { "idempotency-key": `nightly-${id}` };
    const results = await Promise.all(Array.from({ length: 10 }, () => api.post(`/api/v1/instances/${id}/backups`, undefined, { headers })));
    for (const r of results) {
      if (r.status === 409) expect(r.body.code, r.text).toBe("idempotency_key_in_use");
      else expect(r.status, r.text).toBe(202);
    }
    const accepted = results.filter((r) => r.status === 202);
    expect(new Set(accepted.map((r) => r.body.id)).size).toBe(1);
    expect(accepted.filter((r) => r.headers.get("idempotent-replayed") === "true")).toHaveLength(accepted.length - 1);
    expect((await waitForOperation(api, accepted[0]!.body.id)).body.status).toBe("succeeded");
    expect(await operationsOf(id)).toBe(2);
    const db = await getDb();
    const rows = await db.select().from(backup).where(and(eq(backup.instanceId, id), eq(backup.accountId, me.accountId)));
    expect(rows.map((r) => [r.kind, r.status, r.operationId])).toEqual([["on_demand", "ready", accepted[0]!.body.id]]);
  });
});
