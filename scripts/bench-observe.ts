/**
 * The observation benchmark (docs/benchmarks.md, "Observation at scale"):
 *
 *   npm run bench:observe [-- --instances 10000 --minutes 5 --budget 200 --concurrency 10 --fly-limit 200 --json]
 *
 * Runs the real observation functions (observe-instances on its every-minute
 * cron, observe-batch fanned out with its concurrency limit) in the local job
 * runner against the stateful Fly fake (tests/fakes/fly-api.ts, served by msw
 * in this process), with `--instances` live instances in a fresh embedded
 * database (PGlite in a temporary DATA_DIR; BENCH_DATABASE_URL: a Postgres
 * server instead, which must be empty of other instances).
 *
 * Time is virtual (tests/support/virtual-clock.ts): every Fly call takes
 * 50-150 ms of it, Fly answers 429 with Retry-After above `--fly-limit`
 * requests a second (a token bucket, burst `--concurrency`), and the runner's
 * cron, step sleeps and the batches' pacing all wait on the same clock, so
 * `--minutes` of observation take the time their computation and database
 * writes take. The database's own time is not counted in virtual time (it is
 * in the wall time).
 *
 * Each instance starts last observed at a random moment of the minute before.
 * After a two-minute warm-up (the first pass meets that random order; from
 * the second on, each pass follows the one before), for `--minutes`, every 5
 * virtual seconds the benchmark reads every instance's `observed_at`
 * from the database (what GET /instances shows) and records its staleness.
 * It reports the staleness over all samples (p50, p99, max), the instances
 * never re-observed, Fly calls per instance per minute, 429s, and wall time.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import type { Deps } from "@/lib/deps";
import { SEEDED_VERSION } from "@/lib/openclaw/versions";

const { values: args } = parseArgs({
  options: {
    instances: { type: "string", default: "10000" },
    minutes: { type: "string", default: "3" },
    budget: { type: "string", default: "200" },
    concurrency: { type: "string", default: "10" },
    "fly-limit": { type: "string" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (args.help) {
  process.stdout.write(
    "npm run bench:observe -- [--instances 10000] [--minutes 5] [--budget 200 (OBSERVE_FLY_REQUESTS_PER_SECOND)] " +
      "[--concurrency 10 (OBSERVE_CONCURRENCY)] [--fly-limit <the budget> (Fly's 429 threshold, requests/s)] [--json]\n",
  );
  process.exit(0);
}
const N = positive("instances");
const MINUTES = positive("minutes");
const BUDGET = positive("budget");
const CONCURRENCY = positive("concurrency");
const FLY_LIMIT = args["fly-limit"] === undefined ? BUDGET : positive("fly-limit");
const SAMPLE_MS = 5_000;
/** Before measuring: the first pass (a minute in) takes the initial, random order; the second is the steady state's. */
const WARMUP_MS = 120_000;
const LATENCY_MS = [50, 150] as const;
const FLY_TOKEN = "bench-fly-token";

function positive(name: keyof typeof args): number {
  const n = Number(args[name]);
  if (!Number.isInteger(n) || n <= 0) {
    process.stderr.write(`--${name} must be a positive integer\n`);
    process.exit(2);
  }
  return n;
}

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "moc-bench-observe-"));
process.env.DATA_DIR = dataDir;
process.env.LOG_LEVEL = "silent";
if (process.env.BENCH_DATABASE_URL) process.env.DATABASE_URL = process.env.BENCH_DATABASE_URL;
else delete process.env.DATABASE_URL;

async function main() {
  // Imported after DATA_DIR is set: the configuration is read once.
  const { http } = await import("msw");
  const { setupServer } = await import("msw/node");
  const { sql, eq } = await import("drizzle-orm");
  const { getDb, closeDatabase } = await import("@/db/client");
  const { instance } = await import("@/db/schema");
  const { makeObserveBatch } = await import("@/inngest/functions/observe-batch");
  const { makeObserveInstances } = await import("@/inngest/functions/observe-instances");
  const { FlyProvider } = await import("@/lib/compute/fly");
  const { newId } = await import("@/lib/ids");
  const { LocalRunner } = await import("@/lib/jobs/local-runner");
  const { upsertAccount } = await import("@/lib/services/accounts");
  const { createFlyFake } = await import("@/tests/fakes/fly-api");
  const { virtualClock } = await import("@/tests/support/virtual-clock");

  const wallStart = performance.now();
  // A minute boundary, so the cron's first pass comes one virtual minute in.
  const start = Math.ceil(Date.now() / 60_000) * 60_000;
  const clock = virtualClock(start);
  const fake = createFlyFake({ token: FLY_TOKEN, start, rateLimit: { perSecond: FLY_LIMIT, burst: CONCURRENCY } });
  const syncFake = () => fake.clock.advance(Math.max(0, clock.now() - fake.clock.now()));
  // Every call to the Machines API takes 50-150 ms of virtual time before the fake answers it.
  const getMachineAt: number[] = [];
  const latency = http.all("https://api.machines.dev/*", async ({ request }) => {
    if (request.method === "GET" && /\/machines\/[^/]+$/.test(new URL(request.url).pathname)) getMachineAt.push(clock.now());
    await clock.sleep(LATENCY_MS[0] + Math.random() * (LATENCY_MS[1] - LATENCY_MS[0]));
    syncFake();
  });
  const msw = setupServer(latency, ...fake.handlers);
  msw.listen({ onUnhandledRequest: "error" });

  const provider = new FlyProvider({
    token: FLY_TOKEN,
    org: "personal",
    apiBaseUrl: "https://api.machines.dev",
    instanceDomain: "myopenclaw.app",
    now: () => clock.now(),
    sleep: (ms) => clock.sleep(ms),
  });

  // One machine provisioned the real way gives the configuration (services, checks) every other one copies.
  const db = await getDb();
  const account = await upsertAccount(db, `bench-observe-${process.pid}@example.com`, "business");
  log(`Setting up ${N} instances and their machines on the Fly fake...`);
  const template = await (async () => {
    let ref: Awaited<ReturnType<typeof provider.provision>> | undefined;
    const p = provider.provision({ instanceId: "inst_template", subdomain: "template", region: "iad", image: SEEDED_VERSION.image, gatewayToken: "gw-token-0123456789abcdef", config: null });
    p.then((r) => (ref = r)).catch(() => undefined);
    await clock.runUntil(() => ref !== undefined, "provisioning the template machine");
    fake.clock.advance(10_000);
    return fake.state.machines.get(ref!.machineId)!;
  })();

  const rows = [];
  for (let i = 0; i < N; i++) {
    const appName = `bench-${i}`;
    const machineId = `m${i.toString(16).padStart(12, "0")}`;
    fake.state.apps.set(appName, { name: appName, org: "personal", id: `app${i}` });
    fake.state.machines.set(machineId, { ...template, id: machineId, app: appName, name: appName, instanceId: `fly${i}`, pending: [], lease: null, history: ["started"] });
    rows.push({
      id: newId("inst"),
      accountId: account.id,
      subdomain: `bench-${process.pid}-${i}`,
      version: SEEDED_VERSION.version,
      status: "running" as const,
      healthStatus: "passing" as const,
      flyRegion: "iad",
      appName,
      machineId,
      volumeId: `vol_${i}`,
      observedAt: new Date(start - Math.random() * 60_000),
      createdAt: new Date(start - 3_600_000),
      updatedAt: new Date(start - 3_600_000),
    });
  }
  for (let i = 0; i < rows.length; i += 1000) await db.insert(instance).values(rows.slice(i, i + 1000));

  const settings = { intervalSeconds: 60, requestsPerSecond: BUDGET, concurrency: CONCURRENCY };
  const deps: Deps = { db: getDb, compute: () => provider, now: () => new Date(clock.now()), send: async (events) => void (await runner.send(events)) };
  const quiet = { info() {}, warn() {}, error() {}, debug() {} };
  const runner: InstanceType<typeof LocalRunner> = new LocalRunner([makeObserveInstances(deps, settings), makeObserveBatch(deps, { settings, sleep: clock.sleep })], {
    now: clock.now,
    sleep: (ms) => clock.sleep(ms),
    backoffMs: () => 1000,
    logger: quiet,
  });

  // Staleness of every instance, every 5 virtual seconds after the warm-up, read from the database.
  const staleness: number[] = [];
  let finished = false;
  let reading = false;
  let limitedBefore = 0;
  const from = start + WARMUP_MS;
  const end = from + MINUTES * 60_000;
  const sampler = (async () => {
    await clock.sleep(WARMUP_MS - SAMPLE_MS);
    limitedBefore = fake.rateLimitedCount();
    while (clock.now() + SAMPLE_MS <= end) {
      await clock.sleep(SAMPLE_MS);
      reading = true;
      const at = clock.now();
      const seen = await db.select({ observedAt: instance.observedAt }).from(instance).where(eq(instance.accountId, account.id));
      for (const r of seen) staleness.push((at - r.observedAt!.getTime()) / 1000);
      reading = false;
    }
    finished = true;
  })();

  log(`Observing for ${MINUTES} virtual minutes after a ${WARMUP_MS / 60_000}-minute warm-up (budget ${BUDGET}/s in ${CONCURRENCY} batches; Fly answers 429 above ${FLY_LIMIT}/s)...`);
  runner.startCrons();
  await clock.runUntil(() => finished && !reading, "the benchmark's minutes", 100_000_000);
  await sampler;
  runner.stop();

  const calls = getMachineAt.filter((t) => t >= from && t < end).length;
  const limited = fake.rateLimitedCount() - limitedBefore;
  const failedRuns = runner.runs().filter((r) => r.status === "failed").length;
  const [never] = await db
    .select({ n: sql<number>`count(*)`.mapWith(Number) })
    .from(instance)
    .where(sql`${instance.accountId} = ${account.id} and ${instance.observedAt} < ${new Date(from)}`);
  msw.close();
  await closeDatabase();

  staleness.sort((a, b) => a - b);
  const q = (p: number) => staleness[Math.min(staleness.length - 1, Math.floor(p * staleness.length))]!;
  const result = {
    instances: N,
    virtual_minutes: MINUTES,
    budget_requests_per_second: BUDGET,
    concurrency: CONCURRENCY,
    fly_limit_requests_per_second: FLY_LIMIT,
    fly_latency_ms: LATENCY_MS,
    staleness_seconds: { p50: round(q(0.5)), p99: round(q(0.99)), max: round(staleness.at(-1)!), samples: staleness.length },
    instances_never_reobserved: never!.n,
    fly_calls: calls,
    fly_calls_per_instance_per_minute: round(calls / N / MINUTES, 3),
    fly_429s: limited,
    failed_runs: failedRuns,
    wall_seconds: round((performance.now() - wallStart) / 1000),
  };
  fs.rmSync(dataDir, { recursive: true, force: true });
  if (args.json) process.stdout.write(JSON.stringify(result, null, 2) + "\n");
  else {
    const lines = [
      ["instances", N],
      ["virtual minutes", MINUTES],
      ["budget (req/s, batches)", `${BUDGET}, ${CONCURRENCY}`],
      ["Fly 429 above (req/s)", FLY_LIMIT],
      ["staleness p50 / p99 / max (s)", `${result.staleness_seconds.p50} / ${result.staleness_seconds.p99} / ${result.staleness_seconds.max}`],
      ["instances never re-observed", result.instances_never_reobserved],
      ["Fly calls per instance per minute", result.fly_calls_per_instance_per_minute],
      ["Fly 429s", limited],
      ["failed runs", failedRuns],
      ["wall time (s)", result.wall_seconds],
    ];
    process.stdout.write(lines.map(([k, v]) => `${String(k).padEnd(36)} ${v}`).join("\n") + "\n");
  }
  const ok = result.instances_never_reobserved === 0 && result.staleness_seconds.p99 < 90 && result.fly_calls_per_instance_per_minute <= 1 && failedRuns === 0;
  log(ok ? "Aim met: every instance observed every minute, p99 under 90 s, at most one Fly call per instance a minute." : "Aim NOT met.");
  process.exit(ok ? 0 : 1);
}

function round(n: number, digits = 1): number {
  return Math.round(n * 10 ** digits) / 10 ** digits;
}

function log(line: string) {
  process.stderr.write(`${line}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  fs.rmSync(dataDir, { recursive: true, force: true });
  process.exit(1);
});
