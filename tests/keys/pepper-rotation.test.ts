import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import { apiKey } from "@/db/schema";
import { resetConfig } from "@/lib/config";
import { client, createAccount } from "../support/fixtures";
import { useApiServer } from "../support/security";

const server = useApiServer();
const original = process.env.API_KEY_PEPPERS!;
const OLD = original; // "1:..."
const NEW = "2:second-pepper-0123456789abcdefghijklmnopqrstuvwxyz";
const usePeppers = (v: string) => {
  process.env.API_KEY_PEPPERS = v;
  resetConfig();
};
afterEach(() => usePeppers(original));

describe("pepper rotation", () => {
  it("keeps old keys working, re-hashes them under the new pepper on use, and then the old pepper can go", async () => {
    const used = await createAccount();
    const idle = await createAccount();
    usePeppers(`${NEW},${OLD}`);
    const res = await client(server.url, used.token).get("/api/v1/account");
    expect(res.status).toBe(200);
    const db = await getDb();
    for (let i = 0; i < 50; i++) {
      const [row] = await db.select().from(apiKey).where(eq(apiKey.id, used.keyId));
      if (row!.pepperVersion === 2) break;
      await new Promise((r) => setTimeout(r, 20)); // the re-hash is written after the response
    }
    const [row] = await db.select().from(apiKey).where(eq(apiKey.id, used.keyId));
    expect(row!.pepperVersion).toBe(2);
    // New keys are hashed under the newest pepper.
    const created = await client(server.url, used.token).post("/api/v1/keys", { name: "new", scopes: ["read"] });
    const [fresh] = await db.select().from(apiKey).where(eq(apiKey.id, created.body.id));
    expect(fresh!.pepperVersion).toBe(2);

    usePeppers(NEW); // retire the old pepper
    expect((await client(server.url, used.token).get("/api/v1/account")).status).toBe(200);
    expect((await client(server.url, created.body.token).get("/api/v1/account")).status).toBe(200);
    // A key nobody used during the rotation was never re-hashed: it stops working with its pepper.
    expect((await client(server.url, idle.token).get("/api/v1/account")).status).toBe(401);
  });
});
