import { and, asc, eq, inArray } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import { instance, openclawVersion, operation, rolloutInstance } from "@/db/schema";
import { makeRunRollout } from "@/inngest/functions/run-rollout";
import { createRuntime, type Runtime } from "@/inngest/runtime";
import { LocalProvider } from "@/lib/compute/local";
import type { ComputeProvider } from "@/lib/compute/types";
import { seal } from "@/lib/crypto";
import { operationRequested, rolloutAdvanceEvent } from "@/lib/jobs/events";
import { SEEDED_VERSION } from "@/lib/openclaw/versions";
import { parseCommandArgs } from "@/lib/operator/command";
import { findCommand } from "@/lib/operator/commands";
import type { RolloutStatus } from "@/lib/services/rollouts";
import {
  insertInstance,
  insertOperation,
  newAccount,
  openDatabaseFirst,
  recording,
  requestedEvent,
  runOnInngest,
  silent,
  testDeps,
  until,
  type InstanceRow,
} from "../support/operation-harness";

// Fleet rollouts (lib/services/rollouts.ts, inngest/functions/run-rollout.ts),
// driven by the operator commands as the server runs them, on the embedded
// runtime (the LocalRunner, simulated machines with no delay, sleeps that take
// no time). Each file has its own in-memory database, so a rollout here sees
// only this file's instances.

openDatabaseFirst();

const FROM = SEEDED_VERSION;
const TO = { version: "2026.12.1", image: "ghcr.io/openclaw/openclaw:2026.12.1" };

/**
 * Step sleeps (the health checks' pauses) and retry backoffs take no time; the cron
 * clock, which sleeps with an abort signal, never ticks (stop() ends it).
 */
const instantSleep = (ms: number, signal?: AbortSignal) =>
  signal ? new Promise<void>((_, reject) => signal.addEventListener("abort", () => reject(signal.reason))) : Promise.resolve();

const runtimes: Runtime[] = [];
function runtime(compute: ComputeProvider): Runtime {
  const rt = createRuntime(undefined, { compute, runner: { sleep: instantSleep, backoffMs: () => 0, logger: silent } });
  runtimes.push(rt);
  return rt;
}

afterEach(async () => {
  for (const rt of runtimes.splice(0)) rt.stop();
});

/** An operator command run the way POST /api/operator/run runs it, with the runtime's dependencies. */
async function admin(rt: Runtime, words: string, args: Record<string, unknown> = {}) {
  const found = findCommand(words.split(" "))!;
  return found.command.run({ db: await getDb(), send: rt.deps.send, now: rt.deps.now, compute: rt.deps.compute }, parseCommandArgs(found.command, args));
}

const status = async (rt: Runtime) => (await admin(rt, "rollout status")).json as RolloutStatus;

/** `n` running instances on `version` (FROM), spread over `accounts` accounts, each with a started machine on `local`. */
async function fleet(local: LocalProvider, n: number, accounts: number, o: { autoUpgrade?: boolean; version?: { version: string; image: string } } = {}) {
  const version = o.version ?? FROM;
  const owners = await Promise.all(Array.from({ length: accounts }, () => newAccount()));
  const db = await getDb();
  const out: InstanceRow[] = [];
  for (let i = 0; i < n; i++) {
    const inst = await insertInstance(owners[i % accounts]!, { status: "provisioning" });
    const ref = await local.provision({ instanceId: inst.id, subdomain: inst.subdomain, region: "iad", image: version.image, gatewayToken: "gw-token-fleet-0123456789", config: null });
    const [row] = await db
      .update(instance)
      .set({ status: "running", version: version.version, autoUpgrade: o.autoUpgrade ?? true, appName: ref.appName, machineId: ref.machineId, volumeId: ref.volumeId, gatewayTokenEnc: seal("gw-token-fleet-0123456789") })
      .where(eq(instance.id, inst.id))
      .returning();
    out.push(row!);
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}

async function offerTarget(rt: Runtime) {
  await admin(rt, "versions add", { tag: TO.version, "released-at": "2026-12-01" });
}

/** The instance.upgrade operations of these instances. */
async function upgradesOf(ids: string[]) {
  const db = await getDb();
  return db.select().from(operation).where(and(inArray(operation.instanceId, ids), eq(operation.type, "instance.upgrade"))).orderBy(asc(operation.id));
}

async function rows(ids: string[]) {
  const db = await getDb();
  return db.select().from(instance).where(inArray(instance.id, ids));
}

const machineOf = (i: InstanceRow) => ({ appName: i.appName!, machineId: i.machineId!, volumeId: i.volumeId, region: "iad" });

describe("a rollout", () => {
  it("over 50 instances of 5 accounts halts when failures reach the threshold, resumes, comes back to a busy instance, and finishes", async () => {
    const local = new LocalProvider({ delayMs: 0 });
    const rt = runtime(local);
    await offerTarget(rt);
    const instances = await fleet(local, 50, 5);
    const optedOut = await fleet(local, 3, 1, { autoUpgrade: false });
    const ids = instances.map((i) => i.id);

    // Four instances whose assistant will not come up on the new image (the first three in the first three batches).
    const failing = [instances[2]!, instances[7]!, instances[12]!, instances[40]!];
    for (const f of failing) local.failImage(TO.image, { as: "unhealthy", machineId: f.machineId! });
    // One instance is busy with its owner's restart (its event not yet delivered) when the rollout reaches it.
    const busy = instances[4]!;
    const db = await getDb();
    await db.update(instance).set({ status: "restarting" }).where(eq(instance.id, busy.id));
    const restart = await insertOperation(busy, "instance.restart");

    const dry = await admin(rt, "rollout start", { to: TO.version, batch: "5", "max-failures": "3", "dry-run": true });
    expect(dry.text).toContain("would upgrade 50 instances of 5 accounts (2026.11.20: 50)");
    expect(await upgradesOf(ids)).toEqual([]);

    const started = await admin(rt, "rollout start", { to: TO.version, batch: "5", "max-failures": "3" });
    expect(started.text).toMatch(/^Rollout rol_\w+ started: 50 instances of 5 accounts/);
    await expect(admin(rt, "rollout start", { to: TO.version })).rejects.toThrow(/is running: resume it, or cancel it first/);

    // Batches of five, the busy instance left pending: the third failure halts it after three batches.
    const halted = await until("the rollout to halt", async () => {
      const s = await status(rt);
      return s.state === "halted" ? s : undefined;
    });
    await rt.runner!.idle();
    expect(halted.reason).toBe("3 upgrades failed (--max-failures 3).");
    expect(await status(rt)).toMatchObject({
      state: "halted",
      batches: 3,
      failures_counted: 3,
      counts: { total: 50, upgraded: 12, failed: 3, upgrading: 0, pending: 35, skipped: 0 },
    });

    // Resumed: failures are counted afresh, so the fourth one does not halt it; the busy instance is still waited for.
    expect((await admin(rt, "rollout resume")).text).toContain("running");
    await until("every free instance to be done", async () => ((await status(rt)).counts.pending === 1 ? true : undefined));
    await rt.runner!.idle();
    expect(await status(rt)).toMatchObject({ state: "running", failures_counted: 1, counts: { upgraded: 45, failed: 4, pending: 1, upgrading: 0 } });

    // The owner's restart goes through; when it finishes, the rollout comes back to that instance.
    await rt.deps.send([requestedEvent(restart)]);
    const done = await until("the rollout to finish", async () => {
      const s = await status(rt);
      return s.state === "done" ? s : undefined;
    });
    await rt.runner!.idle();
    expect(done.counts).toEqual({ total: 50, upgraded: 46, failed: 4, upgrading: 0, pending: 0, skipped: 0 });
    expect(done.finished_at).not.toBeNull();

    // Every instance was either upgraded or left as it was (the failed ones rolled back), through one operation each.
    const ops = await upgradesOf(ids);
    expect(ops).toHaveLength(50);
    expect(new Set(ops.map((o) => o.instanceId)).size).toBe(50);
    const failingIds = new Set(failing.map((f) => f.id));
    for (const row of await rows(ids)) {
      const op = ops.find((o) => o.instanceId === row.id)!;
      expect(op.accountId).toBe(row.accountId); // the owner's operation, on the owner's list and webhooks
      expect(op.input).toMatchObject({ target_version: TO.version, from_version: FROM.version, rollout_id: done.id });
      if (failingIds.has(row.id)) {
        expect(op).toMatchObject({ status: "failed", error: { code: "upgrade_rolled_back" } });
        expect(row).toMatchObject({ status: "running", version: FROM.version });
        expect(local.imageOf(machineOf(row))).toBe(FROM.image);
      } else {
        expect(op.status).toBe("succeeded");
        expect(row).toMatchObject({ status: "running", version: TO.version });
        expect(local.imageOf(machineOf(row))).toBe(TO.image);
      }
    }
    // Instances whose owners turned auto_upgrade off were not touched.
    expect(await upgradesOf(optedOut.map((i) => i.id))).toEqual([]);
    expect((await rows(optedOut.map((i) => i.id))).map((r) => r.version)).toEqual([FROM.version, FROM.version, FROM.version]);

    // Batches of at most five, one after another: every upgrade of a batch had finished before the next batch began.
    const items = await db.select().from(rolloutInstance).where(eq(rolloutInstance.rolloutId, done.id));
    const batchOf = new Map(items.map((i) => [i.operationId, i.batch!]));
    const byBatch = new Map<number, typeof ops>();
    for (const op of ops) byBatch.set(batchOf.get(op.id)!, [...(byBatch.get(batchOf.get(op.id)!) ?? []), op]);
    expect(Math.max(...[...byBatch.values()].map((b) => b.length))).toBeLessThanOrEqual(5);
    const batches = [...byBatch.keys()].sort((a, b) => a - b);
    expect(batches).toEqual(Array.from({ length: done.batches }, (_, i) => i + 1));
    for (const [a, b] of batches.slice(1).map((b, i) => [batches[i]!, b] as const)) {
      const lastDone = Math.max(...byBatch.get(a)!.map((o) => o.completedAt!.getTime()));
      const firstStarted = Math.min(...byBatch.get(b)!.map((o) => o.createdAt.getTime()));
      expect(lastDone, `batch ${b} began after batch ${a} had finished`).toBeLessThanOrEqual(firstStarted);
    }
    // The busy instance's upgrade came after its owner's restart.
    const busyUpgrade = ops.find((o) => o.instanceId === busy.id)!;
    const [restarted] = await db.select().from(operation).where(eq(operation.id, restart.id));
    expect(restarted!.status).toBe("succeeded");
    expect(busyUpgrade.createdAt.getTime()).toBeGreaterThanOrEqual(restarted!.completedAt!.getTime());
  });

  it("interrupted by a restart of the runner, resumes where it stopped", async () => {
    const local = new LocalProvider({ delayMs: 0 });
    // The first process: its machine calls never answer once the second batch's first image change is asked for (it died).
    let changes = 0;
    let dead = false;
    const before = (call: { method: string }) => {
      if (call.method === "changeImage" && ++changes === 6) dead = true;
      return dead ? new Promise<void>(() => {}) : undefined;
    };
    const first = runtime(recording(local, before).provider);
    // Its own old version, so the first test's instances are not part of this rollout.
    const older = { version: `2026.${process.pid}.5-restart`, image: `ghcr.io/openclaw/openclaw:2026.${process.pid}.5-restart` };
    await admin(first, "versions add", { tag: older.version, image: older.image, "released-at": "2026-06-01" });
    await offerTarget(first);
    const instances = await fleet(local, 20, 3, { version: older });
    const ids = instances.map((i) => i.id);

    await admin(first, "rollout start", { to: TO.version, from: older.version, batch: "5" });
    await until("the first process to die in the second batch", async () => (dead ? true : undefined));
    const atDeath = await status(first);
    expect(atDeath).toMatchObject({ state: "running", batches: 2, counts: { upgraded: 5, upgrading: 5, pending: 10 } });

    // A new process starts, as the embedded server does after a restart: unfinished operations and running rollouts go on.
    const second = runtime(local);
    await second.start();
    const done = await until("the rollout to finish", async () => {
      const s = await status(second);
      return s.state === "done" ? s : undefined;
    });
    await second.runner!.idle();
    expect(done).toMatchObject({ batches: 4, counts: { total: 20, upgraded: 20, failed: 0, pending: 0, upgrading: 0 } });

    // Nothing was done twice: one upgrade per instance, the first batch's untouched by the second process.
    const ops = await upgradesOf(ids);
    expect(ops).toHaveLength(20);
    expect(new Set(ops.map((o) => o.instanceId)).size).toBe(20);
    const resumed = second.runner!.runs().filter((r) => r.functionId === "run-operation").map((r) => (r.event.data as { operation_id: string }).operation_id);
    const firstBatch = (await getDb()).select().from(rolloutInstance).where(and(eq(rolloutInstance.rolloutId, done.id), eq(rolloutInstance.batch, 1)));
    for (const item of await firstBatch) expect(resumed).not.toContain(item.operationId);
    expect(second.runner!.runs().some((r) => r.functionId === "run-rollout" && (r.event.data as { reason: string }).reason === "start-up")).toBe(true);
    for (const row of await rows(ids)) expect(row).toMatchObject({ status: "running", version: TO.version });
  });
});

describe("run-rollout on Inngest's own execution engine (@inngest/test)", () => {
  it("starts a batch and sends each upgrade's event; while the batch runs, an advance starts nothing; cancelled, nothing more", async () => {
    const local = new LocalProvider({ delayMs: 0 });
    const rt = runtime(local);
    const { deps, sent } = testDeps(local);
    const older = { version: `2026.${process.pid}.7-engine`, image: `ghcr.io/openclaw/openclaw:2026.${process.pid}.7-engine` };
    // Released between the seeded version and TO, so the later test's rollout to the seeded version does not cover these.
    await admin(rt, "versions add", { tag: older.version, image: older.image, "released-at": "2026-11-25" });
    await admin(rt, "versions add", { tag: TO.version, "released-at": "2026-12-01" }).catch(() => undefined); // the first test may have added it
    const instances = await fleet(local, 3, 2, { version: older });
    // Started with deps that only record what is sent: no run of this file's runner takes it up.
    const started = await findCommand(["rollout", "start"])!.command.run(
      { db: await getDb(), send: deps.send, now: deps.now, compute: deps.compute },
      parseCommandArgs(findCommand(["rollout", "start"])!.command, { to: TO.version, from: older.version, batch: "2" }),
    );
    const id = (started.json as RolloutStatus).id;
    sent.splice(0);

    const first = await runOnInngest(makeRunRollout(deps), rolloutAdvanceEvent(id, "test"));
    expect(first.error).toBeUndefined();
    expect(first.result).toEqual({ state: "running", started: 2, busy: 0 });
    const requested = sent.filter((e) => e.name === operationRequested.name).map((e) => (e.data as { instance_id: string }).instance_id);
    expect(requested).toEqual(instances.slice(0, 2).map((i) => i.id));
    expect((await upgradesOf(instances.map((i) => i.id))).map((o) => o.status)).toEqual(["pending", "pending"]);

    const again = await runOnInngest(makeRunRollout(deps), rolloutAdvanceEvent(id, "test"));
    expect(again.result).toEqual({ state: "running", started: 0, busy: 0 });
    expect((await admin(rt, "rollout cancel")).json).toMatchObject({ state: "cancelled", counts: { upgrading: 2, pending: 1 } });
    const after = await runOnInngest(makeRunRollout(deps), rolloutAdvanceEvent(id, "test"));
    expect(after.result).toEqual({ state: "cancelled", started: 0, busy: 0 });
    expect(await upgradesOf(instances.map((i) => i.id))).toHaveLength(2);
  });
});

describe("rollout commands", () => {
  it("refuse what makes no sense, naming the problem", async () => {
    const local = new LocalProvider({ delayMs: 0 });
    const rt = runtime(local);
    await expect(admin(rt, "rollout start", { to: "9999.0.0" })).rejects.toThrow("No version 9999.0.0");
    await expect(admin(rt, "rollout pause")).rejects.toThrow("No rollout is running, paused or halted.");
    await expect(admin(rt, "rollout start", { to: FROM.version, from: FROM.version })).rejects.toThrow(/is not older than/);
    expect(() => parseCommandArgs(findCommand(["rollout", "start"])!.command, { to: "x", batch: "0" })).toThrow(/--batch: instances upgraded at once: at least 1/);

    const db = await getDb();
    const old = `2026.${process.pid}.1-old`;
    await db.insert(openclawVersion).values({ version: old, image: `ghcr.io/openclaw/openclaw:${old}`, releasedAt: new Date("2020-01-01"), deprecatedAt: new Date() });
    await expect(admin(rt, "rollout start", { to: old })).rejects.toThrow(`${old} is deprecated`);
    // Nothing runs a version older than the seeded one: nothing to roll out, and no rollout is made.
    expect((await admin(rt, "rollout start", { to: FROM.version })).json).toEqual({ rollout: null });
  });
});
