import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { openDatabase } from "@/db/client";
import { client, createAccount, createKeyFor, uniqueSubdomain } from "../support/fixtures";
import { useRealPostgres } from "../support/real-postgres";
import { useApiServer } from "../support/security";
import { slowRequest } from "../support/slow-request";

// Revocation is final for mutations, on a real Postgres server, where
// transactions do run side by side: a mutation checks its key inside its own
// transaction with a share lock on the key's row, so a revocation either
// commits first (and the mutation commits nothing) or waits for the mutation
// to commit (and answers 204 only after it).
const pg = useRealPostgres("revocation against in-flight mutations on a real Postgres server");
const server = useApiServer();

describe.skipIf(!pg)("revoking a key while its mutations are in flight", () => {
  it("ten slow requests past authentication when the key is revoked: all 401, nothing created", async () => {
    const me = await createAccount({ plan: "business", limits: { write: 1000 } });
    const victim = await createKeyFor(me.accountId);
    const admin = client(server.url, me.token);
    const keysBefore = (await admin.get("/api/v1/keys?limit=100")).body.length;
    const slow = Array.from({ length: 10 }, () =>
      slowRequest(server.url, "POST", "/api/v1/keys", { authorization: `Bearer ${victim.token}`, "content-type": "application/json" }, '{"name":"late",'),
    );
    // Each request has passed authentication once its key shows as used; give the slowest a moment with a probe that needs no body.
    await expect.poll(async () => (await admin.get(`/api/v1/keys/${victim.id}`)).body.last_used_at, { timeout: 10_000 }).not.toBeNull();
    expect((await admin.delete(`/api/v1/keys/${victim.id}`)).status).toBe(204);
    const answers = await Promise.all(slow.map((s) => s.finish('"scopes":["read"]}')));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(401));
    expect((await admin.get("/api/v1/keys?limit=100")).body.length).toBe(keysBefore - 1);
  });

  it("a revocation waits for a mutation already inside its transaction, and answers only once it has committed", async () => {
    const me = await createAccount({ plan: "business", limits: { heavy: 100 } });
    const victim = await createKeyFor(me.accountId);
    const admin = client(server.url, me.token);
    const order: string[] = [];
    const waiting = async (d: Awaited<ReturnType<typeof openDatabase>>, query: string) => {
      const r = await d.db.execute(
        sql`select count(*)::int as n from pg_locks l join pg_stat_activity a on a.pid = l.pid where not l.granted and a.query ilike ${query}`,
      );
      return (r as unknown as { rows: { n: number }[] }).rows[0]!.n;
    };
    // Another session holds the account's row, which instance creation locks after the key check:
    // the create is parked inside its transaction, holding its share lock on the key's row.
    const other = await openDatabase({ kind: "pg", url: pg! });
    // Locks are watched from a third session: inside a transaction, pg_stat_activity is a snapshot.
    const observer = await openDatabase({ kind: "pg", url: pg! });
    await other.db.execute(sql`begin`);
    try {
      await other.db.execute(sql`select id from account where id = ${me.accountId} for update`);
      const create = client(server.url, victim.token).post("/api/v1/instances", { subdomain: uniqueSubdomain("park") });
      // Wait until the create is parked: it holds a share lock on the key's row.
      await expect.poll(() => waiting(observer, '%from "account"%for update%'), { timeout: 10_000 }).toBeGreaterThan(0);
      const revoke = admin.delete(`/api/v1/keys/${victim.id}`).then((r) => (order.push("revoke"), r));
      // The revocation waits for the parked create's share lock on the key's row...
      await expect.poll(() => waiting(observer, '%from "api_key"%for update%'), { timeout: 10_000 }).toBeGreaterThan(0);
      expect(order).toEqual([]);
      // ...until the create has committed.
      await other.db.execute(sql`commit`);
      const [created, revoked] = await Promise.all([create, revoke]);
      expect(created.status).toBe(202);
      expect(revoked.status).toBe(204);
      expect((await admin.get("/api/v1/instances")).body).toHaveLength(1);
      expect((await client(server.url, victim.token).get("/api/v1/account")).status).toBe(401);
    } finally {
      await other.db.execute(sql`rollback`).catch(() => undefined);
      await other.close();
      await observer.close();
    }
  });
});
