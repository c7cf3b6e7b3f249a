import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { openDatabase } from "@/db/client";
import { verifyToken } from "@/lib/keys/verify";

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, "../..");
const dirs: string[] = [];
const tempDataDir = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "moc-admin-"));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** The admin command as an operator runs it, in its own process against an embedded database. */
async function admin(dataDir: string, args: string[], extraEnv: Record<string, string> = {}) {
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: "silent" };
  delete env.DATABASE_URL; // the embedded, file-backed database
  delete env.API_KEY_PEPPERS;
  delete env.ENCRYPTION_KEYS;
  for (const k of Object.keys(env)) if (k.startsWith("UPSTASH_")) delete env[k];
  Object.assign(env, extraEnv);
  try {
    const { stdout, stderr } = await run(path.join(root, "node_modules/.bin/tsx"), ["scripts/admin.ts", ...args], { cwd: root, env });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

// Each run is a new process opening a file-backed PGlite: seconds apiece on a busy machine.
describe("npm run admin", { timeout: 240_000 }, () => {
  it("create-key --json prints exactly one JSON object whose token works", async () => {
    const dir = tempDataDir();
    const res = await admin(dir, ["create-key", "--email", "Ops@Example.com", "--plan", "business", "--scopes", "read,instance:write", "--name", "ci", "--json"]);
    expect(res.code).toBe(0);
    const out = JSON.parse(res.stdout);
    expect(Object.keys(out).sort()).toEqual(["account_id", "key_id", "token"]);
    expect(out.account_id).toMatch(/^usr_/);
    expect(out.key_id).toMatch(/^key_/);
    expect(res.stdout.trim().split("\n")).toHaveLength(1);

    // Again for the same email: the same account, a new key, the plan updated.
    const again = JSON.parse((await admin(dir, ["create-key", "--email", "ops@example.com", "--plan", "pro", "--json"])).stdout);
    expect(again.account_id).toBe(out.account_id);
    expect(again.key_id).not.toBe(out.key_id);

    process.env.DATA_DIR = dir; // the generated secrets live beside the database
    const { resetConfig } = await import("@/lib/config");
    const saved = { p: process.env.API_KEY_PEPPERS, e: process.env.ENCRYPTION_KEYS, u: process.env.DATABASE_URL };
    delete process.env.API_KEY_PEPPERS;
    delete process.env.ENCRYPTION_KEYS;
    delete process.env.DATABASE_URL;
    resetConfig();
    const d = await openDatabase({ kind: "pglite", dataDir: dir });
    try {
      const v = await verifyToken(d.db, out.token);
      expect(v.ok).toBe(true);
      if (v.ok) {
        expect(v.principal.account.plan).toBe("pro");
        expect(v.principal.key.scopes).toContain("instance:write");
        expect(v.principal.key.scopes).not.toContain("keys:write");
      }
    } finally {
      await d.close();
      process.env.API_KEY_PEPPERS = saved.p;
      process.env.ENCRYPTION_KEYS = saved.e;
      process.env.DATABASE_URL = saved.u;
      resetConfig();
    }
  });

  it("says clearly that the embedded database is in use by a running server", async () => {
    const dir = tempDataDir();
    const d = await openDatabase({ kind: "pglite", dataDir: dir }); // this process plays the server
    try {
      const res = await admin(dir, ["create-key", "--email", "a@b.co", "--plan", "pro"]);
      expect(res.code).toBe(1);
      expect(res.stderr).toContain("already open in another process");
      expect(res.stderr).toContain(`pid ${process.pid}`);
    } finally {
      await d.close();
    }
  });

  it("refuses, before touching the database, a change running servers must learn of when it cannot reach their rate-limit store", async () => {
    const server = {
      DATABASE_URL: "postgres://nobody:nothing@127.0.0.1:9/none", // a database server (none listens there: the refusal comes first)
      API_KEY_PEPPERS: `1:${"p".repeat(43)}`,
      ENCRYPTION_KEYS: `1:${Buffer.alloc(32, 7).toString("base64")}`,
    };
    for (const args of [["set-plan", "--email", "a@example.com", "--plan", "starter"], ["revoke-key", "--key", "key_x"], ["set-limits", "--email", "a@example.com", "--read", "5"]]) {
      const refused = await admin(tempDataDir(), args, server);
      expect(refused.code, args[0]).toBe(2);
      expect(refused.stderr).toContain(`${args[0]} must reach the running servers through their rate-limit store`);
      expect(refused.stderr).toMatch(/UPSTASH_REDIS_REST_URL.*--server/s);
    }
    // Declared: it goes on to the database (which is not there).
    const declared = await admin(tempDataDir(), ["revoke-key", "--key", "key_x"], { ...server, ADMIN_WITHOUT_RATE_LIMIT_STORE: "1" });
    expect(declared.code).not.toBe(0);
    expect(declared.stderr).not.toContain("rate-limit store");
  });

  it("explains its usage on bad input, with exit code 2", async () => {
    const dir = tempDataDir();
    for (const args of [[], ["bogus"], ["create-key", "--email", "nope", "--plan", "pro"], ["create-key", "--email", "a@b.co", "--plan", "gold"], ["set-limits", "--email", "a@b.co"], ["create-key", "--wat"]]) {
      const res = await admin(dir, args);
      expect(res.code, args.join(" ")).toBe(2);
      expect(res.stderr).toContain("Usage:");
    }
  });

  it("set-plan, set-limits and revoke-key change the account and key", async () => {
    const dir = tempDataDir();
    const out = JSON.parse((await admin(dir, ["create-key", "--email", "x@y.co", "--plan", "pro", "--json"])).stdout);
    expect((await admin(dir, ["set-plan", "--email", "x@y.co", "--plan", "business"])).stdout).toContain("business");
    const limits = JSON.parse((await admin(dir, ["set-limits", "--email", "x@y.co", "--read", "500", "--json"])).stdout);
    expect(limits.limits).toEqual({ read: 500, write: 60, heavy: 10, account: 2000 });
    const reset = JSON.parse((await admin(dir, ["set-limits", "--email", "x@y.co", "--reset", "--json"])).stdout);
    expect(reset.limits.read).toBe(240);
    expect((await admin(dir, ["revoke-key", "--key", out.token.slice(0, 12)])).code).toBe(0);
    expect((await admin(dir, ["revoke-key", "--key", out.key_id])).code).toBe(2); // already revoked
  });
});
