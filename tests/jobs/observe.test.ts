import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import { instance, webhookMessage } from "@/db/schema";
import { makeObserveBatch } from "@/inngest/functions/observe-batch";
import { makeObserveInstances, type ObservationSettings } from "@/inngest/functions/observe-instances";
import { LocalProvider } from "@/lib/compute/local";
import type { ComputeProvider, MachineRef } from "@/lib/compute/types";
import type { Deps } from "@/lib/deps";
import { instancesObserveRequested, observeRequestedEvent } from "@/lib/jobs/events";
import { LocalRunner } from "@/lib/jobs/local-runner";
import { finishOperation } from "@/lib/services/operation-progress";
import type { FlyFake } from "../fakes/fly-api";
import {
  insertInstance,
  insertOperation,
  instRow,
  newAccount,
  openDatabaseFirst,
  opRow,
  recording,
  runOnInngest,
  silent,
  testDeps,
  useFlyFake,
  type InstanceRow,
} from "../support/operation-harness";
import { SEEDED_VERSION } from "@/lib/openclaw/versions";

// The regular observation of instances (observe-instances plans a pass, observe-batch carries
// out a batch), against real PGlite rows and, for Fly, the stateful fake of the Machines API:
// what one look at a machine changes, the events it records, and what it never does (race an
// operation, act on no answer, ask twice). Rows of other tests share this file's database, so
// every assertion is about the test's own rows.

openDatabaseFirst();
const newFly = useFlyFake();

/** Settings that never hold a test back: a budget far above what a test asks. */
const FAST: ObservationSettings = { intervalSeconds: 60, requestsPerSecond: 100_000, concurrency: 2 };

type BatchResult = { calls: number; recorded: number; stale: number; unreachable: number; rate_limited: number; left: number; changes: unknown[] };

/** One batch on Inngest's own execution engine, as the planner would send it. */
async function observeOnInngest(compute: ComputeProvider, ids: string[], plannedAt = new Date()) {
  const { deps } = testDeps(compute);
  const run = await runOnInngest(makeObserveBatch(deps, { settings: FAST, sleep: async () => undefined }), observeRequestedEvent(plannedAt, 0, ids));
  expect(run.error).toBeUndefined();
  return run.result as unknown as BatchResult;
}

/** An instance whose machine runs on the Fly fake, settled `running` as a finished create leaves it. */
async function onFly(fly: { fake: FlyFake; provider: ComputeProvider }, status: "running" | "stopped" = "running") {
  const base = await insertInstance(await newAccount(), { status: "provisioning" });
  const ref = await fly.provider.provision({ instanceId: base.id, subdomain: base.subdomain, region: "iad", image: SEEDED_VERSION.image, gatewayToken: "gw-token-0123456789abcdef", config: null });
  fly.fake.clock.advance(10_000);
  if (status === "stopped") {
    await fly.provider.stop(ref);
    fly.fake.clock.advance(10_000);
  }
  const db = await getDb();
  await db
    .update(instance)
    .set({ status, appName: ref.appName, machineId: ref.machineId, volumeId: ref.volumeId, updatedAt: new Date(Date.now() - 1000) })
    .where(eq(instance.id, base.id));
  return { inst: await instRow(base.id), ref };
}

/** The instance events recorded about one instance, oldest first, as `type: data`. */
async function eventsOf(instanceId: string) {
  const db = await getDb();
  const rows = await db.select().from(webhookMessage).where(eq(webhookMessage.instanceId, instanceId)).orderBy(webhookMessage.id);
  return rows
    .filter((r) => r.eventType.startsWith("instance."))
    .map((r) => ({ type: r.eventType, data: (r.payload as { data: Record<string, unknown> }).data }));
}

describe("observing an instance on Fly: one GET of the machine, state and checks", () => {
  it("follows the /healthz check passing -> critical -> passing, with one health_changed per change and the status left alone", async () => {
    const fly = newFly();
    const { inst, ref } = await onFly(fly);
    const gets = () => fly.fake.requestsTo("getMachine").length;

    const before = gets();
    const first = await observeOnInngest(fly.provider, [inst.id]);
    expect(first).toMatchObject({ calls: 1, recorded: 1, stale: 0, unreachable: 0 });
    // Exactly one call to Fly for the observation, and never the app's own /healthz.
    expect(gets() - before).toBe(1);
    expect(fly.fake.requestsTo("healthz")).toHaveLength(0);
    let row = await instRow(inst.id);
    expect(row).toMatchObject({ status: "running", healthStatus: "passing" });
    expect(row.healthDetail).toMatch(/^servicecheck-00-http-3000: HTTP 200/);
    expect(row.observedAt).toBeInstanceOf(Date);

    // The gateway starts failing its check: Fly reports it critical on the machine.
    fly.fake.state.health.set(ref.appName, { status: 503, body: { ok: false, status: "degraded" } });
    await observeOnInngest(fly.provider, [inst.id]);
    row = await instRow(inst.id);
    expect(row).toMatchObject({ status: "running", healthStatus: "critical" });
    expect(row.healthDetail).toContain("HTTP 503");

    // And recovers.
    fly.fake.state.health.delete(ref.appName);
    await observeOnInngest(fly.provider, [inst.id]);
    expect(await instRow(inst.id)).toMatchObject({ status: "running", healthStatus: "passing" });

    // Nothing changed in a fourth look: no event for it.
    await observeOnInngest(fly.provider, [inst.id]);
    expect(gets() - before).toBe(4);
    expect(await eventsOf(inst.id)).toEqual([
      { type: "instance.health_changed", data: expect.objectContaining({ from: "unknown", to: "passing", cause: "observed", operation_id: null }) },
      {
        type: "instance.health_changed",
        data: expect.objectContaining({ instance_id: inst.id, subdomain: inst.subdomain, from: "passing", to: "critical", detail: expect.stringContaining("503") }),
      },
      { type: "instance.health_changed", data: expect.objectContaining({ from: "critical", to: "passing" }) },
    ]);
  });

  it("a machine stopped behind our back: the instance is stopped and critical, with instance.status_changed (cause observed)", async () => {
    const fly = newFly();
    const { inst, ref } = await onFly(fly);
    await observeOnInngest(fly.provider, [inst.id]);
    await fly.provider.stop(ref); // someone else (flyctl, an OOM) stops it
    fly.fake.clock.advance(10_000);

    await observeOnInngest(fly.provider, [inst.id]);

    const row = await instRow(inst.id);
    expect(row).toMatchObject({ status: "stopped", healthStatus: "critical" });
    expect(row.updatedAt.getTime()).toBe(row.observedAt!.getTime());
    const events = await eventsOf(inst.id);
    expect(events.slice(1)).toEqual([
      { type: "instance.status_changed", data: { instance_id: inst.id, subdomain: inst.subdomain, from: "running", to: "stopped", cause: "observed", operation_id: null } },
      { type: "instance.health_changed", data: expect.objectContaining({ from: "passing", to: "critical", detail: expect.stringContaining("stopped") }) },
    ]);
  });

  it("a machine started behind our back brings a stopped instance back to running", async () => {
    const fly = newFly();
    const { inst, ref } = await onFly(fly, "stopped");
    await fly.provider.start(ref);
    fly.fake.clock.advance(10_000);
    await observeOnInngest(fly.provider, [inst.id]);
    expect(await instRow(inst.id)).toMatchObject({ status: "running", healthStatus: "passing" });
  });

  it("a machine destroyed behind our back fails the instance", async () => {
    const fly = newFly();
    const { inst, ref } = await onFly(fly);
    await fly.provider.destroy(ref);
    fly.fake.clock.advance(10_000);
    await observeOnInngest(fly.provider, [inst.id]);
    expect(await instRow(inst.id)).toMatchObject({ status: "failed", healthStatus: "critical", healthDetail: "The machine no longer exists." });
    expect((await eventsOf(inst.id)).map((e) => [e.type, e.data.to])).toEqual([
      ["instance.status_changed", "failed"],
      ["instance.health_changed", "critical"],
    ]);
  });

  it("a provider that cannot answer (network, 5xx) is no observation: nothing changes, no event", async () => {
    const fly = newFly();
    const a = await onFly(fly);
    const b = await onFly(fly);
    await fly.provider.stop(a.ref); // real drift, which must still not be acted on without an answer
    fly.fake.clock.advance(10_000);
    const before: InstanceRow[] = [await instRow(a.inst.id), await instRow(b.inst.id)];
    fly.fake.inject("getMachine", { kind: "network" });
    fly.fake.inject("getMachine", { kind: "status", status: 503 });

    const r = await observeOnInngest(fly.provider, [a.inst.id, b.inst.id]);

    expect(r).toMatchObject({ calls: 2, recorded: 0, unreachable: 2 });
    expect([await instRow(a.inst.id), await instRow(b.inst.id)]).toEqual(before);
    expect(await eventsOf(a.inst.id)).toEqual([]);
  });
});

describe("observation never races an operation", () => {
  it("leaves out an instance with an unfinished operation", async () => {
    const local = new LocalProvider({ delayMs: 0 });
    const { inst, ref } = await onLocal(local, "running");
    await local.stop(ref);
    const op = await insertOperation(inst, "instance.restart");
    const rec = recording(local);
    const r = await observeOnInngest(rec.provider, [inst.id]);
    expect(r.calls).toBe(0);
    expect(rec.count("observe")).toBe(0);
    expect(await instRow(inst.id)).toMatchObject({ status: "running", healthStatus: "unknown", observedAt: null });
    expect((await opRow(op.id)).status).toBe("pending");
  });

  it("drops an answer that arrives after an operation began, or began and finished, since it was asked", async () => {
    const local = new LocalProvider({ delayMs: 0 });
    const started = await onLocal(local, "running");
    const finished = await onLocal(local, "running");
    await local.stop(started.ref);
    await local.stop(finished.ref);
    const db = await getDb();
    // Each machine answers "stopped"; before the answer is written, a user's restart begins (one
    // instance) or runs to completion (the other): the answer is stale for both.
    const provider = new Proxy(local, {
      get(target, prop, receiver) {
        if (prop !== "observe") return Reflect.get(target, prop, receiver);
        return async (r: MachineRef) => {
          const seen = await target.observe(r);
          const which = r.machineId === started.ref.machineId ? started : finished;
          const op = await insertOperation(await instRow(which.inst.id), "instance.restart");
          await db.update(instance).set({ status: "restarting", updatedAt: new Date() }).where(eq(instance.id, which.inst.id));
          if (which === finished) {
            await target.restart(r);
            await finishOperation(db, op.id, { ok: true, evidence: { machine: "started", healthy: true, detail: "healthz ok" } });
          }
          return seen;
        };
      },
    });

    const r = await observeOnInngest(provider, [started.inst.id, finished.inst.id]);

    expect(r).toMatchObject({ calls: 2, recorded: 0, stale: 2 });
    expect(await instRow(started.inst.id)).toMatchObject({ status: "restarting", observedAt: null });
    expect(await instRow(finished.inst.id)).toMatchObject({ status: "running", healthStatus: "passing", observedAt: null });
    expect((await eventsOf(finished.inst.id)).map((e) => [e.type, e.data.cause])).toEqual([
      ["instance.status_changed", "operation"],
      ["instance.health_changed", "operation"],
    ]);
  });

  it("an older answer never overwrites a newer observation", async () => {
    const local = new LocalProvider({ delayMs: 0 });
    const { inst } = await onLocal(local, "running");
    await observeOnInngest(local, [inst.id]);
    const newer = (await instRow(inst.id)).observedAt!;
    // A batch planned before that observation finds it already observed and leaves it out.
    const rec = recording(local);
    const r = await observeOnInngest(rec.provider, [inst.id], new Date(newer.getTime() - 1));
    expect(r.calls).toBe(0);
    expect((await instRow(inst.id)).observedAt).toEqual(newer);
  });
});

describe("observe-batch honours the provider's 429 and Retry-After", () => {
  it("stops asking, sleeps the Retry-After (holding no slot), then asks about the rest: each instance once", async () => {
    const fly = newFly();
    const instances = await Promise.all([1, 2, 3, 4].map(() => onFly(fly)));
    const ids = instances.map((i) => i.inst.id);
    fly.fake.inject("getMachine", { kind: "rate_limit", retryAfterSeconds: 7 });
    const gets = fly.fake.requestsTo("getMachine").length;
    const { deps } = testDeps(fly.provider);
    const sleeps: number[] = [];
    const runner = new LocalRunner([makeObserveBatch(deps, { settings: FAST, sleep: async () => undefined })], {
      sleep: async (ms) => void sleeps.push(ms),
      logger: silent,
    });

    await runner.send(observeRequestedEvent(new Date(), 0, ids));
    await runner.idle();

    const run = runner.runs().find((r) => r.functionId === "observe-batch")!;
    expect(run.status).toBe("succeeded");
    expect(run.output).toMatchObject({ recorded: 4, rate_limited: 1, left: 0 });
    expect(sleeps).toContain(7000);
    // Four answers, one refusal: the refused instance was asked again, no other twice.
    expect(fly.fake.requestsTo("getMachine").length - gets).toBe(5);
    for (const id of ids) expect((await instRow(id)).healthStatus).toBe("passing");
  });
});

describe("observe-instances: a pass over every due instance, stalest first", () => {
  it("plans the instances due (never observed first, then the stalest), leaves out those observed this interval, and fans them out", async () => {
    const local = new LocalProvider({ delayMs: 0 });
    const at = nextMinute();
    const fresh = await onLocal(local, "running", new Date(at - 10_000));
    const stale = await onLocal(local, "running", new Date(at - 120_000));
    const never = await onLocal(local, "running");
    const busy = await onLocal(local, "running");
    await insertOperation(busy.inst, "instance.stop");

    // Interval 300 s, a pass every 60 s: due when last observed 240 s or more before the pass.
    const first = await planOnce(local, { intervalSeconds: 300, requestsPerSecond: 100, concurrency: 2 }, at);
    expect(first.planned).toContain(never.inst.id);
    expect(first.planned).not.toContain(fresh.inst.id);
    expect(first.planned).not.toContain(stale.inst.id);
    expect(first.planned).not.toContain(busy.inst.id);
    // Each planned instance was looked at once, by its batch.
    expect(first.observedMachines.filter((m) => m === never.ref.machineId)).toHaveLength(1);
    expect((await instRow(never.inst.id)).observedAt).toEqual(new Date(at));

    // Interval 60 s, a minute later: everything observed before this pass is due, stalest first.
    const second = await planOnce(local, { intervalSeconds: 60, requestsPerSecond: 100, concurrency: 2 }, at + 60_000);
    const mine = [stale, fresh, never].map((x) => x.inst.id);
    expect(second.planned.filter((id) => mine.includes(id))).toEqual(mine);
    expect(second.planned).not.toContain(busy.inst.id);
  });

  it("plans no more than the budget can observe before the next pass, and says so", async () => {
    const local = new LocalProvider({ delayMs: 0 });
    for (let i = 0; i < 5; i++) await onLocal(local, "running");
    // 0.05 requests a second, 90 % of a 60 s pass: 2 instances.
    const { passes } = await planOnce(local, { intervalSeconds: 60, requestsPerSecond: 0.05, concurrency: 1 }, nextMinute(), { observe: false });
    expect(passes[0]).toMatchObject({ due: 2, batches: 1, capacity_reached: true });
  });

  it("with an interval under a minute, makes several passes a minute, a step.sleep apart", async () => {
    const local = new LocalProvider({ delayMs: 0 });
    const { inst } = await onLocal(local, "running");
    const { passes, planned } = await planOnce(local, { intervalSeconds: 20, requestsPerSecond: 100, concurrency: 2 }, nextMinute());
    expect(passes).toHaveLength(3);
    // Observed in the first pass, and again in the later ones (each 20 s on).
    expect(planned.filter((id) => id === inst.id)).toHaveLength(3);
  });
});

/** A minute boundary ahead of the wall clock: rows written now are older than any pass planned then. */
function nextMinute(): number {
  return Math.ceil(Date.now() / 60_000) * 60_000 + 60_000;
}

/** An instance with a machine on the LocalProvider, settled; `observedAt` as if observed then. */
async function onLocal(local: LocalProvider, status: "running" | "stopped", observedAt?: Date) {
  const base = await insertInstance(await newAccount(), { status: "provisioning" });
  const ref = await local.provision({ instanceId: base.id, subdomain: base.subdomain, region: "iad", image: SEEDED_VERSION.image, gatewayToken: "gw-token-0123456789abcdef", config: null });
  if (status === "stopped") await local.stop(ref);
  const db = await getDb();
  await db
    .update(instance)
    .set({
      status,
      appName: ref.appName,
      machineId: ref.machineId,
      volumeId: ref.volumeId,
      observedAt: observedAt ?? null,
      updatedAt: new Date((observedAt?.getTime() ?? Date.now()) - 1000),
    })
    .where(eq(instance.id, base.id));
  return { inst: await instRow(base.id), ref };
}

/**
 * One cron run of the planner at `at` (a minute boundary), with the batches it fans out
 * carried out (unless `observe: false`) on a LocalRunner whose clock is the test's: the
 * step.sleep between passes moves it, nothing else does.
 */
async function planOnce(local: LocalProvider, settings: ObservationSettings, at: number, o: { observe?: boolean } = {}) {
  let clock = at - 1;
  const rec = recording(local);
  const deps: Deps = { ...testDeps(rec.provider).deps, now: () => new Date(clock) };
  const defs = [makeObserveInstances(deps, settings), ...(o.observe === false ? [] : [makeObserveBatch(deps, { settings, sleep: async () => undefined })])];
  let cronTicks = 0;
  const runner: LocalRunner = new LocalRunner(defs, {
    now: () => clock,
    sleep: async (ms) => {
      // The cron clock's first wait reaches `at`; its second would be the next minute: stop there instead.
      if (ms === 1 || ms >= 60_000) {
        if (++cronTicks > 1) return runner.stop();
      }
      clock += ms;
    },
    logger: silent,
  });
  runner.startCrons();
  await expect.poll(() => runner.runs().some((r) => r.functionId === "observe-instances")).toBe(true);
  await runner.idle();
  runner.stop();
  const plan = runner.runs().find((r) => r.functionId === "observe-instances")!;
  expect(plan.status, String(plan.error)).toBe("succeeded");
  const planned = runner
    .runs()
    .filter((r) => r.event.name === instancesObserveRequested.name)
    .flatMap((b) => (b.event.data as { instance_ids: string[] }).instance_ids);
  const observedMachines = rec.calls.filter((c) => c.method === "observe").map((c) => (c.args[0] as MachineRef).machineId);
  type Pass = { planned_at: string; due: number; batches: number; capacity_reached: boolean };
  return { passes: (plan.output as { passes: Pass[] }).passes, planned, observedMachines };
}
