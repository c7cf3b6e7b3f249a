import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import { instance } from "@/db/schema";
import { makeRunOperation } from "@/inngest/functions/run-operation";
import { FlyProvider } from "@/lib/compute/fly";
import { LocalProvider } from "@/lib/compute/local";
import { LocalRunner } from "@/lib/jobs/local-runner";
import { finishOperation } from "@/lib/services/operation-progress";
import { ComputeError, type MachineRef } from "@/lib/compute/types";
import { open, seal } from "@/lib/crypto";
import { createFlyFake, type FlyFake } from "@/tests/fakes/fly-api";
import { mockServer } from "../compute/msw";
import {
  fakeClock,
  insertInstance,
  insertOperation,
  instantRunner,
  instRow,
  newAccount,
  opRow,
  outboxFor,
  recording,
  requestedEvent,
  runFailureHandlerOnInngest,
  runOnInngest,
  silent,
  testDeps,
  type ProviderCall,
} from "./operation-harness";

// run-operation, the function that carries out every instance operation, on
// Inngest's own execution engine (@inngest/test) and, where retries or the
// failure handler matter, on the LocalRunner, against real PGlite rows. Each
// test checks what the run leaves behind: operation and instance rows, the
// webhook outbox, and the machine as the provider holds it.

// Opening the file's database (PGlite from the migrated template) takes seconds: not inside the first test's time limit.
beforeAll(async () => {
  await getDb();
}, 60_000);

/** A LocalProvider whose transitions take 1 s of a clock that only its own waits move. */
function localProvider() {
  const clock = fakeClock();
  const local = new LocalProvider({ delayMs: 1000, now: clock.now, sleep: clock.sleep });
  return { local, clock };
}

/** A machine that already exists on the provider (as a finished create leaves it), settled in `state`. */
async function existingMachine(p: ReturnType<typeof localProvider>, instanceId: string, state: "started" | "stopped") {
  const ref = await p.local.provision({ instanceId, subdomain: "x", region: "iad", gatewayToken: "gw-token-existing-0123456789", config: null });
  p.clock.advance(10_000);
  if (state === "stopped") {
    await p.local.stop(ref);
    p.clock.advance(10_000);
  }
  expect(await p.local.getState(ref)).toBe(state);
  return ref;
}

/** An instance with a machine, as an API lifecycle call leaves it: status `during`, one pending operation. */
async function lifecycleSetup(type: "instance.start" | "instance.stop" | "instance.restart" | "instance.delete", machine: "started" | "stopped", during: string) {
  const p = localProvider();
  const accountId = await newAccount();
  const placeholder = await insertInstance(accountId, { status: "provisioning" });
  const ref = await existingMachine(p, placeholder.id, machine);
  const db = await getDb();
  await db
    .update(instance)
    .set({ status: during, appName: ref.appName, machineId: ref.machineId, volumeId: ref.volumeId, gatewayTokenEnc: seal("gw-token-existing-0123456789") })
    .where(eq(instance.id, placeholder.id));
  const op = await insertOperation(placeholder, type);
  return { p, ref, inst: await instRow(placeholder.id), op };
}

describe("run-operation on Inngest: create", () => {
  it("goes pending -> running -> succeeded, records the machine and a sealed token, and writes the outbox row in the finishing transaction", async () => {
    const p = localProvider();
    const accountId = await newAccount();
    const inst = await insertInstance(accountId, { status: "provisioning" });
    const op = await insertOperation(inst, "instance.create");
    expect((await opRow(op.id)).status).toBe("pending");

    // What the database looked like while the machine was being provisioned.
    const during: { op?: string; startedAt?: Date | null; inst?: string }[] = [];
    let token: string | undefined;
    const rec = recording(p.local, async (call: ProviderCall) => {
      if (call.method !== "provision") return;
      token = (call.args[0] as { gatewayToken: string }).gatewayToken;
      const o = await opRow(op.id);
      during.push({ op: o.status, startedAt: o.startedAt, inst: (await instRow(inst.id)).status });
    });
    const { deps, sent } = testDeps(rec.provider);

    const run = await runOnInngest(makeRunOperation(deps), requestedEvent(op));

    expect(run.error).toBeUndefined();
    expect(run.result).toEqual({ status: "succeeded" });
    expect(during).toEqual([{ op: "running", startedAt: expect.any(Date), inst: "provisioning" }]);

    const done = await opRow(op.id);
    expect(done).toMatchObject({ status: "succeeded", error: null });
    expect(done.completedAt).toBeInstanceOf(Date);
    expect(done.startedAt!.getTime()).toBeLessThanOrEqual(done.completedAt!.getTime());

    const after = await instRow(inst.id);
    expect(after.status).toBe("running");
    expect(after.deletedAt).toBeNull();
    const ref = rec.calls.find((c) => c.method === "waitForState")!.args[0] as MachineRef;
    expect({ appName: after.appName, machineId: after.machineId, volumeId: after.volumeId }).toEqual({
      appName: ref.appName,
      machineId: ref.machineId,
      volumeId: ref.volumeId,
    });
    expect(after.machineId).toMatch(/^[0-9a-f]{14}$/);
    // The machine really runs on the provider, and answers healthy.
    expect(await p.local.getState(ref)).toBe("started");
    expect(await p.local.checkHealth(ref)).toMatchObject({ healthy: true });

    // The gateway token the machine got is stored sealed, never in plaintext, and never as a step result.
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(after.gatewayTokenEnc).toMatch(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/); // sealed: version, iv, tag, ciphertext
    expect(after.gatewayTokenEnc).not.toContain(token!);
    expect(open(after.gatewayTokenEnc!)).toBe(token);
    expect(await run.storedState()).not.toContain(token!);

    // The outbox row, written with the same clock reading as the completion (one transaction).
    const outbox = await outboxFor(op);
    expect(outbox).toHaveLength(1);
    expect(outbox[0]).toMatchObject({ eventType: "operation.succeeded", dispatchedAt: null });
    expect(outbox[0]!.createdAt.getTime()).toBe(done.completedAt!.getTime());
    expect(outbox[0]!.payload).toMatchObject({
      type: "operation.succeeded",
      timestamp: done.completedAt!.toISOString(),
      data: { id: op.id, type: "instance.create", status: "succeeded", instance_id: inst.id, error: null },
    });
    // Delivery is nudged once the run is done.
    expect(sent).toEqual([{ name: "webhook/messages.pending", data: { reason: op.id } }]);
  });

  it("finishes the operation and writes its outbox row atomically: when the outbox insert fails, the operation stays unfinished; a re-run completes it with the same machine", async () => {
    const p = localProvider();
    const accountId = await newAccount();
    const inst = await insertInstance(accountId, { status: "provisioning" });
    const op = await insertOperation(inst, "instance.create");
    const db = await getDb();
    // The outbox refuses this operation's row (a database-side failure inside finishOperation's transaction).
    await db.execute(sql.raw(`
      create or replace function refuse_outbox() returns trigger language plpgsql as $$
      begin
        if new.payload->'data'->>'id' = '${op.id}' then raise exception 'outbox refused'; end if;
        return new;
      end $$
    `));
    await db.execute(sql.raw(`create trigger refuse_outbox before insert on webhook_message for each row execute function refuse_outbox()`));
    try {
      const rec = recording(p.local);
      const first = await runOnInngest(makeRunOperation(testDeps(rec.provider).deps), requestedEvent(op));
      expect(first.error?.message).toMatch(/outbox refused|Failed query/);
      // Nothing of the finish stuck: neither the operation's completion nor the instance's status.
      expect(await opRow(op.id)).toMatchObject({ status: "running", completedAt: null });
      expect((await instRow(inst.id)).status).toBe("provisioning");
      expect(await outboxFor(op)).toEqual([]);
    } finally {
      await db.execute(sql.raw(`drop trigger if exists refuse_outbox on webhook_message`));
      await db.execute(sql.raw(`drop function if exists refuse_outbox()`));
    }
    // The first attempt provisioned and recorded the machine before its finish failed.
    const machineId = (await instRow(inst.id)).machineId;
    expect(machineId).toMatch(/^[0-9a-f]{14}$/);

    // The retry (here: the event again) finishes it, reusing the machine the first attempt made.
    const rec = recording(p.local);
    const second = await runOnInngest(makeRunOperation(testDeps(rec.provider).deps), requestedEvent(op));
    expect(second.error).toBeUndefined();
    expect(second.result).toEqual({ status: "succeeded" });
    expect(await opRow(op.id)).toMatchObject({ status: "succeeded" });
    expect(await instRow(inst.id)).toMatchObject({ status: "running", machineId });
    expect((await outboxFor(op)).map((m) => m.eventType)).toEqual(["operation.succeeded"]);
  });
});

describe("run-operation on Inngest: lifecycle operations", () => {
  it("stop: the machine is stopped and the instance settles stopped", async () => {
    const { p, ref, inst, op } = await lifecycleSetup("instance.stop", "started", "stopping");
    const rec = recording(p.local);
    const run = await runOnInngest(makeRunOperation(testDeps(rec.provider).deps), requestedEvent(op));
    expect(run.error).toBeUndefined();
    expect(run.result).toEqual({ status: "succeeded" });
    expect(await p.local.getState(ref)).toBe("stopped");
    expect(await opRow(op.id)).toMatchObject({ status: "succeeded", error: null });
    expect(await instRow(inst.id)).toMatchObject({ status: "stopped", machineId: ref.machineId, deletedAt: null });
    expect((await outboxFor(op)).map((m) => m.eventType)).toEqual(["operation.succeeded"]);
    expect(rec.calls.map((c) => c.method)).toEqual(["stop", "waitForState"]);
  });

  it("start: a stopped machine is started and checked healthy; the instance settles running", async () => {
    const { p, ref, inst, op } = await lifecycleSetup("instance.start", "stopped", "starting");
    const rec = recording(p.local);
    const run = await runOnInngest(makeRunOperation(testDeps(rec.provider).deps), requestedEvent(op));
    expect(run.error).toBeUndefined();
    expect(await p.local.getState(ref)).toBe("started");
    expect(await opRow(op.id)).toMatchObject({ status: "succeeded" });
    expect((await instRow(inst.id)).status).toBe("running");
    expect(rec.calls.map((c) => c.method)).toEqual(["start", "waitForState", "checkHealth"]);
  });

  it("restart: the machine goes down and up again; the instance settles running", async () => {
    const { p, ref, inst, op } = await lifecycleSetup("instance.restart", "started", "restarting");
    const seen: string[] = [];
    const rec = recording(p.local, async (call) => {
      if (call.method === "waitForState") seen.push((await p.local.getState(ref))!);
    });
    const run = await runOnInngest(makeRunOperation(testDeps(rec.provider).deps), requestedEvent(op));
    expect(run.error).toBeUndefined();
    // Right after the restart call the machine was on its way down, not still running.
    expect(seen).toEqual(["stopping"]);
    expect(await p.local.getState(ref)).toBe("started");
    expect(await opRow(op.id)).toMatchObject({ status: "succeeded" });
    expect((await instRow(inst.id)).status).toBe("running");
  });

  it("delete: the machine is destroyed and the instance gets deleted_at (its row stays for the history)", async () => {
    const { p, ref, inst, op } = await lifecycleSetup("instance.delete", "started", "deleting");
    const run = await runOnInngest(makeRunOperation(testDeps(p.local).deps), requestedEvent(op));
    expect(run.error).toBeUndefined();
    expect(run.result).toEqual({ status: "succeeded" });
    p.clock.advance(10_000);
    expect(await p.local.getState(ref)).toBeNull();
    const after = await instRow(inst.id);
    expect(after.deletedAt).toBeInstanceOf(Date);
    expect(await opRow(op.id)).toMatchObject({ status: "succeeded" });
    expect((await outboxFor(op)).map((m) => m.eventType)).toEqual(["operation.succeeded"]);
  });

  it("delete of an instance whose creation never got a machine succeeds, and leaves other machines alone", async () => {
    const p = localProvider();
    const other = await existingMachine(p, "inst_someoneelse", "started");
    const inst = await insertInstance(await newAccount(), { status: "deleting" });
    const op = await insertOperation(inst, "instance.delete");
    const run = await runOnInngest(makeRunOperation(testDeps(p.local).deps), requestedEvent(op));
    expect(run.error).toBeUndefined();
    expect(run.result).toEqual({ status: "succeeded" });
    expect((await instRow(inst.id)).deletedAt).toBeInstanceOf(Date);
    expect((await opRow(op.id)).status).toBe("succeeded");
    p.clock.advance(10_000);
    expect(await p.local.getState(other)).toBe("started");
  });

  it("a stop, then a start, then a delete, one after another on the same instance", async () => {
    const { p, ref, inst, op: stop } = await lifecycleSetup("instance.stop", "started", "stopping");
    const deps = testDeps(p.local).deps;
    expect((await runOnInngest(makeRunOperation(deps), requestedEvent(stop))).error).toBeUndefined();
    expect([(await instRow(inst.id)).status, await p.local.getState(ref)]).toEqual(["stopped", "stopped"]);

    const start = await insertOperation(await instRow(inst.id), "instance.start");
    expect((await runOnInngest(makeRunOperation(deps), requestedEvent(start))).error).toBeUndefined();
    expect([(await instRow(inst.id)).status, await p.local.getState(ref)]).toEqual(["running", "started"]);

    const del = await insertOperation(await instRow(inst.id), "instance.delete");
    expect((await runOnInngest(makeRunOperation(deps), requestedEvent(del))).error).toBeUndefined();
    p.clock.advance(10_000);
    expect(await p.local.getState(ref)).toBeNull();
    expect((await instRow(inst.id)).deletedAt).toBeInstanceOf(Date);
    for (const o of [stop, start, del]) expect((await opRow(o.id)).status).toBe("succeeded");
  });
});

describe("run-operation: a permanent provider error", () => {
  const refused = () => new ComputeError("fly_rejected", "Fly API POST /apps failed (422): invalid region", { retryable: false, status: 422 });

  it("on Inngest: the run fails with NonRetriableError carrying the code; the failure handler fails the operation and the instance", async () => {
    const p = localProvider();
    p.local.failNext("provision", refused());
    const rec = recording(p.local);
    const inst = await insertInstance(await newAccount(), { status: "provisioning" });
    const op = await insertOperation(inst, "instance.create");
    const { deps, sent } = testDeps(rec.provider);
    const def = makeRunOperation(deps);

    const run = await runOnInngest(def, requestedEvent(op));
    expect(run.result).toBeUndefined();
    expect(run.error).toMatchObject({ name: "NonRetriableError", message: "[fly_rejected] Fly API POST /apps failed (422): invalid region" });
    expect(rec.count("provision")).toBe(1);
    // Until the failure handler runs, the operation is still in progress.
    expect((await opRow(op.id)).status).toBe("running");

    const failure = await runFailureHandlerOnInngest(def, requestedEvent(op), run.error!);
    expect(failure.error).toBeUndefined();
    const done = await opRow(op.id);
    expect(done).toMatchObject({
      status: "failed",
      error: { code: "fly_rejected", message: "Fly API POST /apps failed (422): invalid region" },
    });
    expect(done.completedAt).toBeInstanceOf(Date);
    expect((await instRow(inst.id)).status).toBe("failed");
    const outbox = await outboxFor(op);
    expect(outbox.map((m) => m.eventType)).toEqual(["operation.failed"]);
    expect(outbox[0]!.payload).toMatchObject({ data: { id: op.id, status: "failed", error: { code: "fly_rejected" } } });
    expect(sent).toContainEqual({ name: "webhook/messages.pending", data: { reason: op.id } });
  });

  it("on the LocalRunner: tried once, never retried, and onFailure settles the rows", async () => {
    const { p, ref, inst, op } = await lifecycleSetup("instance.start", "stopped", "starting");
    p.local.failNext("start", new ComputeError("local_machine_not_found", `machine ${ref.machineId} does not exist`, { retryable: false, status: 404 }));
    const rec = recording(p.local);
    const { runner, sleeps } = instantRunner([makeRunOperation(testDeps(rec.provider).deps)]);

    await runner.send(requestedEvent(op));
    await runner.idle();

    const [run] = runner.runs();
    expect(run).toMatchObject({ status: "failed", error: { name: "NonRetriableError" } });
    expect(rec.count("start")).toBe(1);
    expect(sleeps).toEqual([]); // no backoff: nothing was retried
    expect(await opRow(op.id)).toMatchObject({ status: "failed", error: { code: "local_machine_not_found" } });
    expect((await instRow(inst.id)).status).toBe("failed");
    expect(await p.local.getState(ref)).toBe("stopped");
    expect((await outboxFor(op)).map((m) => m.eventType)).toEqual(["operation.failed"]);
  });

  it("an operation on an instance without a machine fails with instance_not_provisioned", async () => {
    const p = localProvider();
    const inst = await insertInstance(await newAccount(), { status: "starting" });
    const op = await insertOperation(inst, "instance.start");
    const { runner } = instantRunner([makeRunOperation(testDeps(p.local).deps)]);
    await runner.send(requestedEvent(op));
    await runner.idle();
    expect(runner.runs()[0]!.status).toBe("failed");
    expect(await opRow(op.id)).toMatchObject({ status: "failed", error: { code: "instance_not_provisioned" } });
    expect((await instRow(inst.id)).status).toBe("failed");
  });
});

describe("run-operation on the LocalRunner: retryable errors", () => {
  const busy = () => new ComputeError("local_busy", "the host is busy", { retryable: true, status: 503 });

  it("retries a retryable provider error with backoff, then succeeds", async () => {
    const { p, ref, inst, op } = await lifecycleSetup("instance.start", "stopped", "starting");
    p.local.failNext("start", busy(), 2);
    const rec = recording(p.local);
    const { runner, sleeps } = instantRunner([makeRunOperation(testDeps(rec.provider).deps)]);

    await runner.send(requestedEvent(op));
    await runner.idle();

    expect(runner.runs()[0]).toMatchObject({ status: "succeeded", output: { status: "succeeded" } });
    expect(rec.count("start")).toBe(3);
    expect(sleeps).toEqual([1000, 2000]); // two backoffs, one per retry
    expect(await opRow(op.id)).toMatchObject({ status: "succeeded", error: null });
    expect((await instRow(inst.id)).status).toBe("running");
    expect(await p.local.getState(ref)).toBe("started");
    expect((await outboxFor(op)).map((m) => m.eventType)).toEqual(["operation.succeeded"]);
  });

  it("a create whose provision step fails transiently provisions one machine, not two", async () => {
    const p = localProvider();
    // The wait after provisioning times out once: the provision step is not run again.
    p.local.failNext("waitForState", new ComputeError("local_wait_timeout", "not yet", { retryable: true }), 1);
    const rec = recording(p.local);
    const inst = await insertInstance(await newAccount(), { status: "provisioning" });
    const op = await insertOperation(inst, "instance.create");
    const { runner } = instantRunner([makeRunOperation(testDeps(rec.provider).deps)]);
    await runner.send(requestedEvent(op));
    await runner.idle();
    expect(runner.runs()[0]!.status).toBe("succeeded");
    expect(rec.count("provision")).toBe(1);
    expect(rec.count("waitForState")).toBe(2);
    expect((await instRow(inst.id)).status).toBe("running");
  });

  it("gives up after the retry budget (4 retries) and fails the operation with the provider's code", async () => {
    const { p, ref, inst, op } = await lifecycleSetup("instance.start", "stopped", "starting");
    p.local.failNext("start", busy(), 5);
    const rec = recording(p.local);
    const { runner, sleeps } = instantRunner([makeRunOperation(testDeps(rec.provider).deps)]);

    await runner.send(requestedEvent(op));
    await runner.idle();

    expect(runner.runs()[0]!.status).toBe("failed");
    expect(rec.count("start")).toBe(5);
    expect(sleeps).toEqual([1000, 2000, 3000, 4000]);
    expect(await opRow(op.id)).toMatchObject({ status: "failed", error: { code: "local_busy", message: "the host is busy" } });
    expect((await instRow(inst.id)).status).toBe("failed");
    expect(await p.local.getState(ref)).toBe("stopped");
  });
});

describe("run-operation: an operation finished elsewhere while its run waits to retry", () => {
  it("a create timed out by the reconciler does not provision once the instance has been deleted", async () => {
    const p = localProvider();
    p.local.failNext("provision", new ComputeError("local_busy", "no capacity right now", { retryable: true }), 1);
    const rec = recording(p.local);
    const inst = await insertInstance(await newAccount(), { status: "provisioning" });
    const op = await insertOperation(inst, "instance.create");
    const deps = testDeps(rec.provider).deps;
    const db = await getDb();
    let deleted = false;
    // While the create waits out its backoff: its deadline passes (the reconciler fails it,
    // as failStuckOperations does), and the user deletes the failed instance.
    const runner = new LocalRunner([makeRunOperation(deps)], {
      logger: silent,
      backoffMs: () => 60_000,
      sleep: async () => {
        if (deleted) return;
        deleted = true;
        await finishOperation(db, op.id, { ok: false, code: "operation_timeout", message: "did not finish before its deadline" });
        await db.update(instance).set({ status: "deleting" }).where(eq(instance.id, inst.id));
        const del = await insertOperation(await instRow(inst.id), "instance.delete");
        const removal = await runOnInngest(makeRunOperation(deps), requestedEvent(del));
        expect(removal.result).toEqual({ status: "succeeded" });
      },
    });
    await runner.send(requestedEvent(op));
    await runner.idle();

    expect(deleted).toBe(true);
    expect((await instRow(inst.id)).deletedAt).toBeInstanceOf(Date);
    expect(await opRow(op.id)).toMatchObject({ status: "failed", error: { code: "operation_timeout" } });
    // No machine may be left running for a deleted instance (it would be billed, and nothing would ever remove it).
    p.clock.advance(60_000);
    const made = rec.calls.filter((c) => c.method === "provision" && c.result).map((c) => c.result as MachineRef);
    for (const ref of made) expect(await p.local.getState(ref)).toBeNull();
    expect((await instRow(inst.id)).machineId).toBeNull();
  });
});

describe("run-operation: after the finish", () => {
  it("a failure after the operation finished (the announce keeps failing) never turns it into a failed one", async () => {
    const { p, ref, inst, op } = await lifecycleSetup("instance.stop", "started", "stopping");
    let sends = 0;
    const { deps } = testDeps(p.local, {
      send: async () => {
        sends++;
        throw new Error("event API unreachable");
      },
    });
    const { runner } = instantRunner([makeRunOperation(deps)]);
    await runner.send(requestedEvent(op));
    await runner.idle();

    expect(runner.runs()[0]).toMatchObject({ status: "failed", error: { message: "event API unreachable" } });
    expect(sends).toBe(6); // the announce step's 5 attempts, then onFailure's own nudge
    expect(await opRow(op.id)).toMatchObject({ status: "succeeded", error: null });
    expect((await instRow(inst.id)).status).toBe("stopped");
    expect(await p.local.getState(ref)).toBe("stopped");
    // The outbox row was written when it finished: the reconciler's drain delivers it later.
    expect((await outboxFor(op)).map((m) => m.eventType)).toEqual(["operation.succeeded"]);
  });
});

describe("run-operation: duplicate events", () => {
  it("an event for an operation that has already finished does nothing", async () => {
    const { p, ref, inst, op } = await lifecycleSetup("instance.stop", "started", "stopping");
    const first = await runOnInngest(makeRunOperation(testDeps(p.local).deps), requestedEvent(op));
    expect(first.error).toBeUndefined();
    const finished = await opRow(op.id);
    const settled = await instRow(inst.id);
    // Someone starts the machine behind our back; a replayed stop must not stop it again.
    await p.local.start(ref);
    p.clock.advance(10_000);

    const rec = recording(p.local);
    const { deps, sent } = testDeps(rec.provider);
    const again = await runOnInngest(makeRunOperation(deps), requestedEvent(op));
    expect(again.error).toBeUndefined();
    expect(again.result).toEqual({ skipped: "already finished" });
    expect(rec.calls).toEqual([]);
    expect(sent).toEqual([]);
    expect(await p.local.getState(ref)).toBe("started");
    expect(await opRow(op.id)).toEqual(finished);
    expect(await instRow(inst.id)).toEqual(settled);
    expect((await outboxFor(op)).map((m) => m.eventType)).toEqual(["operation.succeeded"]);
  });

  it("an event for a failed operation does not run it again either", async () => {
    const inst = await insertInstance(await newAccount(), { status: "failed" });
    const op = await insertOperation(inst, "instance.create", { status: "failed" });
    const p = localProvider();
    const rec = recording(p.local);
    const run = await runOnInngest(makeRunOperation(testDeps(rec.provider).deps), requestedEvent(op));
    expect(run.result).toEqual({ skipped: "already finished" });
    expect(rec.calls).toEqual([]);
    expect((await instRow(inst.id)).status).toBe("failed");
    expect(await outboxFor(op)).toEqual([]);
  });
});

describe("run-operation with the Fly provider (msw fake of the Machines API)", () => {
  const TOKEN = "fly-test-token";
  const { server, listen } = mockServer();
  beforeAll(listen);
  afterAll(() => server.close());

  function fly(): { fake: FlyFake; provider: FlyProvider } {
    const fake = createFlyFake({ token: TOKEN });
    server.resetHandlers(...fake.handlers);
    const provider = new FlyProvider({
      token: TOKEN,
      org: "personal",
      apiBaseUrl: "https://api.machines.dev",
      image: "ghcr.io/openclaw/openclaw:2026.11.20",
      instanceDomain: "myopenclaw.app",
      now: fake.clock.now,
      sleep: async (ms) => fake.clock.advance(ms),
    });
    return { fake, provider };
  }

  async function createOp() {
    const inst = await insertInstance(await newAccount(), { status: "provisioning" });
    return { inst, op: await insertOperation(inst, "instance.create") };
  }

  async function expectRunningOnFly(fake: FlyFake, instId: string) {
    const after = await instRow(instId);
    expect(after.status).toBe("running");
    const machines = fake.machinesOf(after.appName!);
    expect(machines).toHaveLength(1);
    expect(machines[0]).toMatchObject({ id: after.machineId, state: "started" });
    expect(fake.volumesOf(after.appName!).map((v) => v.id)).toEqual([after.volumeId]);
    // The machine runs with the token stored sealed for this instance.
    const env = (machines[0]!.config as { env: Record<string, string> }).env;
    expect(env.OPENCLAW_GATEWAY_TOKEN).toBe(open(after.gatewayTokenEnc!));
    expect(after.gatewayTokenEnc).not.toContain(env.OPENCLAW_GATEWAY_TOKEN!);
    return after;
  }

  it("on Inngest: create provisions app, volume and machine on Fly and ends running", async () => {
    const { fake, provider } = fly();
    const { inst, op } = await createOp();
    const run = await runOnInngest(makeRunOperation(testDeps(provider).deps), requestedEvent(op));
    expect(run.error).toBeUndefined();
    expect(run.result).toEqual({ status: "succeeded" });
    const after = await expectRunningOnFly(fake, inst.id);
    expect(fake.state.apps.has(after.appName!)).toBe(true);
    expect(fake.state.certificates.map((c) => c.hostname)).toEqual([`${inst.subdomain}.myopenclaw.app`]);
    expect(await opRow(op.id)).toMatchObject({ status: "succeeded" });
    expect(fake.requestsTo("healthz").length).toBeGreaterThanOrEqual(1);
  });

  it("on the LocalRunner: a 5xx from Fly is retried, and the retry makes no second app, volume or machine", async () => {
    const { fake, provider } = fly();
    fake.inject("createMachine", { kind: "status", status: 503 });
    const { inst, op } = await createOp();
    const { runner, sleeps } = instantRunner([makeRunOperation(testDeps(provider).deps)]);
    await runner.send(requestedEvent(op));
    await runner.idle();
    expect(runner.runs()[0]).toMatchObject({ status: "succeeded" });
    expect(fake.requestsTo("createMachine")).toHaveLength(2);
    expect(fake.requestsTo("createApp")).toHaveLength(1);
    expect(fake.requestsTo("createVolume")).toHaveLength(1);
    expect(sleeps).toEqual([1000]);
    await expectRunningOnFly(fake, inst.id);
    expect(await opRow(op.id)).toMatchObject({ status: "succeeded", error: null });
  });

  it("a capacity error is retryable: on Inngest the step fails without NonRetriableError, and the LocalRunner retries it to success", async () => {
    // On Inngest's engine: the failed step is one Inngest would retry.
    {
      const { fake, provider } = fly();
      fake.inject("createMachine", { kind: "capacity", variant: "volume_host" });
      const { inst, op } = await createOp();
      const run = await runOnInngest(makeRunOperation(testDeps(provider).deps), requestedEvent(op));
      expect(run.error?.name).not.toBe("NonRetriableError");
      expect(run.error?.message).toMatch(/^\[fly_capacity\] .*insufficient resources/);
      expect((await opRow(op.id)).status).toBe("running");
      expect((await instRow(inst.id)).status).toBe("provisioning");
    }
    // On the LocalRunner: retried until Fly has room.
    {
      const { fake, provider } = fly();
      fake.inject("createMachine", { kind: "capacity", variant: "memory" }, 2);
      const { inst, op } = await createOp();
      const { runner, sleeps } = instantRunner([makeRunOperation(testDeps(provider).deps)]);
      await runner.send(requestedEvent(op));
      await runner.idle();
      expect(runner.runs()[0]).toMatchObject({ status: "succeeded" });
      expect(fake.requestsTo("createMachine")).toHaveLength(3);
      expect(sleeps).toEqual([1000, 2000]);
      await expectRunningOnFly(fake, inst.id);
    }
  });

  it("a 429 from Fly is retried no sooner than its Retry-After", async () => {
    const { fake, provider } = fly();
    fake.inject("createMachine", { kind: "rate_limit", retryAfterSeconds: 30 });
    const { inst, op } = await createOp();
    const { runner, sleeps } = instantRunner([makeRunOperation(testDeps(provider).deps)]);
    await runner.send(requestedEvent(op));
    await runner.idle();
    expect(runner.runs()[0]).toMatchObject({ status: "succeeded" });
    expect(fake.requestsTo("createMachine")).toHaveLength(2);
    await expectRunningOnFly(fake, inst.id);
    // Fly said to come back in 30 s: the retry waited that long, not the default backoff (1 s here).
    expect(sleeps).toHaveLength(1);
    expect(sleeps[0]).toBeGreaterThanOrEqual(30_000);
  });

  it("deleting an instance whose create failed half-way removes the app and volume the create left on Fly", async () => {
    const { fake, provider } = fly();
    // Fly refuses the machine for good after app, IPs, volume and certificate were made.
    fake.inject("createMachine", { kind: "status", status: 422, body: { error: "invalid machine config" } });
    const { inst, op } = await createOp();
    const deps = testDeps(provider).deps;
    const create = instantRunner([makeRunOperation(deps)]);
    await create.runner.send(requestedEvent(op));
    await create.runner.idle();
    expect(await opRow(op.id)).toMatchObject({ status: "failed", error: { code: "fly_rejected" } });
    const failed = await instRow(inst.id);
    expect(failed).toMatchObject({ status: "failed", machineId: null });
    const { instanceAppName } = await import("@/lib/compute/naming");
    const app = instanceAppName(inst.id);
    expect(fake.state.apps.has(app)).toBe(true);
    expect(fake.volumesOf(app)).toHaveLength(1);

    const del = await insertOperation(failed, "instance.delete");
    const removal = instantRunner([makeRunOperation(deps)]);
    await removal.runner.send(requestedEvent(del));
    await removal.runner.idle();
    expect(await opRow(del.id)).toMatchObject({ status: "succeeded" });
    expect((await instRow(inst.id)).deletedAt).toBeInstanceOf(Date);
    // Nothing of the instance is left on Fly (a volume is billed, and the app holds its name).
    expect(fake.volumesOf(app)).toEqual([]);
    expect(fake.state.apps.has(app)).toBe(false);
    expect(fake.state.certificates.filter((c) => c.app === app)).toEqual([]);
  });

  it("a permanent Fly error (app name held by another org) fails the create with its code", async () => {
    const { fake, provider } = fly();
    const { inst, op } = await createOp();
    const { instanceAppName } = await import("@/lib/compute/naming");
    fake.addForeignApp(instanceAppName(inst.id));
    const { runner, sleeps } = instantRunner([makeRunOperation(testDeps(provider).deps)]);
    await runner.send(requestedEvent(op));
    await runner.idle();
    expect(runner.runs()[0]).toMatchObject({ status: "failed", error: { name: "NonRetriableError" } });
    expect(sleeps).toEqual([]);
    expect(await opRow(op.id)).toMatchObject({ status: "failed", error: { code: "fly_app_name_taken" } });
    expect((await instRow(inst.id)).status).toBe("failed");
    expect(fake.requestsTo("createMachine")).toHaveLength(0);
  });
});
