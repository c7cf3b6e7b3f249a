import { randomUUID } from "node:crypto";
import { neonConfig, Pool } from "@neondatabase/serverless";
import ws from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNeonRelay, type NeonRelay } from "./neon-relay";
import { serviceUrl } from "./services";

const pgUrl = serviceUrl("tests/support/neon-relay.test.ts (Neon driver over a WebSocket relay)", "TEST_POSTGRES_URL");

describe.skipIf(!pgUrl)("Neon's Pool through the WebSocket-to-TCP relay on a real Postgres", () => {
  let relay: NeonRelay;
  let pool: Pool;
  const table = `neon_relay_${randomUUID().replace(/-/g, "").slice(0, 12)}`;

  beforeAll(async () => {
    const u = new URL(pgUrl!);
    relay = await startNeonRelay({ pgHost: u.hostname, pgPort: Number(u.port || 5432) });
    neonConfig.webSocketConstructor = ws;
    neonConfig.wsProxy = relay.proxy;
    neonConfig.useSecureWebSocket = false;
    neonConfig.pipelineTLS = false;
    neonConfig.pipelineConnect = false;
    pool = new Pool({ connectionString: pgUrl, max: 4 });
    await pool.query(`create table ${table} (id int primary key, note text not null)`);
  });
  afterAll(async () => {
    await pool?.query(`drop table if exists ${table}`).catch(() => undefined);
    await pool?.end();
    await relay?.close();
  });

  it("runs select 1 over the relay", async () => {
    const before = relay.connections;
    const { rows } = await pool.query("select 1 as one");
    expect(rows).toEqual([{ one: 1 }]);
    expect(relay.proxy).toMatch(/^127\.0\.0\.1:\d+\/v1$/);
    expect(relay.connections).toBeGreaterThanOrEqual(Math.max(1, before));
  });

  it("commits and rolls back transactions on one connection", async () => {
    const client = await pool.connect();
    try {
      await client.query("begin");
      await client.query(`insert into ${table} values (1, 'kept')`);
      await client.query("commit");
      await client.query("begin");
      await client.query(`insert into ${table} values (2, 'dropped')`);
      const inside = await client.query(`select count(*)::int as n from ${table}`);
      expect(inside.rows[0].n).toBe(2);
      await client.query("rollback");
    } finally {
      client.release();
    }
    const { rows } = await pool.query(`select id, note from ${table} order by id`);
    expect(rows).toEqual([{ id: 1, note: "kept" }]);
  });

  it("reports Postgres errors with their code (unique violation 23505)", async () => {
    const err = await pool.query(`insert into ${table} values (1, 'again')`).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe("23505");
  });

  it("serves concurrent connections, isolated (a row lock blocks a second writer)", async () => {
    const a = await pool.connect();
    const b = await pool.connect();
    try {
      await a.query("begin");
      await a.query(`update ${table} set note = 'a' where id = 1`);
      await b.query("begin");
      let bDone = false;
      const bUpdate = b.query(`update ${table} set note = 'b' where id = 1`).then(() => {
        bDone = true;
      });
      await new Promise((r) => setTimeout(r, 200));
      expect(bDone).toBe(false); // waiting on a's row lock
      await a.query("commit");
      await bUpdate;
      await b.query("commit");
    } finally {
      a.release();
      b.release();
    }
    const { rows } = await pool.query(`select note from ${table} where id = 1`);
    expect(rows).toEqual([{ note: "b" }]);
  });
});
