import { describe, expect, it } from "vitest";
import { makeRunOperation } from "@/inngest/functions/run-operation";
import { ComputeError } from "@/lib/compute/types";
import {
  insertInstance,
  insertOperation,
  instantRunner,
  instRow,
  lifecycleSetup,
  localProvider,
  newAccount,
  openDatabaseFirst,
  opRow,
  outboxFor,
  recording,
  requestedEvent,
  runFailureHandlerOnInngest,
  runOnInngest,
  testDeps,
} from "../support/operation-harness";

// run-operation (inngest/functions/run-operation.ts), the dispatcher every
// operation type runs through, on Inngest's own execution engine
// (@inngest/test) and, where retries or the failure handler matter, on the
// LocalRunner, against real PGlite rows: what a failing provider, a retry
// budget, a failing announce and a duplicate event leave behind. Each type's
// own steps are tested in its file beside this one (create, start, stop,
// restart, delete; configure in tests/config).

openDatabaseFirst();

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
