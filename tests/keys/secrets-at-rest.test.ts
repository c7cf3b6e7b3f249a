import { getTableName, is } from "drizzle-orm";
import { PgTable } from "drizzle-orm/pg-core";
import { describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import * as schema from "@/db/schema";
import { client, createAccount } from "../support/fixtures";
import { useApiServer } from "../support/security";

const server = useApiServer();

/** Every row of every table, as text. */
async function everything(): Promise<string> {
  const db = await getDb();
  const parts: string[] = [];
  for (const t of Object.values(schema)) {
    if (!is(t, PgTable)) continue;
    const rows = await db.select().from(t);
    parts.push(`${getTableName(t)}: ${JSON.stringify(rows)}`);
  }
  return parts.join("\n");
}

describe("secrets at rest", () => {
  it("no table holds a token or webhook secret in plaintext, replayable responses included", async () => {
    const me = await createAccount();
    const api = client(server.url, me.token);
    const key = await api.post("/api/v1/keys", { name: "ci", scopes: ["read"] }, { headers: { "idempotency-key": "rest-1" } });
    expect(key.status).toBe(201);
    const hook = await api.post(
      "/api/v1/webhooks",
      { url: "http://127.0.0.1:9/hook", events: ["operation.succeeded"] },
      { headers: { "idempotency-key": "rest-2" } },
    );
    expect(hook.status).toBe(201);
    const rotated = await api.post(`/api/v1/webhooks/${hook.body.id}/rotate-secret`, undefined, { headers: { "idempotency-key": "rest-3" } });
    expect(rotated.status).toBe(200);
    // The replays still show what was shown once.
    const replay = await api.post("/api/v1/keys", { name: "ci", scopes: ["read"] }, { headers: { "idempotency-key": "rest-1" } });
    expect(replay.body.token).toBe(key.body.token);

    const dump = await everything();
    expect(dump).toContain(me.accountId); // the dump really holds the rows
    for (const secret of [me.token, key.body.token, hook.body.secret, rotated.body.secret]) {
      expect(secret).toMatch(/^(moc_[A-Za-z0-9]{8}_|whsec_)[A-Za-z0-9+/=]{24,}$/); // the real thing, not an empty string
      const material = secret.replace(/^(moc_[A-Za-z0-9]+_|whsec_)/, "");
      expect(dump).not.toContain(material.slice(0, 20));
    }
  });
});
