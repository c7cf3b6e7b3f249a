import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import { operatorToken } from "@/lib/operator/access";
import { createAccount } from "../support/fixtures";
import { useApiServer } from "../support/security";

const exec = promisify(execFile);
const root = path.resolve(import.meta.dirname, "../..");
const server = useApiServer();
// The database opens before the first request: opening PGlite holds the event loop for seconds, long enough
// for the server to close a kept-alive connection the next request would reuse (ECONNRESET).
beforeAll(() => getDb().then(() => undefined), 60_000);
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const post = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(new URL("/api/operator/run", server.url), {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
const asOperator = (body: unknown) => post(body, { authorization: `Bearer ${operatorToken()}` });

async function expectProblem(res: Response, status: number, code: string) {
  const body = (await res.json()) as { code: string; request_id: string };
  expect({ status: res.status, code: body.code }).toEqual({ status, code });
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  expect(body.request_id).toBe(res.headers.get("x-request-id"));
  return body;
}

/** The admin command in its own process, as an operator runs it. */
async function admin(args: string[], env: Record<string, string>) {
  try {
    const { stdout, stderr } = await exec(path.join(root, "node_modules/.bin/tsx"), ["scripts/admin.ts", ...args], {
      cwd: root,
      env: { ...process.env, LOG_LEVEL: "silent", ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("POST /api/operator/run", () => {
  it("refuses a request without the operator token, with a wrong one, and with a customer's API key", async () => {
    await expectProblem(await post({ command: "set-plan", args: {} }), 401, "invalid_operator_token");
    await expectProblem(await post({ command: "set-plan", args: {} }, { authorization: "Bearer not-the-token" }), 401, "invalid_operator_token");
    const customer = await createAccount({ plan: "business" });
    await expectProblem(await post({ command: "set-plan", args: {} }, { authorization: `Bearer ${customer.token}` }), 401, "invalid_operator_token");
  });

  it("refuses cookies and methods other than POST", async () => {
    await expectProblem(await post({ command: "set-plan" }, { authorization: `Bearer ${operatorToken()}`, cookie: "a=b" }), 403, "cookies_not_allowed");
    const res = await fetch(new URL("/api/operator/run", server.url), { headers: { authorization: `Bearer ${operatorToken()}` } });
    await expectProblem(res, 405, "method_not_allowed");
    expect(res.headers.get("allow")).toBe("POST");
  });

  it("runs a command and answers its text and JSON; the key it made works on the API", async () => {
    const res = await asOperator({ command: "create-key", args: { email: "Ops-Run@Example.com", plan: "business", scopes: "read" } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { text: string; json: { account_id: string; token: string } };
    expect(body.text).toContain("ops-run@example.com");
    const account = await fetch(new URL("/api/v1/account", server.url), { headers: { authorization: `Bearer ${body.json.token}` } });
    expect(account.status).toBe(200);
    expect(((await account.json()) as { plan: string }).plan).toBe("business");
  });

  it("names the unknown command, and each bad argument by its option", async () => {
    const unknown = await expectProblem(await asOperator({ command: "make-coffee" }), 400, "validation_error");
    expect(JSON.stringify(unknown)).toContain("make-coffee");
    const bad = (await expectProblem(await asOperator({ command: "create-key", args: { email: "nope", plan: "gold" } }), 400, "validation_error")) as unknown as { detail: string };
    expect(bad.detail).toContain("--email");
    expect(bad.detail).toContain("--plan");
    const missing = (await expectProblem(await asOperator({ command: "set-plan", args: { email: "nobody@example.com", plan: "pro" } }), 400, "validation_error")) as unknown as { detail: string };
    expect(missing.detail).toContain("No account with email nobody@example.com");
  });
});

// Each run is a new process (tsx): a few seconds apiece on a busy machine.
describe("npm run admin against a running server", { timeout: 120_000 }, () => {
  it("finds the embedded server of its DATA_DIR and runs the command there, never opening the database", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "moc-operator-"));
    dirs.push(dir);
    // What a running embedded server writes at start-up: where it listens, and its operator token.
    fs.writeFileSync(path.join(dir, "server.json"), JSON.stringify({ url: server.url, pid: process.pid }));
    fs.writeFileSync(path.join(dir, "operator-token"), operatorToken()!);
    const env = { DATA_DIR: dir, DATABASE_URL: "" };
    const res = await admin(["create-key", "--email", "via-server@example.com", "--plan", "pro", "--scopes", "instance:read", "--json"], env);
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    const out = JSON.parse(res.stdout) as { token: string };
    const list = await fetch(new URL("/api/v1/instances", server.url), { headers: { authorization: `Bearer ${out.token}` } });
    expect(list.status).toBe(200); // the key lives in the server's database, not in a new one under DATA_DIR
    expect(fs.existsSync(path.join(dir, "pglite.lock"))).toBe(false);
    expect(fs.readdirSync(dir).sort()).toEqual(["operator-token", "server.json"]);

    const usage = await admin(["set-limits", "--email", "via-server@example.com"], env);
    expect(usage.code).toBe(2); // the server's validation comes back as a usage error
    expect(usage.stderr).toContain("give --reset");
  });

  it("with --server, authenticates with MOC_OPERATOR_TOKEN and refuses to run without it", async () => {
    const without = await admin(["set-plan", "--email", "x@example.com", "--plan", "pro", "--server", server.url], { MOC_OPERATOR_TOKEN: "" });
    expect(without.code).toBe(2);
    expect(without.stderr).toContain("MOC_OPERATOR_TOKEN");
    const wrong = await admin(["set-plan", "--email", "x@example.com", "--plan", "pro", "--server", server.url], { MOC_OPERATOR_TOKEN: "wrong" });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("401");
    const acct = await createAccount({ plan: "pro" });
    const ok = await admin(["set-plan", "--email", acct.email, "--plan", "business", "--server", server.url, "--json"], { MOC_OPERATOR_TOKEN: operatorToken()! });
    expect(ok.code).toBe(0);
    // The account has no instance, so the plan change set no backup retention.
    expect(JSON.parse(ok.stdout)).toEqual({ account_id: acct.accountId, plan: "business", backups: { synced: [], failed: [] } });
  });
});
