import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { getDb } from "@/db/client";
import { openclawVersion } from "@/db/schema";
import { processRuntime } from "@/inngest/runtime";
import { ComputeError, type LocalProvider } from "@/lib/compute";
import { MemoryRateLimiter, resetRateLimiter, setRateLimiter } from "@/lib/ratelimit";
import { client, createAccount, createRunningInstance, uniqueSubdomain, type TestAccount } from "../support/fixtures";
import { useApiServer } from "../support/security";
import { startWebhookReceiver } from "../support/webhook-receiver";
import { buildCli, moc, removeTemporaryFolders, ROOT, tempConfigHome, type MocOptions } from "./support";

/**
 * `moc`, built as `npm install` builds it, run as a subprocess against the API
 * over real HTTP: every command's happy path, --json parsed, --wait on success
 * and on failure, the documented exit codes, and `moc login`'s file.
 */
const server = useApiServer();
// The exit codes of cli/src/errors.ts, written out: a test of the documented numbers, not of the table.
const EXIT = { ok: 0, failed: 1, usage: 2, auth: 3, notFound: 4, conflict: 5, rateLimited: 6, server: 7 };

let me: TestAccount;
/** moc as `me`, against the test server. */
const run = (args: string[], opts: MocOptions = {}) => moc(args, { key: me.token, baseUrl: server.url, ...opts });
const expectOk = (r: { code: number | null; stderr: string }) => expect(r.code, r.stderr).toBe(EXIT.ok);

beforeAll(async () => {
  await buildCli();
  // Generous per-key limits: one key runs every command of this file within a minute.
  me = await createAccount({ limits: { read: 1000, write: 1000, heavy: 1000 } });
}, 120_000);
afterAll(removeTemporaryFolders);

describe("moc instances", () => {
  const subdomain = uniqueSubdomain("cli");
  let id: string;

  it("create --wait follows the operation to succeeded and prints the API's JSON", async () => {
    const r = await run(["instances", "create", "--subdomain", subdomain, "--region", "dfw", "--wait", "--json"]);
    expectOk(r);
    const op = r.json();
    expect(op).toMatchObject({ type: "instance.create", status: "succeeded", error: null });
    expect(op.id).toMatch(/^op_/);
    id = op.instance_id;
  });

  it("ls and get, as tables and as JSON", async () => {
    const ls = await run(["instances", "ls", "--json"]);
    expectOk(ls);
    expect(ls.json()).toContainEqual(expect.objectContaining({ id, subdomain, status: "running", fly_region: "dfw" }));
    const table = await run(["instances", "ls", "--status", "running"]);
    expectOk(table);
    expect(table.stdout.split("\n")[0]).toMatch(/^ID\s+SUBDOMAIN\s+STATUS\s+REGION\s+VERSION\s+URL$/);
    expect(table.stdout).toMatch(new RegExp(`${id}\\s+${subdomain}\\s+running\\s+dfw\\s+2026\\.11\\.20`));

    const get = await run(["instances", "get", subdomain, "--json"]);
    expectOk(get);
    expect(get.json()).toMatchObject({ id, subdomain, status: "running" });
    const fields = await run(["instances", "get", id]);
    expect(fields.stdout).toMatch(new RegExp(`^subdomain:\\s+${subdomain}$`, "m"));
  });

  it("stop without --wait prints the accepted operation; ops get, ops wait and ops ls follow it", async () => {
    const stop = await run(["instances", "stop", subdomain, "--json"]);
    expectOk(stop);
    const op = stop.json();
    expect(op).toMatchObject({ type: "instance.stop", instance_id: id });
    expect(["pending", "running", "succeeded"]).toContain(op.status);

    const waited = await run(["ops", "wait", op.id, "--json"]);
    expectOk(waited);
    expect(waited.json()).toMatchObject({ id: op.id, status: "succeeded" });
    const got = await run(["ops", "get", op.id, "--json"]);
    expect(got.json()).toMatchObject({ id: op.id, type: "instance.stop", status: "succeeded" });

    const listed = await run(["ops", "ls", "--instance", subdomain, "--json"]);
    expectOk(listed);
    expect(listed.json().map((o: { type: string }) => o.type)).toEqual(["instance.stop", "instance.create"]);
    // One per page: the next page's cursor is offered on stderr, and --all follows every page.
    const page = await run(["ops", "ls", "--instance", subdomain, "--limit", "1"]);
    expect(page.stdout).toContain("instance.stop");
    expect(page.stdout).not.toContain("instance.create");
    expect(page.stderr).toMatch(/More: add --cursor op_\w+ \(or --all\)/);
    const all = await run(["ops", "ls", "--instance", subdomain, "--limit", "1", "--all", "--json"]);
    expect(all.json()).toHaveLength(2);
  });

  it("start --wait prints one line on success; outside a terminal, progress is plain lines on stderr", async () => {
    const r = await run(["instances", "start", subdomain, "--wait"]);
    expectOk(r);
    expect(r.stdout).toMatch(/^instance\.start op_\w+ succeeded in \d+\.\d s \(instance inst_\w+\)\n$/);
    expect(r.stderr).not.toContain("\u001b["); // no spinner escapes in a log
  });

  it("restart --wait --idempotency-key: a second run replays the first restart", async () => {
    const key = `deploy-${Date.now()}`;
    const first = await run(["instances", "restart", subdomain, "--wait", "--idempotency-key", key, "--json"]);
    expectOk(first);
    const again = await run(["instances", "restart", subdomain, "--wait", "--idempotency-key", key, "--json"]);
    expectOk(again);
    expect(again.json().id).toBe(first.json().id);
    expect(again.stderr).toContain("replayed");
  });

  it("--wait on an operation that fails: exit 1, the error's code and message on stderr", async () => {
    (processRuntime().deps.compute() as LocalProvider).failNext("restart", new ComputeError("machine_stuck", "The machine would not stop.", { retryable: false }));
    const r = await run(["instances", "restart", subdomain, "--wait", "--json"]);
    expect(r.code, r.stderr).toBe(EXIT.failed);
    expect(r.json()).toMatchObject({ type: "instance.restart", status: "failed", error: { code: "machine_stuck" } });
    expect(r.stderr).toMatch(/instance\.restart op_\w+ failed/);
    expect(r.stderr).toContain("machine_stuck: The machine would not stop.");
  });

  it("answers with the documented exit codes: not found 4, conflict 5, usage 2", async () => {
    const missing = await run(["instances", "get", "no-such-instance"]);
    expect(missing.code).toBe(EXIT.notFound);
    expect(missing.stderr).toMatch(/^Error: Not found \(404 not_found\)\n {2}No instance "no-such-instance" in this account\.\n {2}request_id: req_[0-9a-f]+\n$/);

    const taken = await run(["instances", "create", "--subdomain", subdomain]);
    expect(taken.code).toBe(EXIT.conflict);
    expect(taken.stderr).toContain("409 subdomain_taken");

    const invalid = await run(["instances", "create", "--subdomain", "Not_Valid"]);
    expect(invalid.code).toBe(EXIT.usage);
    expect(invalid.stderr).toContain("400 validation_error");
    expect(invalid.stderr).toMatch(/subdomain: /);

    const unknownOption = await run(["instances", "ls", "--colour"]);
    expect(unknownOption.code).toBe(EXIT.usage);
    expect(unknownOption.stderr).toContain("unknown option '--colour'");
  });

  it("delete asks for --yes outside a terminal, then follows the deletion", async () => {
    const refused = await run(["instances", "delete", subdomain, "--wait"]);
    expect(refused.code).toBe(EXIT.usage);
    expect(refused.stderr).toContain("add --yes");
    expect((await client(server.url, me.token).get(`/api/v1/instances/${id}`)).body.status).not.toBe("deleting");

    const r = await run(["instances", "delete", subdomain, "--yes", "--wait", "--json"]);
    expectOk(r);
    expect(r.json()).toMatchObject({ type: "instance.delete", status: "succeeded" });
    expect((await run(["instances", "get", id])).code).toBe(EXIT.notFound);
  });
});

describe("moc config", () => {
  it("set from stdin and from a file (--wait), get shows what is stored without the secret", async () => {
    const subdomain = uniqueSubdomain("cfg");
    await createRunningInstance(client(server.url, me.token), subdomain);

    const secret = "sk-ant-api03-" + "x".repeat(40) + "Qw3e";
    const provider = { provider: "anthropic", model: "claude-sonnet-4-5", api_key: secret };
    const set = await run(["config", "set", "provider", subdomain, "--wait", "--json"], { input: JSON.stringify(provider) });
    expectOk(set);
    expect(set.json()).toMatchObject({ type: "instance.configure", status: "succeeded" });
    const got = await run(["config", "get", "provider", subdomain, "--json"]);
    expectOk(got);
    expect(got.json()).toEqual({ provider: "anthropic", model: "claude-sonnet-4-5", api_key: { set: true, last4: "Qw3e" } });
    expect(got.stdout).not.toContain(secret);

    const file = path.join(tempConfigHome(), "agents.json");
    fs.writeFileSync(file, JSON.stringify({ agents: [{ id: "main", name: "Ada", instructions: "Be brief." }] }));
    expectOk(await run(["config", "set", "agents", subdomain, "--file", file, "--wait"]));
    const agents = await run(["config", "get", "agents", subdomain]);
    expect(JSON.parse(agents.stdout)).toMatchObject({ agents: [{ id: "main", name: "Ada", default: true }] });
    // The same document again starts nothing: said plainly (exit 0, nothing to wait for), or the document with --json.
    const same = await run(["config", "set", "agents", subdomain, "--file", file, "--wait"]);
    expectOk(same);
    expect(same.stderr).toContain("Unchanged: the instance already runs this document");
    const sameJson = await run(["config", "set", "agents", subdomain, "--file", file, "--json"]);
    expectOk(sameJson);
    expect(sameJson.json()).toMatchObject({ agents: [{ id: "main", name: "Ada" }] });

    const integrations = await run(["config", "get", "integrations", subdomain, "--json"]);
    expect(integrations.json()).toMatchObject({ telegram: { enabled: false } });

    const notJson = await run(["config", "set", "agents", subdomain], { input: "{agents" });
    expect(notJson.code).toBe(EXIT.usage);
    expect(notJson.stderr).toContain("is not JSON");
    const refused = await run(["config", "set", "agents", subdomain], { input: JSON.stringify({ agents: [] }) });
    expect(refused.code).toBe(EXIT.usage);
    expect(refused.stderr).toContain("400 validation_error");
    const unknownDocument = await run(["config", "get", "secrets", subdomain]);
    expect(unknownDocument.code).toBe(EXIT.usage);
  });
});

describe("moc keys", () => {
  it("create prints the token once; the new key works; revoke stops it", async () => {
    const created = await run(["keys", "create", "--name", "ci", "--scope", "instance:read", "--scope", "operations:read,keys:read", "--json"]);
    expectOk(created);
    const key = created.json();
    expect(key).toMatchObject({ name: "ci", scopes: ["instance:read", "operations:read", "keys:read"] });
    expect(key.token).toMatch(/^moc_/);

    const listed = await moc(["keys", "ls", "--json"], { key: key.token, baseUrl: server.url });
    expectOk(listed);
    expect(listed.json().map((k: { id: string }) => k.id)).toContain(key.id);
    expect(listed.stdout).not.toContain(key.token);
    const table = await run(["keys", "ls"]);
    expect(table.stdout).toMatch(new RegExp(`${key.id}\\s+ci\\s+${key.prefix}`));

    const revoked = await run(["keys", "revoke", key.id, "--json"]);
    expectOk(revoked);
    expect(revoked.json()).toEqual({ id: key.id, revoked: true });
    const after = await moc(["instances", "ls"], { key: key.token, baseUrl: server.url });
    expect(after.code).toBe(EXIT.auth);
    expect(after.stderr).toContain("401 invalid_api_key");
  });

  it("refuses a scope the key does not hold (exit 3)", async () => {
    const reader = await createAccount({ scopes: ["read"] });
    const r = await moc(["keys", "create", "--name", "x", "--scope", "all"], { key: reader.token, baseUrl: server.url });
    expect(r.code).toBe(EXIT.auth);
    expect(r.stderr).toContain("403 insufficient_scope");
  });
});

describe("moc webhooks", () => {
  it("create shows the secret once; ls, deliveries and rotate-secret", async () => {
    const receiver = await startWebhookReceiver();
    try {
      const created = await run(["webhooks", "create", "--url", receiver.url, "--event", "operation.succeeded", "--description", "cli", "--json"]);
      expectOk(created);
      const endpoint = created.json();
      expect(endpoint).toMatchObject({ url: receiver.url, events: ["operation.succeeded"], description: "cli", enabled: true });
      expect(endpoint.secret).toMatch(/^whsec_/);

      const listed = await run(["webhooks", "ls", "--json"]);
      expect(listed.json()).toContainEqual(expect.objectContaining({ id: endpoint.id, url: receiver.url }));
      expect(listed.stdout).not.toContain(endpoint.secret);

      // An operation to deliver, then its delivery as moc lists it.
      const api = client(server.url, me.token);
      await createRunningInstance(api, uniqueSubdomain("hook"));
      for (let i = 0; i < 200; i++) {
        const d = await api.get(`/api/v1/webhooks/${endpoint.id}/deliveries`);
        if (d.body.some((x: { status: string }) => x.status === "succeeded")) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const deliveries = await run(["webhooks", "deliveries", endpoint.id, "--json"]);
      expectOk(deliveries);
      expect(deliveries.json()).toEqual([expect.objectContaining({ event_type: "operation.succeeded", status: "succeeded" })]);
      const table = await run(["webhooks", "deliveries", endpoint.id]);
      expect(table.stdout).toMatch(/operation\.succeeded\s+msg_\w+\s+succeeded\s+1\s+200/);

      const rotated = await run(["webhooks", "rotate-secret", endpoint.id, "--json"]);
      expectOk(rotated);
      expect(rotated.json().secret).toMatch(/^whsec_/);
      expect(rotated.json().secret).not.toBe(endpoint.secret);
    } finally {
      await receiver.close();
    }
  });
});

describe("moc versions, instances upgrade and instances update", () => {
  it("versions ls lists the versions; upgrade --wait moves an instance, or exits 1 when the upgrade was rolled back", async () => {
    const db = await getDb();
    await db.insert(openclawVersion).values([
      { version: "2026.12.1", image: "ghcr.io/openclaw/openclaw:2026.12.1", releasedAt: new Date("2026-12-01T00:00:00Z") },
      { version: "2026.12.2", image: "ghcr.io/openclaw/openclaw:2026.12.2-crashes", releasedAt: new Date("2026-12-02T00:00:00Z") },
    ]);
    const ls = await run(["versions", "ls", "--json"]);
    expectOk(ls);
    expect(ls.json().map((v: { version: string }) => v.version)).toEqual(["2026.12.2", "2026.12.1", "2026.11.20"]);
    const table = await run(["versions", "ls"]);
    expect(table.stdout).toMatch(/^VERSION\s+RELEASED\s+STATUS\s+IMAGE$/m);
    expect(table.stdout).toMatch(/^2026\.12\.1\s+2026-12-01\s+-\s+ghcr\.io\/openclaw\/openclaw:2026\.12\.1$/m);
    expect(table.stdout).toMatch(/^2026\.11\.20\s+2026-11-20\s+default\s+ghcr\.io\/openclaw\/openclaw:2026\.11\.20$/m);

    const { id } = await createRunningInstance(client(server.url, me.token), uniqueSubdomain("cliup"));
    const up = await run(["instances", "upgrade", id, "--version", "2026.12.1", "--wait", "--json"]);
    expectOk(up);
    expect(up.json()).toMatchObject({ type: "instance.upgrade", status: "succeeded", target_version: "2026.12.1" });
    expect((await run(["instances", "get", id, "--json"])).json()).toMatchObject({ version: "2026.12.1" });

    (processRuntime().deps.compute() as LocalProvider).failImage("ghcr.io/openclaw/openclaw:2026.12.2-crashes", { as: "boot" });
    const failed = await run(["instances", "upgrade", id, "--version", "2026.12.2", "--wait"]);
    expect(failed.code).toBe(EXIT.failed);
    expect(failed.stderr).toContain("upgrade_rolled_back");
    expect((await run(["instances", "get", id, "--json"])).json()).toMatchObject({ version: "2026.12.1", status: "running" });

    const same = await run(["instances", "upgrade", id, "--version", "2026.12.1"]);
    expect(same.code).toBe(EXIT.conflict);
    const unknown = await run(["instances", "upgrade", id, "--version", "1.0.0-nope"]);
    expect(unknown.code).toBe(EXIT.usage);
    expect(unknown.stderr).toContain("unsupported_version");
  });

  it("update changes the name and auto_upgrade, and refuses nothing to change or a bad value", async () => {
    const { id } = await createRunningInstance(client(server.url, me.token), uniqueSubdomain("cliupd"), { name: "Old" });
    const r = await run(["instances", "update", id, "--name", "New", "--auto-upgrade", "false", "--json"]);
    expectOk(r);
    expect(r.json()).toMatchObject({ id, name: "New", auto_upgrade: false });
    const cleared = await run(["instances", "update", id, "--clear-name"]);
    expectOk(cleared);
    expect(cleared.stdout).toMatch(/^name:\s+-?$/m);
    expect((await run(["instances", "get", id, "--json"])).json()).toMatchObject({ name: null, auto_upgrade: false });
    for (const args of [[], ["--auto-upgrade", "maybe"], ["--name", "x", "--clear-name"]]) {
      const bad = await run(["instances", "update", id, ...args]);
      expect(bad.code, args.join(" ")).toBe(EXIT.usage);
    }
  });
});

describe("moc events and metrics", () => {
  it("events ls lists the instance's events (filtered by type and instance); metrics prints the Prometheus text", async () => {
    const owner = await createAccount();
    const subdomain = uniqueSubdomain("cli-evt");
    const inst = await createRunningInstance(client(server.url, owner.token), subdomain);
    const as = (args: string[]) => moc(args, { key: owner.token, baseUrl: server.url });

    const all = await as(["events", "ls", "--instance", subdomain, "--json"]);
    expectOk(all);
    const types = all.json().map((e: { type: string; data: { instance_id?: string } }) => [e.type, e.data.instance_id]);
    expect(types.sort()).toEqual([
      ["instance.health_changed", inst.id],
      ["instance.status_changed", inst.id],
      ["operation.succeeded", inst.id],
    ]);
    const table = await as(["events", "ls", "--type", "instance.status_changed"]);
    expectOk(table);
    expect(table.stdout.split("\n")[0]).toMatch(/^ID\s+TIME\s+TYPE\s+INSTANCE\s+WHAT$/);
    expect(table.stdout).toMatch(new RegExp(`instance\\.status_changed\\s+${inst.id}\\s+provisioning -> running \\(operation op_`));
    expect(table.stdout).not.toContain("instance.health_changed");
    const bad = await as(["events", "ls", "--type", "instance.exploded"]);
    expect(bad.code).toBe(EXIT.usage);

    const metrics = await as(["metrics"]);
    expectOk(metrics);
    expect(metrics.stdout).toMatch(new RegExp(`^moc_instance_up\\{instance_id="${inst.id}",subdomain="${subdomain}",region="[a-z]+"\\} 1$`, "m"));
  });
});

describe("moc account and regions", () => {
  it("account shows the plan and limits; regions needs no key", async () => {
    const account = await run(["account", "--json"]);
    expectOk(account);
    expect(account.json()).toMatchObject({ id: me.accountId, email: me.email, plan: "pro" });
    const fields = await run(["account"]);
    expect(fields.stdout).toMatch(/^plan:\s+pro$/m);

    const regions = await moc(["regions", "--json"], { baseUrl: server.url });
    expectOk(regions);
    expect(regions.json()).toContainEqual(expect.objectContaining({ code: "dfw" }));
    const table = await moc(["regions"], { baseUrl: server.url });
    expect(table.stdout).toMatch(/^CODE\s+NAME$/m);
  });
});

describe("moc: credentials and refusals", () => {
  it("a missing key: exit 3 and how to set one, without asking the server", async () => {
    const r = await moc(["instances", "ls"], { baseUrl: server.url });
    expect(r.code).toBe(EXIT.auth);
    expect(r.stderr).toContain("no API key");
    expect(r.stderr).toContain("MOC_API_KEY");
  });

  it("a bad key: exit 3 with the problem's title, detail and request id; the key is not printed", async () => {
    const bad = me.token.slice(0, -1) + (me.token.endsWith("a") ? "b" : "a");
    const r = await moc(["account"], { key: bad, baseUrl: server.url });
    expect(r.code).toBe(EXIT.auth);
    expect(r.stderr).toMatch(/^Error: Invalid API key \(401 invalid_api_key\)$/m);
    expect(r.stderr).toMatch(/^ {2}request_id: req_[0-9a-f]+$/m);
    expect(r.stderr).toContain("MOC_API_KEY");
    expect(r.stdout + r.stderr).not.toContain(bad);
  });

  it("rate limited: exit 6 and how long to wait", async () => {
    const limited = await createAccount({ limits: { read: 1 } });
    // The limiter's clock stands still mid-minute: a read counted just before a minute turns no longer counts whole after it.
    setRateLimiter(new MemoryRateLimiter(() => Math.floor(Date.now() / 60_000) * 60_000 + 30_000));
    let r;
    try {
      expectOk(await moc(["account"], { key: limited.token, baseUrl: server.url }));
      r = await moc(["account"], { key: limited.token, baseUrl: server.url });
    } finally {
      resetRateLimiter();
    }
    expect(r.code).toBe(EXIT.rateLimited);
    expect(r.stderr).toContain("429 rate_limited");
    expect(r.stderr).toMatch(/Retry (in|after) [1-9]\d* s\./); // the wait, from Retry-After when the detail does not say it
  });

  it("an unreachable server: exit 7", async () => {
    const r = await run(["account"], { baseUrl: "http://127.0.0.1:9" });
    expect(r.code).toBe(EXIT.server);
    expect(r.stderr).toContain("cannot reach http://127.0.0.1:9");
  });

  it("login reads the key from stdin, checks it, and stores it with mode 0600; logout forgets it", async () => {
    const home = tempConfigHome();
    const refused = await moc(["login", "--base-url", `${server.url}/api/v1/`], { configHome: home, input: "moc_not_a_key\n" });
    expect(refused.code).toBe(EXIT.auth);
    expect(fs.existsSync(path.join(home, "moc", "credentials.json"))).toBe(false);
    const onArgv = await moc(["login", me.token], { configHome: home });
    expect(onArgv.code).toBe(EXIT.usage);

    const login = await moc(["login", "--base-url", `${server.url}/api/v1/`], { configHome: home, input: `${me.token}\n` });
    expectOk(login);
    expect(login.stdout).toContain(`as ${me.email}`);
    expect(login.stdout + login.stderr).not.toContain(me.token);
    const file = path.join(home, "moc", "credentials.json");
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    expect(JSON.parse(fs.readFileSync(file, "utf8"))).toEqual({ base_url: server.url, api_key: me.token });

    // Later commands need neither variable.
    const account = await moc(["account", "--json"], { configHome: home });
    expectOk(account);
    expect(account.json().id).toBe(me.accountId);

    expectOk(await moc(["logout"], { configHome: home }));
    expect(fs.existsSync(file)).toBe(false);
    expect((await moc(["account"], { configHome: home })).code).toBe(EXIT.auth);
  });
});

describe("examples/github-actions/restart.yml", () => {
  const workflow = parseYaml(fs.readFileSync(path.join(ROOT, "examples", "github-actions", "restart.yml"), "utf8")) as {
    on: unknown;
    jobs: Record<string, { env: Record<string, string>; steps: { name?: string; uses?: string; run?: string }[] }>;
  };
  const steps = Object.values(workflow.jobs).flatMap((j) => j.steps);

  it("is a workflow whose commands use only moc", () => {
    expect(workflow.on).toBeDefined();
    const commands = steps.flatMap((s) => (s.run ?? "").split("\n")).map((l) => l.trim()).filter(Boolean);
    expect(commands).toContain("moc instances restart $ID --wait --idempotency-key ${{ github.sha }}");
    for (const c of commands) expect(c, c).toMatch(/^(moc |npm install --global @myopenclaw\/moc@\d)/);
    expect(JSON.stringify(workflow)).not.toMatch(/curl|Authorization/);
  });

  it("its restart step works verbatim against the API, and a re-run of the commit replays it", async () => {
    const subdomain = uniqueSubdomain("gha");
    await createRunningInstance(client(server.url, me.token), subdomain);
    const step = steps.find((s) => s.name === "Restart instance")!;
    // What the runner does: substitute ${{ ... }}, then run the script with bash.
    const sha = "4f9c0d2a7b1e4c3d9a8b7c6d5e4f3a2b1c0d9e8f";
    const script = step.run!.replaceAll("${{ github.sha }}", sha);
    const bin = fs.mkdtempSync(path.join(tempConfigHome(), "bin-"));
    fs.symlinkSync(path.join(ROOT, "cli", "bin", "moc.js"), path.join(bin, "moc")); // as npm links the bin
    const env = { PATH: `${bin}:${process.env.PATH}`, HOME: tempConfigHome(), MOC_API_KEY: me.token, MOC_BASE_URL: server.url, ID: subdomain } as unknown as NodeJS.ProcessEnv;
    const first = await promisify(execFile)("bash", ["-e", "-c", script], { env });
    expect(first.stdout).toMatch(/^instance\.restart op_\w+ succeeded/);
    const rerun = await promisify(execFile)("bash", ["-e", "-c", script], { env });
    expect(rerun.stdout.split(" ")[1]).toBe(first.stdout.split(" ")[1]);
    expect(rerun.stderr).toContain("replayed");
  });
});

describe("the package", () => {
  it("packs the built CLI with its bin, and no sources", async () => {
    const { stdout } = await promisify(execFile)("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: path.join(ROOT, "cli") });
    const [pack] = JSON.parse(stdout) as { name: string; files: { path: string }[] }[];
    const files = pack!.files.map((f) => f.path);
    expect(pack!.name).toBe("@myopenclaw/moc");
    expect(files).toEqual(expect.arrayContaining(["package.json", "README.md", "bin/moc.js", "dist/main.js", "dist/api.js"]));
    expect(files.filter((f) => !f.startsWith("dist/") && !["package.json", "README.md", "bin/moc.js"].includes(f))).toEqual([]);
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "cli", "package.json"), "utf8"));
    expect(pkg.bin).toEqual({ moc: "bin/moc.js" });
    // No install script: the package installs without running anything.
    expect(Object.keys(pkg.scripts).filter((s) => /^(pre|post)?install$|^prepare$/.test(s))).toEqual([]);
    expect(fs.readFileSync(path.join(ROOT, "cli", "bin", "moc.js"), "utf8")).toMatch(/^#!\/usr\/bin\/env node\n/);
  });
});
