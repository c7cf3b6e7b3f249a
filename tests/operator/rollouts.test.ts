import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { operatorToken } from "@/lib/operator/access";
import { client, createAccount, createRunningInstance, uniqueSubdomain } from "../support/fixtures";
import { useApiServer } from "../support/security";

// The versions and rollout operator commands as an operator runs them: `npm run admin`
// in its own process, carried out by the running server it finds through DATA_DIR
// (the embedded database allows one process), and the same commands through
// POST /api/operator/run. This file's database is its own, so its rollout sees only
// its own instances.

const exec = promisify(execFile);
const root = path.resolve(import.meta.dirname, "../..");
const server = useApiServer();
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** A DATA_DIR that says an embedded server (this file's) is running. */
function dataDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "moc-rollout-"));
  dirs.push(dir);
  fs.writeFileSync(path.join(dir, "server.json"), JSON.stringify({ url: server.url, pid: process.pid }));
  fs.writeFileSync(path.join(dir, "operator-token"), operatorToken()!);
  return dir;
}

async function admin(args: string[], env: Record<string, string>) {
  try {
    const { stdout, stderr } = await exec(path.join(root, "node_modules/.bin/tsx"), ["scripts/admin.ts", ...args], {
      cwd: root,
      env: { ...process.env, LOG_LEVEL: "silent", DATABASE_URL: "", ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A command through the operator endpoint, as the admin command sends it. */
async function operator(command: string, args: Record<string, unknown> = {}) {
  const res = await fetch(new URL("/api/operator/run", server.url), {
    method: "POST",
    headers: { authorization: `Bearer ${operatorToken()}`, "content-type": "application/json" },
    body: JSON.stringify({ command, args }),
  });
  return { status: res.status, body: (await res.json()) as { text: string; json: any; detail?: string; code?: string } }; // eslint-disable-line @typescript-eslint/no-explicit-any
}

describe("versions and rollouts from the command line", { timeout: 180_000 }, () => {
  it("versions add, rollout start, rollout status --watch to the end, and the API shows the new version", async () => {
    const env = { DATA_DIR: dataDir() };
    const me = await createAccount({ plan: "business", limits: { heavy: 100 } });
    const api = client(server.url, me.token);
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await createRunningInstance(api, uniqueSubdomain("fleet"))).id);

    const added = await operator("versions add", { tag: "2026.12.1", "released-at": "2026-12-01" });
    expect(added.body.json).toEqual({
      version: "2026.12.1",
      image: "ghcr.io/openclaw/openclaw:2026.12.1",
      released_at: "2026-12-01T00:00:00.000Z",
      default: false,
      deprecated: false,
    });
    const ls = (await operator("versions ls")).body.text.split("\n");
    expect(ls[0]).toMatch(/^VERSION\s+RELEASED\s+INSTANCES\s+IMAGE$/);
    expect(ls.find((l) => l.startsWith("2026.11.20"))).toMatch(/^2026\.11\.20\s+2026-11-20\s+3\s+default\s+ghcr\.io\/openclaw\/openclaw:2026\.11\.20$/);

    const started = await admin(["rollout", "start", "--to", "2026.12.1", "--batch", "2"], env);
    expect(started.code).toBe(0);
    expect(started.stdout).toMatch(/^Rollout rol_\w+ started: 3 instances of 1 account \(2026\.11\.20: 3\) to 2026\.12\.1, 2 at a time/);

    // Not on a terminal, status prints JSON; --watch prints each change until the rollout has settled.
    const watched = await admin(["rollout", "status", "--watch"], env);
    expect(watched.code).toBe(0);
    const lines = watched.stdout.trim().split("\n").map((l) => JSON.parse(l) as { state: string; counts: Record<string, number> });
    expect(lines.at(-1)).toMatchObject({ state: "done", counts: { total: 3, upgraded: 3, failed: 0, pending: 0, upgrading: 0, skipped: 0 } });

    const instances = (await api.get("/api/v1/instances")).body as { version: string }[];
    expect(instances.map((i) => i.version)).toEqual(["2026.12.1", "2026.12.1", "2026.12.1"]);
    const ops = (await api.get("/api/v1/operations?type=instance.upgrade")).body as { status: string; target_version: string }[];
    expect(ops.map((o) => [o.status, o.target_version])).toEqual(Array(3).fill(["succeeded", "2026.12.1"]));

    // For a person, the same status is a progress bar.
    const text = (await operator("rollout status")).body.text;
    expect(text).toMatch(/^Rollout rol_\w+ \(2026\.12\.1\): done, batch 2, 2 at a time\n\[#{30}\] 3\/3 {2}upgraded 3 {2}failed 0 \(0\/3 counted\) {2}upgrading 0 {2}pending 0 {2}skipped 0$/);
    const nothing = await operator("rollout start", { to: "2026.12.1" });
    expect(nothing.body).toEqual({ text: "Nothing to roll out: no instance with auto_upgrade runs a version older than 2026.12.1.", json: { rollout: null } });
  });

  it("checks its arguments, and says start and resume need the running server", async () => {
    const bad = await operator("versions add", { tag: "latest" });
    expect({ status: bad.status, code: bad.body.code }).toEqual({ status: 400, code: "validation_error" });
    expect(bad.body.detail).toContain("<tag>");
    const image = await operator("versions add", { tag: "2026.12.9", image: "ghcr.io/openclaw/openclaw" });
    expect(image.body.detail).toMatch(/--image: .*has no tag, which means latest/);
    const date = await operator("versions add", { tag: "2026.12.9", "released-at": "yesterday" });
    expect(date.body.detail).toContain("--released-at");
    const deprecateDefault = await operator("versions deprecate", { tag: "2026.11.20" });
    expect(deprecateDefault.body.detail).toContain("2026.11.20 is the default: make another version the default first");
    const twice = await operator("versions add", { tag: "2026.11.20", image: "ghcr.io/openclaw/openclaw:other" });
    expect(twice.body.detail).toContain("a version's image never changes");

    const noServer = fs.mkdtempSync(path.join(os.tmpdir(), "moc-rollout-none-"));
    dirs.push(noServer);
    const res = await admin(["rollout", "start", "--to", "2026.12.1"], { DATA_DIR: noServer });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("rollout start runs in the server: start it (npm run dev)");
    expect(fs.readdirSync(noServer)).toEqual([]); // it opened no database there
  });
});
