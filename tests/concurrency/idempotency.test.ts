import { describe, expect, it } from "vitest";
import { openDatabase } from "@/db/client";
import { sql } from "drizzle-orm";
import { client, createAccount } from "../support/fixtures";
import { useRealPostgres } from "../support/real-postgres";
import { useApiServer } from "../support/security";

const pg = useRealPostgres("idempotency in flight on a real Postgres server");
const server = useApiServer();

describe.skipIf(!pg)("Idempotency-Key while the first request executes", () => {
  it("answers 409 idempotency_key_in_use, then replays once the first has finished", async () => {
    const me = await createAccount({ plan: "pro" });
    const api = client(server.url, me.token);
    // Another session holds the key's lock, as the first request's transaction does while it runs.
    const other = await openDatabase({ kind: "pg", url: pg! });
    const lockKey = `${me.keyId}:in-flight`; // stored requests are scoped to the API key
    await other.db.execute(sql`select pg_advisory_lock(hashtextextended(${lockKey}, 0))`);
    try {
      const res = await api.post("/api/v1/keys", { name: "k", scopes: ["read"] }, { headers: { "idempotency-key": "in-flight" } });
      expect(res.status).toBe(409);
      expect(res.body.code).toBe("idempotency_key_in_use");
      expect(res.headers.get("retry-after")).toBe("1");
    } finally {
      await other.db.execute(sql`select pg_advisory_unlock(hashtextextended(${lockKey}, 0))`);
      await other.close();
    }
    const first = await api.post("/api/v1/keys", { name: "k", scopes: ["read"] }, { headers: { "idempotency-key": "in-flight" } });
    expect(first.status).toBe(201);
    const replay = await api.post("/api/v1/keys", { name: "k", scopes: ["read"] }, { headers: { "idempotency-key": "in-flight" } });
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
  });
});
