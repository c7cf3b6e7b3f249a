/**
 * The request-path benchmark (docs/benchmarks.md):
 *
 *   npm run bench [-- --seconds 10 --connections 10 --rounds 3 --json --cpu-prof]
 *
 * 1. Builds the production server if `.next/BUILD_ID` is missing or older than
 *    the sources (BENCH_BUILD=auto|always|never), then, in a fresh temporary
 *    DATA_DIR, creates a Pro key with `npm run admin -- create-key --json` and
 *    lifts its limits with `set-limits` BEFORE the server starts (PGlite's data
 *    directory is open in one process at a time).
 * 2. Starts `next start` on 127.0.0.1 and a free port, embedded mode
 *    (PGlite, in-process rate limiter and jobs, simulated machines with
 *    LOCAL_PROVIDER_DELAY_MS=0), with BENCH_BARE_ROUTE=1.
 * 3. Creates a few instances through the API and waits for their operations,
 *    captures one real `GET /api/v1/instances` answer and hands it to the bare
 *    route (app/api/bench/bare/route.ts) through DATA_DIR/bench-bare.json.
 * 4. With autocannon, after a warm-up, alternates rounds of the authenticated
 *    list (key check, both rate-limit windows, scope, the query) and the bare
 *    route answering the same bytes; reports requests/s, p50 and p99 latency
 *    and the auth/bare throughput ratio.
 * 5. Times stop -> start round trips: from `POST .../start` to its operation
 *    being `succeeded` (polled every few ms).
 * 6. Prints a table, writes bench-results.json in the temporary directory
 *    (`--json`: the JSON on stdout, the table on stderr), and always stops the
 *    server. Traffic goes to 127.0.0.1 only.
 *
 * Settings (flags win over environment): --seconds / BENCH_SECONDS (10),
 * --connections / BENCH_CONNECTIONS (10), --rounds / BENCH_ROUNDS (3),
 * --warmup / BENCH_WARMUP_SECONDS (5), --instances / BENCH_INSTANCES (3),
 * --trips / BENCH_TRIPS (10), --poll-ms / BENCH_POLL_MS (2),
 * --out <file> / BENCH_OUT (a second copy of the JSON), --cpu-prof (the server
 * writes a V8 CPU profile into the temporary directory when it stops),
 * BENCH_KEEP_DATA=1 keeps the PGlite directory, BENCH_SKIP_TYPECHECK=1 builds
 * without `next build`'s type check (compile and generate steps only),
 * BENCH_DATABASE_URL=postgres://... uses that Postgres server (migrated first)
 * instead of PGlite, everything else embedded.
 *
 * --shape production: the production shape (docs/benchmarks.md, "Production shape")
 *
 *   npm run bench -- --shape production [--delay-ms 2 | --delay-ms 0,2] [--cpu-prof]
 *
 * The same `next start` build, but against a Postgres server (pg driver; a fresh
 * database <db>_bench_<random> created on the server of --database-url /
 * BENCH_DATABASE_URL / DATABASE_URL, migrated, dropped afterwards) and real Redis
 * (--redis-url / BENCH_REDIS_URL / REDIS_URL, default redis://127.0.0.1:6379)
 * behind the Upstash REST relay of the tests, with the jobs in process and
 * simulated machines. The server reaches each store through a TCP proxy that
 * delays every chunk, each way, by --delay-ms (default 2; a comma list runs each
 * delay in turn on the same server): Postgres through one, the relay through the
 * other (the relay reaches Redis directly). With 6 instances (--instances), for
 * each delay, rounds in ABBA order of the authenticated list and the bare route,
 * first one request at a time (connections 1), then under load (--connections):
 * requests/s, p50 and p99, the server's CPU time per request (utime + stime of
 * its processes from /proc, before and after each run), and round trips per
 * request to Postgres (counted at its proxy: a client->server burst answered by
 * a server->client burst) and to Redis (HTTP requests the relay answered), net
 * of the background traffic seen during the bare runs (the job runner's
 * crons). Prints the figures against the targets (PASS/MISS) and markdown
 * tables for docs/benchmarks.md (also bench-results.md in the temporary
 * directory). No lifecycle round trips. Defaults in this shape: --seconds 5,
 * --rounds 3, --warmup 3, --instances 6. With --cpu-prof, where the CPU goes
 * in the load runs, per route, from the profile (scripts/bench/cpu-profile.ts).
 */
import { fork, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import pg from "pg";
import { FrameResolver, perRequestTables, summarise, windowsInside, type CpuProfile, type Window } from "./bench/cpu-profile";
import { background, markdown, summariseRuns, verdicts, type LoadRun, type Mode, type ShapeRun, type Target } from "./bench/report";
import type { StoresCommand, StoresReady, StoresStats } from "./bench/stores";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const NEXT_BIN = path.join(ROOT, "node_modules", "next", "dist", "bin", "next");
const HOST = "127.0.0.1";
const LIFTED = "1000000"; // the highest per-minute limit set-limits accepts
const TARGET_RATIO = 0.7;

// ---------------------------------------------------------------- settings

const { values: flags } = parseArgs({
  args: process.argv.slice(2),
  options: {
    seconds: { type: "string" },
    connections: { type: "string" },
    rounds: { type: "string" },
    warmup: { type: "string" },
    instances: { type: "string" },
    trips: { type: "string" },
    "poll-ms": { type: "string" },
    out: { type: "string" },
    json: { type: "boolean", default: false },
    "cpu-prof": { type: "boolean", default: false },
    shape: { type: "string", default: "embedded" },
    "delay-ms": { type: "string" },
    "database-url": { type: "string" },
    "redis-url": { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
  strict: true,
});

if (flags.help) {
  const head = fs.readFileSync(new URL(import.meta.url), "utf8").split("*/")[0]!;
  console.log(head.replace(/^\/\*\*\n?/, "").replace(/^ \* ?/gm, ""));
  process.exit(0);
}

function intSetting(flag: string | undefined, env: string, fallback: number, min: number): number {
  const raw = flag ?? process.env[env];
  if (raw === undefined || raw.trim() === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${env} (or its flag): an integer >= ${min}, got ${raw}`);
  return n;
}

if (flags.shape !== "embedded" && flags.shape !== "production") throw new Error("--shape: embedded or production");
const production = flags.shape === "production";

function delaysSetting(raw: string | undefined): number[] {
  const list = (raw ?? process.env.BENCH_DELAY_MS ?? "2").split(",").map((x) => x.trim());
  const out = list.map(Number);
  if (out.length === 0 || out.some((n, i) => list[i] === "" || !Number.isInteger(n) || n < 0 || n > 1000)) {
    throw new Error(`--delay-ms / BENCH_DELAY_MS: whole milliseconds 0-1000, or a comma list of them, got ${raw}`);
  }
  return out;
}

const settings = {
  shape: flags.shape as "embedded" | "production",
  seconds: intSetting(flags.seconds, "BENCH_SECONDS", production ? 5 : 10, 1),
  connections: intSetting(flags.connections, "BENCH_CONNECTIONS", 10, 1),
  rounds: intSetting(flags.rounds, "BENCH_ROUNDS", 3, 1),
  warmupSeconds: intSetting(flags.warmup, "BENCH_WARMUP_SECONDS", production ? 3 : 5, 0),
  instances: intSetting(flags.instances, "BENCH_INSTANCES", production ? 6 : 3, 1),
  trips: intSetting(flags.trips, "BENCH_TRIPS", 10, 1),
  pollMs: intSetting(flags["poll-ms"], "BENCH_POLL_MS", 2, 0),
  build: (process.env.BENCH_BUILD ?? "auto") as "auto" | "always" | "never",
  cpuProf: flags["cpu-prof"],
  keepData: process.env.BENCH_KEEP_DATA === "1",
  /** A Postgres server instead of the embedded PGlite (a comparison run; see docs/benchmarks.md). */
  databaseUrl: (production ? flags["database-url"] || process.env.BENCH_DATABASE_URL || process.env.DATABASE_URL : process.env.BENCH_DATABASE_URL)?.trim() || undefined,
  /** Production shape: the delay added each way in front of each store, ms (one or more, run in turn). */
  delaysMs: production ? delaysSetting(flags["delay-ms"]) : [],
  /** Production shape: the Redis behind the Upstash REST relay. */
  redisUrl: (flags["redis-url"] || process.env.BENCH_REDIS_URL || process.env.REDIS_URL || "redis://127.0.0.1:6379").trim(),
};
if (!production && (flags["delay-ms"] !== undefined || flags["database-url"] !== undefined || flags["redis-url"] !== undefined)) {
  throw new Error("--delay-ms, --database-url and --redis-url belong to --shape production");
}
if (production && !settings.databaseUrl) throw new Error("--shape production needs a Postgres server: --database-url, BENCH_DATABASE_URL or DATABASE_URL");
if (!["auto", "always", "never"].includes(settings.build)) throw new Error("BENCH_BUILD: auto, always or never");

/** With --json, stdout carries the JSON only; everything for people goes to stderr. */
const say = (msg: string) => (flags.json ? process.stderr : process.stdout).write(msg + "\n");

// ---------------------------------------------------------------- autocannon (no type definitions installed)

interface CannonResult {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  resets: number;
  statusCodeStats: Record<string, { count: number }>;
  requests: { total: number; sent: number };
  throughput: { total: number };
  latency: { p50: number; p99: number; mean: number };
}
interface CannonInstance extends PromiseLike<CannonResult> {
  on(event: "response", fn: (client: unknown, statusCode: number, resBytes: number, responseTime: number) => void): void;
  stop(): void;
}
type Autocannon = (opts: {
  url: string;
  connections: number;
  duration: number;
  headers?: Record<string, string>;
  timeout?: number;
}) => CannonInstance;
const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon;

// ---------------------------------------------------------------- cleanup: the server always stops

let server: ChildProcess | undefined;
/** Production shape: the stores' child process (scripts/bench/stores.ts), the relay and the two delay proxies. */
let stores: ChildProcess | undefined;
/** Production shape: the fresh database, dropped in cleanup(): the maintenance URL and the name. */
let freshDb: { adminUrl: string; name: string } | undefined;
let serverExited: Promise<void> = Promise.resolve();
let tmpDir: string | undefined;

function killGroup(signal: NodeJS.Signals) {
  if (!server?.pid || server.exitCode !== null || server.signalCode !== null) return;
  try {
    process.kill(-server.pid, signal); // its own process group (detached): the server and anything it started
  } catch {
    try {
      server.kill(signal);
    } catch {
      // already gone
    }
  }
}

async function stopServer(): Promise<void> {
  if (!server) return;
  killGroup("SIGTERM");
  const done = await Promise.race([serverExited.then(() => true), sleep(10_000).then(() => false)]);
  if (!done) {
    killGroup("SIGKILL");
    await Promise.race([serverExited, sleep(2_000)]);
  }
  server = undefined;
}

process.on("exit", () => {
  killGroup("SIGKILL"); // last resort: never leave a server behind
  if (stores && stores.exitCode === null) stores.kill("SIGKILL");
});
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(sig, () => {
    say(`\n${sig}: stopping the server`);
    void cleanup().finally(() => process.exit(130));
  });
}

// ---------------------------------------------------------------- helpers

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, opts: { timeoutMs: number; capture?: boolean }): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: opts.capture ? ["ignore", "pipe", "pipe"] : ["ignore", flags.json ? 2 : "inherit", "inherit"] });
    let out = "";
    let err = "";
    child.stdout?.on("data", (d: Buffer) => (out += d));
    child.stderr?.on("data", (d: Buffer) => (err += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(" ")} failed (${signal ?? `exit ${code}`})\n${err || out}`.trim()));
    });
  });
}

/** The newest modification time under the paths the production build reads. */
function newestSource(): { file: string; mtimeMs: number } {
  let newest = { file: "", mtimeMs: 0 };
  const visit = (p: string) => {
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch {
      return;
    }
    if (st.isDirectory()) {
      for (const name of fs.readdirSync(p)) if (name !== "node_modules" && !name.startsWith(".")) visit(path.join(p, name));
    } else if (st.mtimeMs > newest.mtimeMs) newest = { file: path.relative(ROOT, p), mtimeMs: st.mtimeMs };
  };
  for (const p of ["app", "lib", "db", "inngest", "public", "instrumentation.ts", "middleware.ts", "proxy.ts", "next.config.ts", "tsconfig.json", "package.json", "package-lock.json"]) {
    visit(path.join(ROOT, p));
  }
  return newest;
}

async function ensureBuild(env: NodeJS.ProcessEnv): Promise<{ built: boolean; reason: string }> {
  const idFile = path.join(ROOT, ".next", "BUILD_ID");
  const built = fs.existsSync(idFile) ? fs.statSync(idFile).mtimeMs : 0;
  const src = newestSource();
  let reason: string;
  if (settings.build === "never") {
    if (!built) throw new Error("BENCH_BUILD=never but there is no .next/BUILD_ID: run `npx next build` first");
    return { built: false, reason: "BENCH_BUILD=never" };
  } else if (settings.build === "always") reason = "BENCH_BUILD=always";
  else if (!built) reason = "no .next/BUILD_ID";
  else if (src.mtimeMs > built) reason = `${src.file} is newer than .next/BUILD_ID`;
  else return { built: false, reason: ".next/BUILD_ID is newer than every source file: reusing the build" };
  if (process.env.BENCH_SKIP_TYPECHECK === "1") {
    // The same output without the type check: for when unrelated files do not type-check yet.
    say(`Building (${reason}): next build --experimental-build-mode compile, then generate (no type check)`);
    for (const mode of ["compile", "generate"]) {
      await run(process.execPath, [NEXT_BIN, "build", "--experimental-build-mode", mode], env, { timeoutMs: 15 * 60_000, capture: false });
    }
  } else {
    say(`Building (${reason}): next build`);
    await run(process.execPath, [NEXT_BIN, "build"], env, { timeoutMs: 15 * 60_000, capture: false });
  }
  return { built: true, reason };
}

async function admin(args: string[], env: NodeJS.ProcessEnv): Promise<Record<string, unknown>> {
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const out = await run(npm, ["run", "--silent", "admin", "--", ...args, "--json"], env, { timeoutMs: 120_000, capture: true });
  const line = out.trim().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    throw new Error(`admin ${args[0]}: expected a JSON line, got:\n${out}`);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, HOST, () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function tail(file: string, lines = 30): string {
  try {
    return fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no server log)";
  }
}

const quantile = (sorted: number[], q: number) => {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
};
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

// ---------------------------------------------------------------- the API client

class Api {
  constructor(
    readonly base: string,
    private readonly token: string,
  ) {}

  async call(method: string, p: string, body?: unknown): Promise<{ status: number; text: string; json: unknown; headers: Headers }> {
    const res = await fetch(this.base + p, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, text, json, headers: res.headers };
  }

  async expect(method: string, p: string, status: number, body?: unknown) {
    const r = await this.call(method, p, body);
    if (r.status !== status) throw new Error(`${method} ${p}: expected ${status}, got ${r.status}: ${r.text.slice(0, 500)}`);
    return r;
  }

  /** Polls an operation until it has finished; `succeeded` or throws. */
  async settle(opId: string, pollMs: number, timeoutMs = 30_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const r = await this.expect("GET", `/api/v1/operations/${opId}`, 200);
      const op = r.json as { status: string; error: unknown };
      if (op.status === "succeeded") return;
      if (op.status === "failed") throw new Error(`operation ${opId} failed: ${JSON.stringify(op.error)}`);
      if (Date.now() > until) throw new Error(`operation ${opId} still ${op.status} after ${timeoutMs} ms`);
      if (pollMs > 0) await sleep(pollMs);
    }
  }
}

// ---------------------------------------------------------------- measurements


async function load(
  target: "auth" | "bare",
  url: string,
  token: string,
  seconds: number,
  round: number,
  connections = settings.connections,
): Promise<LoadRun & { responses: number; sent: number }> {
  // Each response's own latency, unrounded (autocannon's histogram keeps whole milliseconds).
  const latencies: number[] = [];
  let responses = 0;
  const inst = autocannon({
    url,
    connections,
    duration: seconds,
    timeout: 10,
    headers: target === "auth" ? { authorization: `Bearer ${token}` } : {},
  });
  inst.on("response", (_c, status, _bytes, ms) => {
    responses += 1;
    if (status >= 200 && status < 300) latencies.push(ms);
  });
  const r = await inst;
  latencies.sort((a, b) => a - b);
  const ok = latencies.length;
  return {
    target,
    round,
    seconds: r.duration,
    responses,
    sent: r.requests.sent,
    requests: r.requests.total,
    rps: round2(ok / r.duration),
    p50_ms: round2(quantile(latencies, 0.5)),
    p99_ms: round2(quantile(latencies, 0.99)),
    mean_ms: round2(latencies.reduce((a, b) => a + b, 0) / Math.max(1, ok)),
    bytes_per_response: Math.round(r.throughput.total / Math.max(1, ok)),
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
  };
}
const round2 = (n: number) => round(n, 2);

interface Trip {
  start_to_succeeded_ms: number;
  post_ms: number;
  stop_to_succeeded_ms: number;
}

async function lifecycleTrip(api: Api, instanceId: string): Promise<Trip> {
  const timed = async (action: "start" | "stop") => {
    const t0 = performance.now();
    const r = await api.expect("POST", `/api/v1/instances/${instanceId}/${action}`, 202);
    const postMs = performance.now() - t0;
    await api.settle((r.json as { id: string }).id, settings.pollMs);
    return { total: performance.now() - t0, postMs };
  };
  const stop = await timed("stop");
  const start = await timed("start");
  return { start_to_succeeded_ms: round2(start.total), post_ms: round2(start.postMs), stop_to_succeeded_ms: round2(stop.total) };
}

// ---------------------------------------------------------------- main

function machine() {
  const cpuinfo = fs.existsSync("/proc/cpuinfo") ? fs.readFileSync("/proc/cpuinfo", "utf8") : "";
  return {
    nproc: os.availableParallelism(),
    cpu: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? "unknown",
    memory_gib: round(os.totalmem() / 2 ** 30, 1),
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
  };
}

/** Embedded defaults only (but BENCH_DATABASE_URL): settings that would point the server at real services are dropped. */
function embeddedEnv(dataDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) {
    if (/^(DATABASE_|UPSTASH_|INNGEST_|FLY_|NEON_)/.test(k)) delete env[k];
  }
  for (const k of ["INSTANCE_PROVIDER", "REQUIRE_SERVICES", "VERCEL", "API_KEY_PEPPERS", "ENCRYPTION_KEYS", "PUBLIC_BASE_URL", "INSTANCE_DOMAIN", "BENCH_BARE_ROUTE"]) {
    delete env[k];
  }
  if (settings.databaseUrl) env.DATABASE_URL = settings.databaseUrl;
  return { ...env, DATA_DIR: dataDir, LOCAL_PROVIDER_DELAY_MS: "0", NEXT_TELEMETRY_DISABLED: "1" };
}

/**
 * Starts `next start` on a free port in its own process group (with the bare
 * route on, and Node's profiler with --cpu-prof), and waits until the
 * authenticated list answers 200.
 */
async function startServer(env: NodeJS.ProcessEnv, token: string, logFile: string): Promise<{ base: string; api: Api; pid: number }> {
  const port = await freePort();
  const base = `http://${HOST}:${port}`;
  const serverEnv: NodeJS.ProcessEnv = {
    ...env,
    NODE_ENV: "production",
    PORT: String(port),
    BENCH_BARE_ROUTE: "1",
  };
  // Node's own profiler: written when the server exits on SIGTERM (Next's NEXT_CPU_PROF is not, here).
  const nodeFlags = settings.cpuProf ? ["--cpu-prof", `--cpu-prof-dir=${tmpDir}`] : [];
  const logFd = fs.openSync(logFile, "a");
  server = spawn(process.execPath, [...nodeFlags, NEXT_BIN, "start", "-H", HOST, "-p", String(port)], {
    cwd: ROOT,
    env: serverEnv,
    stdio: ["ignore", logFd, logFd],
    detached: true, // its own process group, so stopping it stops all of it
  });
  fs.closeSync(logFd);
  const child = server;
  serverExited = new Promise((resolve) => child.once("exit", () => resolve()));
  const readyStart = performance.now();
  const api = new Api(base, token);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the server exited during start-up:\n${tail(logFile)}`);
    if (performance.now() - readyStart > 60_000) throw new Error(`the server did not answer within 60 s:\n${tail(logFile)}`);
    try {
      const r = await api.call("GET", "/api/v1/instances");
      if (r.status === 200) break;
      throw new Error(`GET /api/v1/instances answered ${r.status}: ${r.text.slice(0, 300)}`);
    } catch (err) {
      const code = (err as { cause?: { code?: string } }).cause?.code;
      if (code !== "ECONNREFUSED" && code !== "ECONNRESET") throw err;
      await sleep(50);
    }
  }
  say(`Server ${base} (pid ${child.pid}) ready after ${Math.round(performance.now() - readyStart)} ms`);
  return { base, api, pid: child.pid! };
}

/**
 * Creates the instances the list shows (waiting for their operations), captures
 * one real `GET /api/v1/instances` answer, hands it to the bare route through
 * DATA_DIR/bench-bare.json and checks that both now answer the same bytes.
 */
async function prepareList(api: Api, base: string, dataDir: string, suffix: string) {
  const ids: string[] = [];
  for (let i = 1; i <= settings.instances; i++) {
    const r = await api.expect("POST", "/api/v1/instances", 202, { subdomain: `bench-${suffix}-${i}`, name: `Bench ${i}` });
    const op = r.json as { id: string; instance_id: string };
    ids.push(op.instance_id);
    await api.settle(op.id, 10);
  }

  // One real answer, handed to the bare route; both must now answer the same bytes.
  const real = await api.expect("GET", "/api/v1/instances", 200);
  const rows = real.json as { status: string }[];
  if (!Array.isArray(rows) || rows.length !== settings.instances || rows.some((r) => r.status !== "running")) {
    throw new Error(`unexpected list: ${real.text.slice(0, 500)}`);
  }
  const limitHeader = real.headers.get("x-ratelimit-limit");
  if (limitHeader !== LIFTED) throw new Error(`the key's limits are not lifted (x-ratelimit-limit: ${limitHeader})`);
  fs.mkdirSync(dataDir, { recursive: true }); // a database server: nothing else writes DATA_DIR
  fs.writeFileSync(path.join(dataDir, "bench-bare.json"), real.text);
  const bare = await fetch(`${base}/api/bench/bare`);
  const bareText = await bare.text();
  if (bare.status !== 200 || bareText !== real.text) throw new Error(`the bare route does not answer the same bytes (status ${bare.status})`);
  say(`List: ${rows.length} instances, ${Buffer.byteLength(real.text)} bytes of JSON, identical from both routes`);
  return { ids, real, rows };
}

async function main(): Promise<number> {
  const startedAt = new Date();
  const loadBefore = os.loadavg().map((n) => round(n, 2));
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), "moc-bench-"));
  const dataDir = path.join(tmpDir, "data");
  const logFile = path.join(tmpDir, "server.log");
  const env = embeddedEnv(dataDir);
  say(`Benchmark in ${tmpDir} (server log: ${logFile})`);

  const build = await ensureBuild({ ...embeddedEnv(path.join(tmpDir, "build-data")), NODE_ENV: "production" });
  const buildId = fs.readFileSync(path.join(ROOT, ".next", "BUILD_ID"), "utf8").trim();
  say(`Build ${buildId}: ${build.reason}`);

  // A new account each run: its instance list starts empty even on a reused Postgres database.
  const suffix = Math.random().toString(36).slice(2, 8);
  const BENCH_EMAIL = `bench-${suffix}@example.com`;
  let database = "pglite (embedded, DATA_DIR)";
  if (settings.databaseUrl) {
    const u = new URL(settings.databaseUrl);
    if (!["127.0.0.1", "localhost", "::1", "[::1]"].includes(u.hostname)) throw new Error("BENCH_DATABASE_URL: a Postgres server on this machine only");
    database = `postgres at ${u.hostname}:${u.port || 5432}${u.pathname} (BENCH_DATABASE_URL)`;
    await run(process.platform === "win32" ? "npm.cmd" : "npm", ["run", "--silent", "db:migrate"], env, { timeoutMs: 120_000, capture: true });
  }
  // The key and its limits, written before the server holds the data directory's lock.
  const key = (await admin(["create-key", "--email", BENCH_EMAIL, "--plan", "pro", "--name", "bench"], env)) as { account_id: string; key_id: string; token: string };
  await admin(["set-limits", "--email", BENCH_EMAIL, "--read", LIFTED, "--write", LIFTED, "--heavy", LIFTED, "--account", LIFTED], env);
  say(`Key ${key.key_id} for account ${key.account_id} (pro, limits lifted to ${LIFTED}/min); database: ${database}`);

  const { base, api } = await startServer(env, key.token, logFile);
  const { ids, real } = await prepareList(api, base, dataDir, suffix);

  const urls = { auth: `${base}/api/v1/instances`, bare: `${base}/api/bench/bare` };
  const runs: LoadRun[] = [];
  const show = (r: LoadRun) =>
    say(`  ${r.round === 0 ? "warm-up" : `round ${r.round}`}  ${r.target}  ${r.rps.toFixed(0)} req/s  p50 ${r.p50_ms} ms  p99 ${r.p99_ms} ms` + (r.non2xx || r.errors ? `  non-2xx ${r.non2xx} errors ${r.errors}` : ""));
  say(`Load: ${settings.connections} connections, ${settings.rounds} rounds x ${settings.seconds} s per target, ${settings.warmupSeconds} s warm-up each`);
  if (settings.warmupSeconds > 0) {
    for (const t of ["auth", "bare"] as const) show(await load(t, urls[t], key.token, settings.warmupSeconds, 0));
  }
  for (let round = 1; round <= settings.rounds; round++) {
    // ABBA order, so a drift in the machine's load does not favour one side.
    const order = round % 2 === 1 ? (["auth", "bare"] as const) : (["bare", "auth"] as const);
    for (const t of order) {
      const r = await load(t, urls[t], key.token, settings.seconds, round);
      runs.push(r);
      show(r);
    }
  }

  // Lifecycle round trips (two untimed first).
  say(`Lifecycle: ${settings.trips} stop -> start round trips on ${ids[0]}, operations polled every ${settings.pollMs} ms`);
  for (let i = 0; i < 2; i++) await lifecycleTrip(api, ids[0]!);
  const trips: Trip[] = [];
  for (let i = 0; i < settings.trips; i++) trips.push(await lifecycleTrip(api, ids[0]!));

  // ---------------------------------------------------------------- results
  const summary = (t: "auth" | "bare") => {
    const rs = runs.filter((r) => r.target === t);
    return {
      rps: round2(median(rs.map((r) => r.rps))),
      p50_ms: round2(median(rs.map((r) => r.p50_ms))),
      p99_ms: round2(median(rs.map((r) => r.p99_ms))),
      bytes_per_response: rs[0]?.bytes_per_response ?? 0,
      rounds_rps: rs.map((r) => r.rps),
    };
  };
  const auth = summary("auth");
  const bareSum = summary("bare");
  const roundRatios = Array.from({ length: settings.rounds }, (_, i) => {
    const a = runs.find((r) => r.target === "auth" && r.round === i + 1)!;
    const b = runs.find((r) => r.target === "bare" && r.round === i + 1)!;
    return round(a.rps / b.rps, 3);
  });
  const ratio = round(auth.rps / bareSum.rps, 3);
  const startTimes = trips.map((t) => t.start_to_succeeded_ms).sort((a, b) => a - b);
  const lifecycle = {
    trips: trips.length,
    poll_ms: settings.pollMs,
    start_to_succeeded_ms: {
      median: round2(median(startTimes)),
      min: startTimes[0]!,
      p90: quantile(startTimes, 0.9),
      max: startTimes.at(-1)!,
    },
    start_post_ms_median: round2(median(trips.map((t) => t.post_ms))),
    stop_to_succeeded_ms_median: round2(median(trips.map((t) => t.stop_to_succeeded_ms))),
    samples: trips,
  };
  const invalid = runs.filter((r) => r.non2xx > 0 || r.errors > 0);
  const results = {
    date: startedAt.toISOString(),
    command: commandLine(),
    machine: { ...machine(), load_average_1_5_15_before: loadBefore, load_average_1_5_15_after: os.loadavg().map((n) => round(n, 2)) },
    settings: { ...settings, databaseUrl: undefined, database, payload_bytes: Buffer.byteLength(real.text) },
    build: { id: buildId, rebuilt: build.built, reason: build.reason },
    throughput: { auth, bare: bareSum, ratio, round_ratios: roundRatios, target_ratio: TARGET_RATIO, meets_target: ratio >= TARGET_RATIO },
    runs,
    lifecycle,
    valid: invalid.length === 0,
  };

  const pad = (s: string | number, n: number) => String(s).padStart(n);
  const table = [
    "",
    `${settings.connections} connections, ${settings.rounds} rounds x ${settings.seconds} s per route; database: ${database}`,
    `machine: ${machine().nproc} CPUs (${machine().cpu}), load average ${loadBefore[0]} before, ${round(os.loadavg()[0]!, 2)} after`,
    `| route                     |    req/s | p50 ms | p99 ms | bytes/resp |`,
    `|---------------------------|---------:|-------:|-------:|-----------:|`,
    `| GET /api/v1/instances     | ${pad(auth.rps.toFixed(0), 8)} | ${pad(auth.p50_ms.toFixed(2), 6)} | ${pad(auth.p99_ms.toFixed(2), 6)} | ${pad(auth.bytes_per_response, 10)} |`,
    `| GET /api/bench/bare       | ${pad(bareSum.rps.toFixed(0), 8)} | ${pad(bareSum.p50_ms.toFixed(2), 6)} | ${pad(bareSum.p99_ms.toFixed(2), 6)} | ${pad(bareSum.bytes_per_response, 10)} |`,
    "",
    `auth/bare throughput: ${(ratio * 100).toFixed(1)}% (per round: ${roundRatios.map((r) => (r * 100).toFixed(1) + "%").join(", ")}; target >= ${TARGET_RATIO * 100}%)`,
    `start -> succeeded: median ${lifecycle.start_to_succeeded_ms.median} ms (min ${lifecycle.start_to_succeeded_ms.min}, p90 ${lifecycle.start_to_succeeded_ms.p90}, max ${lifecycle.start_to_succeeded_ms.max}; POST alone ${lifecycle.start_post_ms_median} ms; ${trips.length} trips)`,
    `stop -> succeeded: median ${lifecycle.stop_to_succeeded_ms_median} ms`,
    "(medians over the rounds; latencies are per response, unrounded)",
  ];
  say(table.join("\n"));
  if (invalid.length > 0) say(`INVALID: ${invalid.length} runs had non-2xx answers or errors; see the runs in the JSON`);

  const json = JSON.stringify(results, null, 2) + "\n";
  const resultsFile = path.join(tmpDir, "bench-results.json");
  fs.writeFileSync(resultsFile, json);
  const out = flags.out ?? process.env.BENCH_OUT;
  if (out) fs.writeFileSync(path.resolve(out), json);
  say(`\nResults: ${resultsFile}${out ? ` and ${path.resolve(out)}` : ""}`);
  if (flags.json) process.stdout.write(json);
  return invalid.length === 0 ? 0 : 1;
}

// ---------------------------------------------------------------- production shape


async function startStores(pgHostPort: string, token: string): Promise<{ ready: StoresReady; stats(): Promise<StoresStats>; setDelay(ms: number): Promise<void> }> {
  const child = fork(path.join(ROOT, "scripts", "bench", "stores.ts"), [], {
    cwd: ROOT,
    execArgv: ["--import", "tsx"],
    env: { ...process.env, BENCH_STORES_PG: pgHostPort, BENCH_STORES_REDIS: settings.redisUrl, BENCH_STORES_DELAY_MS: String(settings.delaysMs[0]), BENCH_STORES_TOKEN: token },
    stdio: ["ignore", flags.json ? 2 : "inherit", "inherit", "ipc"],
  });
  stores = child;
  const next = <T extends { type: string }>(type: T["type"]) =>
    new Promise<T>((resolve, reject) => {
      const onMessage = (m: T) => {
        if (m.type !== type) return;
        child.off("message", onMessage);
        child.off("exit", onExit);
        resolve(m);
      };
      const onExit = (code: number | null) => {
        child.off("message", onMessage);
        reject(new Error(`the stores process exited (${code}) before answering ${type}`));
      };
      child.on("message", onMessage);
      child.once("exit", onExit);
    });
  const send = (m: StoresCommand) => child.send(m);
  const ready = await next<StoresReady>("ready");
  return {
    ready,
    stats: async () => {
      const p = next<StoresStats>("stats");
      send({ type: "stats" });
      return p;
    },
    setDelay: async (ms) => {
      const p = next<{ type: "delay" }>("delay");
      send({ type: "delay", ms });
      await p;
    },
  };
}

async function stopStores(): Promise<void> {
  const child = stores;
  stores = undefined;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  if (child.connected) child.send({ type: "close" } satisfies StoresCommand);
  if (!(await Promise.race([exited.then(() => true), sleep(5_000).then(() => false)]))) child.kill("SIGKILL");
}

async function withAdminClient<T>(adminUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function dropFreshDb(): Promise<void> {
  const db = freshDb;
  freshDb = undefined;
  if (!db || settings.keepData) return;
  await withAdminClient(db.adminUrl, (c) => c.query(`drop database if exists "${db.name}" with (force)`));
}

/** utime + stime of every process in the process group `pgid` (the server), ms; /proc/<pid>/stat fields 5, 14, 15. */
function groupCpuMs(pgid: number): number {
  let ticks = 0;
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
    } catch {
      continue; // gone meanwhile
    }
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // f[0] is field 3
    if (Number(f[2]) === pgid) ticks += Number(f[11]) + Number(f[12]);
  }
  return (ticks * 1000) / CLOCK_TICKS;
}
/** USER_HZ: 100 on every Linux this runs on (sysconf(_SC_CLK_TCK); Node has no binding for it). */
const CLOCK_TICKS = 100;

/** How the bench was invoked, passwords in URLs masked. */
const commandLine = () => ["npm run bench", ...(process.argv.length > 2 ? ["--"] : []), ...process.argv.slice(2)].join(" ").replace(/(\/\/[^:/@\s]*):[^@\s]*@/g, "$1:***@");

/** Microseconds on the monotonic clock, as V8's CPU profiles count them. */
const monoUs = () => Number(process.hrtime.bigint() / 1000n);

async function mainProduction(): Promise<number> {
  if (process.platform !== "linux") throw new Error("--shape production reads the server's CPU time from /proc: Linux only");
  const startedAt = new Date();
  const loadBefore = os.loadavg().map((n) => round(n, 2));
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), "moc-bench-"));
  const dataDir = path.join(tmpDir, "data");
  const logFile = path.join(tmpDir, "server.log");
  say(`Benchmark (production shape) in ${tmpDir} (server log: ${logFile})`);

  const build = await ensureBuild({ ...embeddedEnv(path.join(tmpDir, "build-data")), NODE_ENV: "production" });
  const buildId = fs.readFileSync(path.join(ROOT, ".next", "BUILD_ID"), "utf8").trim();
  say(`Build ${buildId}: ${build.reason}`);

  // A fresh database on the given server, named after the given one.
  const given = new URL(settings.databaseUrl!);
  if (!["127.0.0.1", "localhost"].includes(given.hostname)) throw new Error("--database-url: a Postgres server on this machine only (127.0.0.1 or localhost)");
  const suffix = randomBytes(4).toString("hex");
  const baseName = decodeURIComponent(given.pathname.slice(1)) || "postgres";
  const name = `${baseName.toLowerCase().replace(/[^a-z0-9_]/g, "_").slice(0, 40)}_bench_${suffix}`; // safe to quote as an identifier
  freshDb = { adminUrl: given.toString(), name };
  await withAdminClient(freshDb.adminUrl, (c) => c.query(`create database "${name}"`));
  const direct = new URL(given.toString());
  direct.pathname = `/${name}`;

  const token = randomBytes(16).toString("hex");
  const storesUp = await startStores(`${given.hostname}:${given.port || 5432}`, token);
  const viaProxy = new URL(direct.toString());
  viaProxy.hostname = "127.0.0.1";
  viaProxy.port = String(storesUp.ready.pgPort);

  // Production settings: Postgres (pg driver), Upstash, explicit secrets; jobs in process, simulated machines.
  const base = embeddedEnv(dataDir);
  const secrets = {
    API_KEY_PEPPERS: `1:${randomBytes(32).toString("base64url")}`,
    ENCRYPTION_KEYS: `1:${randomBytes(32).toString("base64")}`,
  };
  // The admin commands publish the account's auth version to the servers' store, as an operator's must (set-limits).
  const setupEnv: NodeJS.ProcessEnv = {
    ...base,
    ...secrets,
    DATABASE_URL: direct.toString(),
    DATABASE_DRIVER: "pg",
    UPSTASH_REDIS_REST_URL: storesUp.ready.redisRestUrl,
    UPSTASH_REDIS_REST_TOKEN: token,
  };
  const serverEnv: NodeJS.ProcessEnv = {
    ...base,
    ...secrets,
    DATABASE_URL: viaProxy.toString(),
    DATABASE_DRIVER: "pg",
    UPSTASH_REDIS_REST_URL: storesUp.ready.redisRestUrl,
    UPSTASH_REDIS_REST_TOKEN: token,
    INSTANCE_PROVIDER: "local",
  };
  const database = `postgres ${given.hostname}:${given.port || 5432}/${name} (fresh, pg driver) through a delay proxy`;
  const redis = `${settings.redisUrl.replace(/\/\/[^@/]*@/, "//")} behind the Upstash REST relay, through a delay proxy`;
  await run("npm", ["run", "--silent", "db:migrate"], setupEnv, { timeoutMs: 120_000, capture: true });
  const email = `bench-${suffix}@example.com`;
  const key = (await admin(["create-key", "--email", email, "--plan", "pro", "--name", "bench"], setupEnv)) as { account_id: string; key_id: string; token: string };
  await admin(["set-limits", "--email", email, "--read", LIFTED, "--write", LIFTED, "--heavy", LIFTED, "--account", LIFTED], setupEnv);
  say(`Key ${key.key_id} (pro, limits lifted to ${LIFTED}/min)\nPostgres: ${database}\nRedis: ${redis}`);

  const { base: origin, api, pid } = await startServer(serverEnv, key.token, logFile);
  const { real } = await prepareList(api, origin, dataDir, suffix);

  const urls = { auth: `${origin}/api/v1/instances`, bare: `${origin}/api/bench/bare` };
  const runs: ShapeRun[] = [];
  const windows: (Window & { delay_ms: number; mode: Mode; target: Target; requests: number })[] = [];

  async function measured(delay: number, mode: Mode, target: Target, roundNo: number): Promise<ShapeRun> {
    const connections = mode === "serial" ? 1 : settings.connections;
    const before = { stats: await storesUp.stats(), cpu: groupCpuMs(pid), us: monoUs() };
    const r = await load(target, urls[target], key.token, settings.seconds, roundNo, connections);
    // The requests in flight when the run stopped still reach the stores: wait until the
    // stores fall quiet (or 2 s), so their round trips and CPU count in this run.
    let after = { stats: await storesUp.stats(), cpu: groupCpuMs(pid), us: monoUs() };
    for (let quiet = 0; quiet < 2 && monoUs() - after.us < 2_000_000; ) {
      await sleep(50);
      const now = { stats: await storesUp.stats(), cpu: groupCpuMs(pid), us: monoUs() };
      const same = now.stats.pg.roundTrips === after.stats.pg.roundTrips && now.stats.relayRequests === after.stats.relayRequests;
      quiet = same ? quiet + 1 : 0;
      after = { ...now, us: same ? after.us : now.us };
    }
    windows.push({ startUs: before.us, endUs: after.us, delay_ms: delay, mode, target, requests: Math.max(r.responses, r.sent) });
    const run: ShapeRun = {
      delay_ms: delay,
      mode,
      connections,
      target,
      round: roundNo,
      seconds: round((after.us - before.us) / 1e6, 3),
      // Every request sent, answered or in flight at the stop (the server still did its work).
      requests: Math.max(r.responses, r.sent),
      rps: r.rps,
      p50_ms: r.p50_ms,
      p99_ms: r.p99_ms,
      non2xx: r.non2xx,
      errors: r.errors,
      cpu_ms: round(after.cpu - before.cpu, 1),
      pg_round_trips: after.stats.pg.roundTrips - before.stats.pg.roundTrips,
      redis_requests: after.stats.relayRequests - before.stats.relayRequests,
      redis_round_trips: after.stats.redis.roundTrips - before.stats.redis.roundTrips,
    };
    const n = Math.max(1, run.requests);
    say(
      `  ${delay} ms  ${mode === "serial" ? "conns 1 " : `conns ${connections}`}  round ${roundNo}  ${target}  ${r.rps.toFixed(0)} req/s  p50 ${r.p50_ms} ms  p99 ${r.p99_ms} ms` +
        `  CPU ${(run.cpu_ms / n).toFixed(2)} ms/req  pg ${(run.pg_round_trips / n).toFixed(2)}  redis ${(run.redis_requests / n).toFixed(2)} rt/req` +
        (r.non2xx || r.errors ? `  non-2xx ${r.non2xx} errors ${r.errors}` : ""),
    );
    return run;
  }

  say(`Runs: delays ${settings.delaysMs.join(", ")} ms; per delay, connections 1 then ${settings.connections}, ${settings.rounds} rounds (ABBA) x ${settings.seconds} s per route`);
  for (const [i, delay] of settings.delaysMs.entries()) {
    await storesUp.setDelay(delay);
    const warm = i === 0 ? settings.warmupSeconds : Math.min(1, settings.warmupSeconds);
    if (warm > 0) for (const t of ["auth", "bare"] as const) await load(t, urls[t], key.token, warm, 0);
    for (const mode of ["serial", "load"] as const) {
      for (let r = 1; r <= settings.rounds; r++) {
        // ABBA order, so a drift in the machine's load does not favour one side.
        const order = r % 2 === 1 ? (["auth", "bare"] as const) : (["bare", "auth"] as const);
        for (const t of order) runs.push(await measured(delay, mode, t, r));
      }
    }
  }

  // The profile is written when the server exits.
  await stopServer();
  await stopStores();

  const rows = summariseRuns(runs);
  const checks = verdicts(rows);
  const bg = Object.fromEntries(settings.delaysMs.map((d) => [d, background(runs, d)]));
  const m = machine();
  const loadAfter = os.loadavg().map((n) => round(n, 2));
  const header = [
    `Command: \`${commandLine()}\` (${startedAt.toISOString()}, build \`${buildId}\`)`,
    "",
    `Machine: ${m.nproc} CPUs (${m.cpu}), ${m.memory_gib} GiB, Node ${m.node}, ${m.platform}; load average ${loadBefore[0]} before, ${loadAfter[0]} after.`,
    `${settings.instances} instances listed (${Buffer.byteLength(real.text)} bytes of JSON); ${settings.rounds} rounds (ABBA) x ${settings.seconds} s per route and mode; medians over the rounds; CPU and round trips are totals over the rounds divided by the answers.`,
    "",
  ];
  let md = header.join("\n") + "\n" + markdown(rows, checks, bg);

  let profileMd: string | undefined;
  if (settings.cpuProf) {
    const file = fs.readdirSync(tmpDir).find((f) => f.endsWith(".cpuprofile"));
    if (!file) say("No CPU profile was written");
    else {
      const profile = JSON.parse(fs.readFileSync(path.join(tmpDir, file), "utf8")) as CpuProfile;
      const resolver = new FrameResolver(ROOT);
      const parts: string[] = [`CPU profile ${path.join(tmpDir, file)} (sampled self time in the runs under load; the profiler itself adds some):`, ""];
      for (const delay of settings.delaysMs) {
        const sides = (["auth", "bare"] as const).map((t) => {
          const ws = windows.filter((w) => w.delay_ms === delay && w.mode === "load" && w.target === t);
          const inside = windowsInside(profile, ws);
          return {
            label: t === "auth" ? "authenticated" : "bare",
            summary: summarise(profile, resolver, inside ? ws : undefined),
            requests: ws.reduce((a, w) => a + w.requests, 0),
            cpuMsPerRequest: rows.find((r) => r.delay_ms === delay && r.mode === "load" && r.target === t)?.cpu_ms_per_request,
            inside,
          };
        });
        if (sides.some((s) => !s.inside)) parts.push("(the profile's clock did not match the runs': the whole profile is counted)");
        parts.push(`##### ${delay} ms, connections ${settings.connections}`, "", perRequestTables(sides, "authenticated"), "");
      }
      profileMd = parts.join("\n");
      md += "\n" + profileMd;
    }
  }

  const invalid = runs.filter((r) => r.non2xx > 0 || r.errors > 0);
  const results = {
    date: startedAt.toISOString(),
    command: commandLine(),
    machine: { ...m, load_average_1_5_15_before: loadBefore, load_average_1_5_15_after: loadAfter },
    settings: { ...settings, databaseUrl: undefined, database, redis, payload_bytes: Buffer.byteLength(real.text) },
    build: { id: buildId, rebuilt: build.built, reason: build.reason },
    rows,
    targets: checks,
    background: bg,
    runs,
    valid: invalid.length === 0,
  };
  say("\n" + md);
  for (const c of checks) say(`${c.pass ? "PASS" : "MISS"}  ${c.delay_ms} ms  ${c.name}: ${c.figure} (aim ${c.aim})`);
  if (invalid.length > 0) say(`INVALID: ${invalid.length} runs had non-2xx answers or errors; see the runs in the JSON`);

  const json = JSON.stringify(results, null, 2) + "\n";
  const resultsFile = path.join(tmpDir, "bench-results.json");
  fs.writeFileSync(resultsFile, json);
  fs.writeFileSync(path.join(tmpDir, "bench-results.md"), md);
  const out = flags.out ?? process.env.BENCH_OUT;
  if (out) fs.writeFileSync(path.resolve(out), json);
  say(`\nResults: ${resultsFile}, bench-results.md beside it${out ? `, and ${path.resolve(out)}` : ""}`);
  if (flags.json) process.stdout.write(json);
  return invalid.length === 0 ? 0 : 1;
}

/** Stops the server, then removes the temporary data (results, server log and profile stay). */
async function cleanup(): Promise<void> {
  await stopServer();
  await stopStores();
  await dropFreshDb().catch((err) => say(`could not drop the benchmark database: ${(err as Error).message}`));
  if (tmpDir) {
    if (settings.cpuProf) {
      const profiles = fs.readdirSync(tmpDir).filter((f) => f.endsWith(".cpuprofile"));
      say(profiles.length ? `CPU profile: ${profiles.map((f) => path.join(tmpDir!, f)).join(", ")}` : "No CPU profile was written");
    }
    if (!settings.keepData) fs.rmSync(path.join(tmpDir, "data"), { recursive: true, force: true });
    fs.rmSync(path.join(tmpDir, "build-data"), { recursive: true, force: true });
  }
}

let code = 1;
try {
  code = await (production ? mainProduction() : main());
} catch (err) {
  say(`bench: ${err instanceof Error ? err.message : String(err)}`);
  code = 1;
} finally {
  await cleanup();
}
process.exit(code);
