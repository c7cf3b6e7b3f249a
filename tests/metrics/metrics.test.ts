import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { eq } from "drizzle-orm";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { getDb } from "@/db/client";
import { instance } from "@/db/schema";
import type { LocalProvider, Simulation } from "@/lib/compute/local";
import { observeRequestedEvent } from "@/lib/jobs/events";
import { machineRef } from "@/lib/services/operation-progress";
import { client, createAccount, createRunningInstance, uniqueSubdomain, type TestAccount } from "../support/fixtures";
import { describeSecurity, useApiServer } from "../support/security";
import { freePort, hasBinary } from "../support/services";
import { jobs } from "../webhooks/harness";

// GET /api/v1/metrics, read the way monitoring reads it: the exposition parsed line by line,
// linted by `promtool check metrics`, and scraped by a real Prometheus server with the API key
// as its bearer token, the series then queried back through Prometheus' HTTP API. One account
// with three instances (running, crashed, unhealthy) serves the whole file; every assertion is
// about its series only. The example Grafana dashboard and alerting rules
// (examples/monitoring/) are checked against the same Prometheus.

const server = useApiServer();
const EXAMPLES = path.resolve(import.meta.dirname, "../../examples/monitoring");
const hasPrometheus = hasBinary("metrics scraped by Prometheus", "prometheus") && hasBinary("metrics linted by promtool", "promtool", "apt-get install prometheus");

let me: TestAccount;
const ids = { running: "", crashed: "", unhealthy: "" };
let subdomainOfRunning = "";

/** The instance's machine changes behind the platform's back, and one observation of it runs. */
async function simulateAndObserve(instanceId: string, what: Simulation) {
  const [row] = await (await getDb()).select().from(instance).where(eq(instance.id, instanceId));
  (jobs.deps.compute() as LocalProvider).simulate(machineRef(row!)!, what);
  await jobs.runner.send(observeRequestedEvent(new Date(), 0, [instanceId]));
  await jobs.idle();
}

beforeAll(async () => {
  jobs.reset();
  me = await createAccount({ limits: { heavy: 100, write: 100 } });
  const api = client(server.url, me.token);
  for (const which of ["running", "crashed", "unhealthy"] as const) {
    const subdomain = uniqueSubdomain(`met-${which}`);
    ids[which] = (await createRunningInstance(api, subdomain)).id;
    if (which === "running") subdomainOfRunning = subdomain;
  }
  await jobs.idle();
  await simulateAndObserve(ids.running, "recover"); // observed, nothing changes
  await simulateAndObserve(ids.crashed, "crash");
  await simulateAndObserve(ids.unhealthy, "unhealthy");
}, 120_000);
afterAll(() => jobs.idle());

/** `name{labels} value` lines of the exposition, as [name, labels, value]. */
function samples(text: string) {
  const out: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

async function scrape(token = me.token) {
  const res = await client(server.url, token).get("/api/v1/metrics");
  expect(res.status, res.text).toBe(200);
  return res;
}

describe("GET /api/v1/metrics", () => {
  it("answers in the Prometheus text format 0.0.4", async () => {
    const res = await scrape();
    expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(res.text).toMatch(/^# HELP moc_instance_status /m);
    expect(res.text).toMatch(/^# TYPE moc_operation_duration_seconds histogram$/m);
  });

  it("shows each instance's status, health and up, with its id, subdomain and region", async () => {
    const all = samples((await scrape()).text);
    const of = (name: string, id: string, extra: Record<string, string> = {}) =>
      all.filter((s) => s.name === name && s.labels.instance_id === id && Object.entries(extra).every(([k, v]) => s.labels[k] === v)).map((s) => s.value);

    expect(of("moc_instance_up", ids.running)).toEqual([1]);
    expect(of("moc_instance_up", ids.crashed)).toEqual([0]);
    expect(of("moc_instance_up", ids.unhealthy)).toEqual([0]);
    // A state set: 1 for the one status it is in, 0 for every other.
    expect(of("moc_instance_status", ids.crashed, { status: "stopped" })).toEqual([1]);
    expect(of("moc_instance_status", ids.crashed).reduce((a, b) => a + b)).toBe(1);
    expect(of("moc_instance_status", ids.unhealthy, { status: "running" })).toEqual([1]);
    expect(of("moc_instance_health", ids.unhealthy, { health: "critical" })).toEqual([1]);
    expect(of("moc_instance_health", ids.running, { health: "passing" })).toEqual([1]);
    expect(of("moc_instance_health", ids.running).reduce((a, b) => a + b)).toBe(1);

    const up = all.find((s) => s.name === "moc_instance_up" && s.labels.instance_id === ids.running)!;
    expect(up.labels).toEqual({ instance_id: ids.running, subdomain: subdomainOfRunning, region: expect.stringMatching(/^[a-z]{3}$/) });
    // The last observation, in Unix seconds, as GET /instances/{id} shows it.
    const inst = (await client(server.url, me.token).get(`/api/v1/instances/${ids.crashed}`)).body;
    expect(of("moc_instance_last_observed_timestamp_seconds", ids.crashed)).toEqual([Date.parse(inst.observed_at) / 1000]);
  });

  it("counts finished operations by type and result, with their durations as a histogram", async () => {
    const all = samples((await scrape()).text);
    const created = { type: "instance.create", result: "succeeded" };
    const one = (name: string, labels: Record<string, string>) =>
      all.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).map((s) => s.value);
    expect(one("moc_operations_total", created)).toEqual([3]);
    expect(one("moc_operation_duration_seconds_count", created)).toEqual([3]);
    expect(one("moc_operation_duration_seconds_bucket", { ...created, le: "+Inf" })).toEqual([3]);
    const buckets = one("moc_operation_duration_seconds_bucket", created);
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b)); // cumulative
    expect(one("moc_operation_duration_seconds_sum", created)[0]).toBeGreaterThanOrEqual(0);
  });

  it("shows no other account's instances", async () => {
    const other = await createAccount();
    const text = (await scrape(other.token)).text;
    expect(samples(text).filter((s) => s.name.startsWith("moc_instance_"))).toEqual([]);
    for (const id of Object.values(ids)) expect(text).not.toContain(id);
  });
});

describe.skipIf(!hasPrometheus)("GET /api/v1/metrics, read by Prometheus", () => {
  let dir: string;
  let prom: ChildProcess | undefined;
  let promUrl = "";

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "moc-prom-"));
  });
  afterEach(async () => {
    if (prom && prom.exitCode === null) {
      const exited = new Promise((r) => prom!.once("exit", r));
      prom.kill("SIGTERM");
      await exited;
    }
    prom = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("passes promtool's lint", async () => {
    const { text } = await scrape();
    const lint = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
    expect({ status: lint.status, output: lint.stdout + lint.stderr }).toEqual({ status: 0, output: "" });
  });

  it("is scraped with the API key as a bearer token, and its series are queried back", { timeout: 60_000 }, async () => {
    const target = new URL(server.url).host;
    const badKey = `${me.token.slice(0, -1)}${me.token.endsWith("a") ? "b" : "a"}`;
    // The scrape job the docs give (docs/monitoring.md), and one with a wrong key beside it.
    const job = (name: string, token: string) => [
      `  - job_name: ${name}`,
      `    scrape_interval: 1s`,
      `    metrics_path: /api/v1/metrics`,
      `    authorization: { type: Bearer, credentials: "${token}" }`,
      `    static_configs: [{ targets: ["${target}"] }]`,
    ];
    const configFile = path.join(dir, "prometheus.yml");
    // The example alerting rules load with it (Prometheus refuses to start on a bad rule).
    fs.copyFileSync(path.join(EXAMPLES, "alerts.yml"), path.join(dir, "alerts.yml"));
    fs.writeFileSync(configFile, ["global: { scrape_interval: 1s }", "rule_files: [alerts.yml]", "scrape_configs:", ...job("moc", me.token), ...job("moc-bad-key", badKey), ""].join("\n"));
    const check = spawnSync("promtool", ["check", "config", configFile], { encoding: "utf8" });
    expect(check.status, check.stdout + check.stderr).toBe(0);

    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    let log = "";
    prom = spawn(
      "prometheus",
      [`--config.file=${configFile}`, `--storage.tsdb.path=${path.join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    prom.stdout!.on("data", (d) => (log += d));
    prom.stderr!.on("data", (d) => (log += d));

    /** The query's samples as {labels: value}, once Prometheus has any (it scrapes every second). */
    const query = (q: string) =>
      vi.waitFor(
        async () => {
          if (prom!.exitCode !== null) throw new Error(`prometheus exited: ${log}`);
          const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`).catch(() => null);
          const body = (await res?.json()) as { data?: { result: { metric: Record<string, string>; value: [number, string] }[] } } | undefined;
          const result = body?.data?.result ?? [];
          if (result.length === 0) throw new Error(`no samples yet for ${q}`);
          return result;
        },
        { timeout: 30_000, interval: 250 },
      );

    // The scrape with the key succeeds; the one with a wrong key is refused (401), so its target is down.
    expect((await query('up{job="moc"}')).map((r) => r.value[1])).toEqual(["1"]);
    expect((await query('up{job="moc-bad-key"}')).map((r) => r.value[1])).toEqual(["0"]);
    // The series come back with their labels, `instance` being the scrape target's (hence `instance_id`).
    const up = await query(`moc_instance_up{job="moc", instance_id=~"${Object.values(ids).join("|")}"}`);
    expect(Object.fromEntries(up.map((r) => [r.metric.instance_id, r.value[1]]))).toEqual({ [ids.running]: "1", [ids.crashed]: "0", [ids.unhealthy]: "0" });
    expect(up[0]!.metric.instance).toBe(target);
    const down = await query(`moc_instance_status{job="moc", status="stopped"} == 1`);
    expect(down.map((r) => r.metric.instance_id)).toEqual([ids.crashed]);
    const created = await query(`sum(moc_operations_total{job="moc", type="instance.create", result="succeeded"})`);
    expect(created.map((r) => r.value[1])).toEqual(["3"]);

    // The Grafana dashboard's queries, with its variables set to this job: each is PromQL Prometheus
    // accepts, and its stat panels count this account's three instances right.
    const dashboard = JSON.parse(fs.readFileSync(path.join(EXAMPLES, "grafana-dashboard.json"), "utf8")) as {
      panels: { title: string; type: string; targets: { expr: string }[] }[];
    };
    const stats: Record<string, string[]> = {};
    for (const panel of dashboard.panels) {
      for (const t of panel.targets) {
        const expr = t.expr.replaceAll("$job", "moc").replaceAll("$region", ".*").replaceAll("$__rate_interval", "1m");
        const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
        const body = (await res.json()) as { status: string; error?: string; data: { result: { value: [number, string] }[] } };
        expect({ panel: panel.title, status: body.status, error: body.error }).toEqual({ panel: panel.title, status: "success", error: undefined });
        if (panel.type === "stat") stats[panel.title] = body.data.result.map((r) => r.value[1]);
      }
    }
    expect({ instances: stats.Instances, up: stats.Up, down: stats.Down }).toEqual({ instances: ["3"], up: ["1"], down: ["2"] });
  });
});

describeSecurity("GET /api/v1/metrics", server, { method: "GET", scope: "instance:read", path: () => "/api/v1/metrics" });
