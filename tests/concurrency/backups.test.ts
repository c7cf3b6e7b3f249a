import { and, count, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import { backup, operation } from "@/db/schema";
import { client, createAccount, createRunningInstance, uniqueSubdomain, waitForOperation, type ApiResponse } from "../support/fixtures";
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

type Op = { id: string; type: string; status: string; created_at: string; completed_at: string | null };

/**
 * The requests' answers show one operation at a time on the instance: every
 * refusal is 409 (operation_in_progress naming an admitted operation, or
 * invalid_instance_state when an earlier winner left the instance where the
 * request cannot begin), and the admitted operations, carried out to their end,
 * never overlap: each began after the one before it had finished. (An operation
 * on the simulated machines can finish while the others still queue for the
 * instance's row lock, so more than one may be admitted, one after another.)
 */
async function oneAtATime(api: ReturnType<typeof client>, results: ApiResponse<any>[]): Promise<Op[]> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const admitted = results.filter((r) => r.status === 202);
  expect(admitted.length, results.map((r) => `${r.status} ${r.text}`).join("\n")).toBeGreaterThanOrEqual(1);
  const ids = new Set(admitted.map((r) => r.body.id as string));
  for (const r of results.filter((r) => r.status !== 202)) {
    expect(r.status, r.text).toBe(409);
    if (r.body.code === "operation_in_progress") expect(ids.has(r.body.operation_id), r.text).toBe(true);
    else expect(r.body.code, r.text).toBe("invalid_instance_state");
  }
  const ops: Op[] = [];
  for (const id of ids) ops.push((await waitForOperation(api, id)).body);
  ops.sort((a, b) => a.created_at.localeCompare(b.created_at));
  for (let i = 1; i < ops.length; i++) {
    expect(Date.parse(ops[i]!.created_at), `${ops[i]!.type} began before ${ops[i - 1]!.type} had finished`).toBeGreaterThanOrEqual(Date.parse(ops[i - 1]!.completed_at!));
  }
  return ops;
}

describe.skipIf(!pg)("backups and restores racing on one instance", () => {
  it("admits one operation at a time among concurrent restores, backups, stops and restarts", async () => {
    const { api } = await newApi();
    const { id } = await createRunningInstance(api, uniqueSubdomain("rrace"));
    const first = await api.post(`/api/v1/instances/${id}/backups`);
    expect((await waitForOperation(api, first.body.id)).body.status).toBe("succeeded");
    const second = await api.post(`/api/v1/instances/${id}/backups`);
    expect((await waitForOperation(api, second.body.id)).body.status).toBe("succeeded");
    const [newer, older] = (await api.get(`/api/v1/instances/${id}/backups`)).body as { id: string }[];
    expect(await operationsOf(id)).toBe(3);

    let status0 = "running";
    for (let round = 0; round < 2; round++) {
      const before = await operationsOf(id);
      const results = await Promise.all([
        api.post(`/api/v1/instances/${id}/restore`, { backup_id: older!.id }),
        api.post(`/api/v1/instances/${id}/restore`, { backup_id: newer!.id }),
        api.post(`/api/v1/instances/${id}/backups`),
        api.post(`/api/v1/instances/${id}/restart`),
        api.post(`/api/v1/instances/${id}/restore`, { backup_id: older!.id }),
        api.post(`/api/v1/instances/${id}/stop`),
        api.post(`/api/v1/instances/${id}/backups`),
        api.post(`/api/v1/instances/${id}/restore`, { backup_id: newer!.id }),
        api.post(`/api/v1/instances/${id}/restart`),
      ]);
      const ops = await oneAtATime(api, results);
      expect(await operationsOf(id)).toBe(before + ops.length);
      for (const op of ops) expect(op.status, JSON.stringify(op)).toBe("succeeded");
      // The instance rests where the last of them left it: a backup leaves it as it was, a restore or restart running.
      const expected = ops.reduce((status, op) => (op.type === "instance.stop" ? "stopped" : op.type === "instance.backup" ? status : "running"), status0);
      expect((await api.get(`/api/v1/instances/${id}`)).body.status).toBe(expected);
      status0 = expected;
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
