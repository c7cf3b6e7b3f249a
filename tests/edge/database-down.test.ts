import { afterAll, describe, expect, it } from "vitest";
import { closeDatabase } from "@/db/client";
import { resetConfig } from "@/lib/config";
import { generateToken } from "@/lib/keys/token";
import { client } from "../support/fixtures";
import { useApiServer } from "../support/security";
import { freePort } from "../support/services";

// A database the server cannot reach is an outage, answered 503 problem+json
// with Retry-After (nothing executed), never a bare 500.
const server = useApiServer();
const saved = process.env.DATABASE_URL;

afterAll(async () => {
  await closeDatabase();
  process.env.DATABASE_URL = saved;
  resetConfig();
});

describe("the database unreachable", () => {
  it("answers 503 service_unavailable with Retry-After, for reads and writes alike", async () => {
    await closeDatabase();
    process.env.DATABASE_URL = `postgres://postgres:postgres@127.0.0.1:${await freePort()}/nothing-listens`;
    resetConfig();
    const api = client(server.url, generateToken().token);
    for (const res of [await api.get("/api/v1/account"), await api.post("/api/v1/keys", { name: "k", scopes: ["read"] })]) {
      expect(res.status).toBe(503);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect(res.body).toMatchObject({ code: "service_unavailable", request_id: res.headers.get("x-request-id") });
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    }
    // Public routes that need no database still answer.
    expect((await api.get("/api/v1/regions")).status).toBe(200);

    // So does the operator endpoint: a command whose database is down is 503 too, not a bare 500.
    const operatorToken = "o".repeat(40);
    process.env.OPERATOR_TOKEN = operatorToken;
    resetConfig();
    try {
      const res = await fetch(new URL("/api/operator/run", server.url), {
        method: "POST",
        headers: { authorization: `Bearer ${operatorToken}`, "content-type": "application/json" },
        body: JSON.stringify({ command: "revoke-key", args: { key: "key_x" } }),
      });
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ code: "service_unavailable", request_id: res.headers.get("x-request-id") });
    } finally {
      delete process.env.OPERATOR_TOKEN;
    }
  });
});
