import { and, eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import { idempotencyKey, instance } from "@/db/schema";
import { insertKey } from "@/lib/services/keys";
import { operationRequested } from "@/lib/jobs/events";
import { makeReconcile } from "@/inngest/functions/reconcile";
import { makeRunOperation } from "@/inngest/functions/run-operation";
import { finishOperation } from "@/lib/services/operation-progress";
import { LocalProvider } from "@/lib/compute/local";
import { ComputeError, type ComputeProvider, type MachineRef } from "@/lib/compute/types";
import {
  insertInstance,
  insertOperation,
  instantRunner,
  instRow,
  newAccount,
  opRow,
  outboxFor,
  recording,
  runOnInngest,
  testDeps,
  type InstanceRow,
} from "../support/operation-harness";

// The reconciler (a cron function) on Inngest's own execution engine, against
// real PGlite rows: what it re-sends, fails, repairs and forgets. Other tests'
// rows share this file's database, so every assertion is about the test's own
// rows (membership, never exact lists of everything the run touched).

// Opening the file's database (PGlite from the migrated template) takes seconds: not inside the first test's time limit.
beforeAll(async () => {
  await getDb();
}, 60_000);

type ReconcileResult = {
  resent: string[];
  failed: string[];
  repaired: { instance_id: string; from: string; to: string }[];
  expired: number;
  webhooks: number;
};

async function reconcile(compute: ComputeProvider, now = () => new Date()) {
  const { deps, sent } = testDeps(compute, { now });
  const run = await runOnInngest(makeReconcile(deps), undefined);
  expect(run.error).toBeUndefined();
  return { result: run.result as unknown as ReconcileResult, sent };
}

/** A settled instance with a machine on `local`, in the state given. */
async function settled(local: LocalProvider, status: "running" | "stopped", machine: "started" | "stopped" | "gone") {
  const accountId = await newAccount();
  const base = await insertInstance(accountId, { status: "provisioning" });
  const ref = await local.provision({ instanceId: base.id, subdomain: base.subdomain, region: "iad", gatewayToken: "gw-token-0123456789abcdef", config: null });
  if (machine === "stopped") await local.stop(ref);
  if (machine === "gone") await local.destroy(ref);
  const db = await getDb();
  await db
    .update(instance)
    .set({ status, appName: ref.appName, machineId: ref.machineId, volumeId: ref.volumeId })
    .where(eq(instance.id, base.id));
  return { inst: await instRow(base.id), ref };
}

const ago = (ms: number) => new Date(Date.now() - ms);

describe("reconcile: lost events", () => {
  it("re-sends a pending operation older than a minute, with the operation id as event id, and the event completes it", async () => {
    const local = new LocalProvider({ delayMs: 0 });
    const accountId = await newAccount();
    const lostInst = await insertInstance(accountId, { status: "provisioning" });
    const lost = await insertOperation(lostInst, "instance.create", { createdAt: ago(2 * 60_000) });
    const freshInst = await insertInstance(accountId, { status: "provisioning" });
    const fresh = await insertOperation(freshInst, "instance.create", { createdAt: ago(10_000) });
    const runningInst = await insertInstance(accountId, { status: "provisioning" });
    const running = await insertOperation(runningInst, "instance.create", { status: "running", createdAt: ago(5 * 60_000) });

    const { result, sent } = await reconcile(local);

    expect(result.resent).toContain(lost.id);
    expect(result.resent).not.toContain(fresh.id);
    expect(result.resent).not.toContain(running.id);
    const requested = sent.filter((e) => e.name === operationRequested.name);
    expect(requested).toContainEqual({
      name: operationRequested.name,
      id: lost.id,
      data: { operation_id: lost.id, instance_id: lostInst.id, account_id: accountId, type: "instance.create" },
    });
    expect(requested.map((e) => e.id)).not.toContain(fresh.id);
    expect(requested.map((e) => e.id)).not.toContain(running.id);
    // Re-sending changes no row by itself.
    expect((await opRow(lost.id)).status).toBe("pending");

    // The re-sent event is one run-operation accepts and carries out.
    const { runner } = instantRunner([makeRunOperation(testDeps(local).deps)]);
    await runner.send(requested.filter((e) => e.id === lost.id));
    await runner.idle();
    expect(await opRow(lost.id)).toMatchObject({ status: "succeeded" });
    expect((await instRow(lostInst.id)).status).toBe("running");
  });
});

describe("reconcile: stuck operations", () => {
  it("fails an operation past its deadline with operation_timeout and marks its instance failed", async () => {
    const local = new LocalProvider({ delayMs: 0 });
    const accountId = await newAccount();
    const stuckInst = await insertInstance(accountId, { status: "starting" });
    const stuck = await insertOperation(stuckInst, "instance.start", { status: "running", createdAt: ago(20 * 60_000), deadlineAt: ago(1000) });
    const slowInst = await insertInstance(accountId, { status: "starting" });
    const slow = await insertOperation(slowInst, "instance.start", { status: "running", createdAt: ago(20 * 60_000), deadlineAt: new Date(Date.now() + 60_000) });

    const { result } = await reconcile(local);

    expect(result.failed).toContain(stuck.id);
    expect(result.failed).not.toContain(slow.id);
    const done = await opRow(stuck.id);
    expect(done).toMatchObject({ status: "failed", error: { code: "operation_timeout", message: expect.stringContaining("deadline") } });
    expect(done.completedAt).toBeInstanceOf(Date);
    expect((await instRow(stuckInst.id)).status).toBe("failed");
    expect((await outboxFor(stuck)).map((m) => m.eventType)).toEqual(["operation.failed"]);
    // One still within its deadline is left to finish.
    expect((await opRow(slow.id)).status).toBe("running");
    expect((await instRow(slowInst.id)).status).toBe("starting");

    // A second pass finds nothing more to fail for it, and writes no second outbox row.
    const again = await reconcile(local);
    expect(again.result.failed).not.toContain(stuck.id);
    expect(await outboxFor(stuck)).toHaveLength(1);
  });

  it("judges deadlines by deps.now(), not the wall clock", async () => {
    const local = new LocalProvider({ delayMs: 0 });
    const inst = await insertInstance(await newAccount(), { status: "stopping" });
    const op = await insertOperation(inst, "instance.stop", { status: "running", deadlineAt: new Date(Date.now() + 10 * 60_000) });
    const { result } = await reconcile(local, () => new Date(Date.now() + 11 * 60_000));
    expect(result.failed).toContain(op.id);
    expect(await opRow(op.id)).toMatchObject({ status: "failed", error: { code: "operation_timeout" } });
    expect((await instRow(inst.id)).status).toBe("failed");
  });
});

describe("reconcile: drift between instance status and machine", () => {
  it("repairs what the provider contradicts, and leaves alone instances with an operation in progress", async () => {
    const local = new LocalProvider({ delayMs: 0 });
    const stoppedBehindOurBack = await settled(local, "running", "stopped");
    const vanished = await settled(local, "running", "gone");
    const startedBehindOurBack = await settled(local, "stopped", "started");
    const inSync = await settled(local, "running", "started");
    const busy = await settled(local, "running", "stopped");
    const busyOp = await insertOperation(busy.inst, "instance.configure");

    const { result } = await reconcile(local);

    expect((await instRow(stoppedBehindOurBack.inst.id)).status).toBe("stopped");
    expect((await instRow(vanished.inst.id)).status).toBe("failed");
    expect((await instRow(startedBehindOurBack.inst.id)).status).toBe("running");
    expect((await instRow(inSync.inst.id)).status).toBe("running");
    expect((await instRow(busy.inst.id)).status).toBe("running");
    expect((await opRow(busyOp.id)).status).toBe("pending");
    expect(result.repaired).toEqual(
      expect.arrayContaining([
        { instance_id: stoppedBehindOurBack.inst.id, from: "running", to: "stopped" },
        { instance_id: vanished.inst.id, from: "running", to: "failed" },
        { instance_id: startedBehindOurBack.inst.id, from: "stopped", to: "running" },
      ]),
    );
    const touched = result.repaired.map((r) => r.instance_id);
    expect(touched).not.toContain(inSync.inst.id);
    expect(touched).not.toContain(busy.inst.id);
    // The machines themselves are observed, not changed.
    expect(await local.getState(stoppedBehindOurBack.ref)).toBe("stopped");
    expect(await local.getState(startedBehindOurBack.ref)).toBe("started");

    // Settled now: a second pass repairs none of them again.
    const again = await reconcile(local);
    const touchedAgain = again.result.repaired.map((r) => r.instance_id);
    for (const i of [stoppedBehindOurBack, vanished, startedBehindOurBack, inSync, busy]) expect(touchedAgain).not.toContain(i.inst.id);
  });

  it("changes nothing when the provider cannot be reached", async () => {
    const local = new LocalProvider({ delayMs: 0 });
    const a = await settled(local, "running", "stopped");
    const b = await settled(local, "running", "gone");
    const before: InstanceRow[] = [await instRow(a.inst.id), await instRow(b.inst.id)];
    const unreachable = new ComputeError("fly_network_error", "Fly API GET failed: connect ECONNREFUSED", { retryable: true });
    local.failNext("getState", unreachable, 10_000);
    const rec = recording(local);

    const { result } = await reconcile(rec.provider);

    expect(rec.count("getState")).toBeGreaterThanOrEqual(2); // it did ask about both
    const touched = result.repaired.map((r) => r.instance_id);
    expect(touched).not.toContain(a.inst.id);
    expect(touched).not.toContain(b.inst.id);
    expect([await instRow(a.inst.id), await instRow(b.inst.id)]).toEqual(before);
  });

  it("does not touch an instance whose operation started between the scan and the repair", async () => {
    const local = new LocalProvider({ delayMs: 0 });
    const { inst } = await settled(local, "running", "stopped");
    let op: { id: string } | undefined;
    // The provider's answer arrives after a user started an operation on the instance.
    const rec = recording(local, async (call) => {
      if (call.method !== "getState" || (call.args[0] as MachineRef).machineId !== inst.machineId) return;
      op = await insertOperation(await instRow(inst.id), "instance.restart");
    });
    const { result } = await reconcile(rec.provider);
    expect(op).toBeDefined();
    expect(result.repaired.map((r) => r.instance_id)).not.toContain(inst.id);
    expect((await instRow(inst.id)).status).toBe("running");
  });
});

describe("reconcile: drift repairs race with operations that finish meanwhile", () => {
  it("does not apply a machine state observed before an operation that started and finished since", async () => {
    const local = new LocalProvider({ delayMs: 0 });
    // Real drift: the machine stopped behind our back.
    const { inst, ref } = await settled(local, "running", "stopped");
    let restart: { id: string } | undefined;
    // The provider answers "stopped"; before that answer is acted on, the user's restart
    // (recorded while the instance showed running) has run to completion: the machine runs again.
    const provider: ComputeProvider = new Proxy(local, {
      get(target, prop, receiver) {
        if (prop !== "getState") return Reflect.get(target, prop, receiver);
        return async (r: MachineRef) => {
          const observed = await target.getState(r);
          if (r.machineId === ref.machineId && !restart) {
            const db = await getDb();
            restart = await insertOperation(await instRow(inst.id), "instance.restart");
            await db.update(instance).set({ status: "restarting" }).where(eq(instance.id, inst.id));
            await target.restart(ref);
            await finishOperation(db, restart.id, { ok: true });
          }
          return observed;
        };
      },
    });

    const { result } = await reconcile(provider);

    expect(restart).toBeDefined();
    expect(await local.getState(ref)).toBe("started");
    expect((await opRow(restart!.id)).status).toBe("succeeded");
    // The machine runs, and so must the instance: the stale "stopped" is not applied.
    expect(result.repaired.map((r) => r.instance_id)).not.toContain(inst.id);
    expect((await instRow(inst.id)).status).toBe("running");
  });
});

describe("reconcile: idempotency keys", () => {
  it("deletes expired keys and keeps live ones", async () => {
    const accountId = await newAccount();
    const db = await getDb();
    const { id: apiKeyId } = await insertKey(db, accountId, { name: "idem", scopes: ["all"] });
    await db.insert(idempotencyKey).values([
      { accountId, apiKeyId, key: "expired-1", requestHash: "h1", responseStatus: 202, responseBody: "{}", expiresAt: ago(1000) },
      { accountId, apiKeyId, key: "expired-2", requestHash: "h2", expiresAt: ago(25 * 3600_000) },
      { accountId, apiKeyId, key: "live", requestHash: "h3", responseStatus: 202, responseBody: "{}", expiresAt: new Date(Date.now() + 3600_000) },
    ]);

    const { result } = await reconcile(new LocalProvider({ delayMs: 0 }));

    expect(result.expired).toBeGreaterThanOrEqual(2);
    const left = await db.select({ key: idempotencyKey.key }).from(idempotencyKey).where(eq(idempotencyKey.accountId, accountId));
    expect(left.map((r) => r.key)).toEqual(["live"]);
    const [live] = await db
      .select()
      .from(idempotencyKey)
      .where(and(eq(idempotencyKey.accountId, accountId), eq(idempotencyKey.key, "live")));
    expect(live).toMatchObject({ responseStatus: 202, responseBody: "{}" });
  });
});
