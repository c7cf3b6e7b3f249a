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
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

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

const settings = {
  seconds: intSetting(flags.seconds, "BENCH_SECONDS", 10, 1),
  connections: intSetting(flags.connections, "BENCH_CONNECTIONS", 10, 1),
  rounds: intSetting(flags.rounds, "BENCH_ROUNDS", 3, 1),
  warmupSeconds: intSetting(flags.warmup, "BENCH_WARMUP_SECONDS", 5, 0),
  instances: intSetting(flags.instances, "BENCH_INSTANCES", 3, 1),
  trips: intSetting(flags.trips, "BENCH_TRIPS", 10, 1),
  pollMs: intSetting(flags["poll-ms"], "BENCH_POLL_MS", 2, 0),
  build: (process.env.BENCH_BUILD ?? "auto") as "auto" | "always" | "never",
  cpuProf: flags["cpu-prof"],
  keepData: process.env.BENCH_KEEP_DATA === "1",
  /** A Postgres server instead of the embedded PGlite (a comparison run; see docs/benchmarks.md). */
  databaseUrl: process.env.BENCH_DATABASE_URL?.trim() || undefined,
};
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

process.on("exit", () => killGroup("SIGKILL")); // last resort: never leave a server behind
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

interface LoadRun {
  target: "auth" | "bare";
  round: number;
  seconds: number;
  requests: number;
  rps: number;
  p50_ms: number;
  p99_ms: number;
  mean_ms: number;
  bytes_per_response: number;
  non2xx: number;
  errors: number;
}

async function load(target: "auth" | "bare", url: string, token: string, seconds: number, round: number): Promise<LoadRun> {
  // Each response's own latency, unrounded (autocannon's histogram keeps whole milliseconds).
  const latencies: number[] = [];
  const inst = autocannon({
    url,
    connections: settings.connections,
    duration: seconds,
    timeout: 10,
    headers: target === "auth" ? { authorization: `Bearer ${token}` } : {},
  });
  inst.on("response", (_c, status, _bytes, ms) => {
    if (status >= 200 && status < 300) latencies.push(ms);
  });
  const r = await inst;
  latencies.sort((a, b) => a - b);
  const ok = latencies.length;
  return {
    target,
    round,
    seconds: r.duration,
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
  const api = new Api(base, key.token);
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

  // Real rows for the list query.
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
  fs.writeFileSync(path.join(dataDir, "bench-bare.json"), real.text);
  const bare = await fetch(`${base}/api/bench/bare`);
  const bareText = await bare.text();
  if (bare.status !== 200 || bareText !== real.text) throw new Error(`the bare route does not answer the same bytes (status ${bare.status})`);
  say(`List: ${rows.length} instances, ${Buffer.byteLength(real.text)} bytes of JSON, identical from both routes`);

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
    command: ["npm run bench", ...process.argv.slice(2)].join(" "),
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

/** Stops the server, then removes the temporary data (results, server log and profile stay). */
async function cleanup(): Promise<void> {
  await stopServer();
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
  code = await main();
} catch (err) {
  say(`bench: ${err instanceof Error ? err.message : String(err)}`);
  code = 1;
} finally {
  await cleanup();
}
process.exit(code);
