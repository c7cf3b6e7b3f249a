import { eq } from "drizzle-orm";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import { instance } from "@/db/schema";
import { createRuntime, type Runtime } from "@/inngest/runtime";
import { config } from "@/lib/config";
import { seal } from "@/lib/crypto";
import {
  insertInstance,
  insertOperation,
  instRow,
  newAccount,
  opRow,
  outboxFor,
  until,
  type OperationRow,
} from "../support/operation-harness";

// Embedded start-up (Runtime.start, inngest/runtime.ts): operations a previous
// process left pending or running (it died mid-way) are picked up by this
// process's LocalRunner and finished. The "dead process" is simulated by rows inserted
// as it would have left them; the machines live on the runtime's provider
// (in a real embedded install they outlive the process in machines.json).

const GATEWAY_TOKEN = "gw-token-left-by-the-dead-process-0123";

// Opening the file's database (PGlite from the migrated template) takes seconds: not inside the first test's time limit.
beforeAll(async () => {
  await getDb();
}, 60_000);

/** This test's runtime, as start-up builds it: the local runner, the local provider. */
let rt: Runtime;

beforeEach(async () => {
  expect(config().jobs.kind).toBe("local");
  expect(config().compute.kind).toBe("local");
  rt = createRuntime();
});

afterEach(async () => {
  // Let what the runner started finish before it is forgotten, so no run outlives its test.
  rt.stop();
  await rt.runner!.idle();
});

/** Waits until the operation has finished (succeeded or failed), as a client polling it would. */
function finished(op: OperationRow) {
  return until(`operation ${op.id} (${op.type}) to finish`, async () => {
    const row = await opRow(op.id);
    return row.status === "succeeded" || row.status === "failed" ? row : undefined;
  });
}

/** A machine on the process's provider, as a finished create left it. */
async function machineFor(instanceId: string) {
  const ref = await rt.deps.compute().provision({ instanceId, subdomain: "x", region: "iad", gatewayToken: GATEWAY_TOKEN, config: null });
  return ref;
}

describe("embedded start-up resumes unfinished operations", () => {
  it("finishes a create left running before provisioning, one left running after it, and a stop left pending", async () => {
    const accountId = await newAccount();

    // 1. Died right after marking the create running: no machine, no token yet.
    const fresh = await insertInstance(accountId, { status: "provisioning" });
    const freshOp = await insertOperation(fresh, "instance.create", { status: "running" });

    // 2. Died after provisioning (machine recorded, token sealed), before finishing.
    const half = await insertInstance(accountId, { status: "provisioning", gatewayTokenEnc: seal(GATEWAY_TOKEN) });
    const halfRef = await machineFor(half.id);
    const db = await getDb();
    await db.update(instance).set({ appName: halfRef.appName, machineId: halfRef.machineId, volumeId: halfRef.volumeId }).where(eq(instance.id, half.id));
    const halfOp = await insertOperation(half, "instance.create", { status: "running" });

    // 3. A stop recorded by the API, whose event died with the process.
    const stopping = await insertInstance(accountId, { status: "provisioning" });
    const stoppingRef = await machineFor(stopping.id);
    await db
      .update(instance)
      .set({ status: "stopping", appName: stoppingRef.appName, machineId: stoppingRef.machineId, volumeId: stoppingRef.volumeId, gatewayTokenEnc: seal(GATEWAY_TOKEN) })
      .where(eq(instance.id, stopping.id));
    const stopOp = await insertOperation(stopping, "instance.stop");

    // 4. Finished long ago: not touched.
    const done = await insertInstance(accountId, { status: "running" });
    const doneOp = await insertOperation(done, "instance.create", { status: "succeeded" });

    await rt.start();

    expect(await finished(freshOp)).toMatchObject({ status: "succeeded", error: null });
    expect(await finished(halfOp)).toMatchObject({ status: "succeeded", error: null });
    expect(await finished(stopOp)).toMatchObject({ status: "succeeded", error: null });

    const freshAfter = await instRow(fresh.id);
    expect(freshAfter.status).toBe("running");
    expect(freshAfter.machineId).toMatch(/^[0-9a-f]{14}$/);
    expect(freshAfter.gatewayTokenEnc).toMatch(/^v1\./);
    expect(await rt.deps.compute().getState({ appName: freshAfter.appName!, machineId: freshAfter.machineId!, volumeId: freshAfter.volumeId, region: "iad" })).toBe("started");

    // The half-done create kept its machine: provisioning again found it instead of making a second.
    expect(await instRow(half.id)).toMatchObject({ status: "running", machineId: halfRef.machineId, volumeId: halfRef.volumeId });
    expect(await rt.deps.compute().getState(halfRef)).toBe("started");

    expect((await instRow(stopping.id)).status).toBe("stopped");
    expect(await rt.deps.compute().getState(stoppingRef)).toBe("stopped");

    for (const op of [freshOp, halfOp, stopOp]) expect((await outboxFor(op)).map((m) => m.eventType)).toEqual(["operation.succeeded"]);

    // Only the unfinished ones were run.
    const runs = rt.runner!.runs().filter((r) => r.functionId === "run-operation");
    const ran = runs.map((r) => (r.event.data as { operation_id: string }).operation_id);
    expect(ran).toEqual(expect.arrayContaining([freshOp.id, halfOp.id, stopOp.id]));
    expect(ran).not.toContain(doneOp.id);
    expect(await opRow(doneOp.id)).toEqual(doneOp);
    expect((await instRow(done.id)).status).toBe("running");
  });

  it("fails, with a clear error, an operation whose machine did not survive", async () => {
    const accountId = await newAccount();
    const gone = await insertInstance(accountId, {
      status: "stopping",
      ref: { appName: "moc-vanished", machineId: "0000000000dead", volumeId: "vol_0000000000000000", region: "iad" },
      gatewayTokenEnc: seal(GATEWAY_TOKEN),
    });
    const op = await insertOperation(gone, "instance.stop", { status: "running" });

    await rt.start();

    const row = await finished(op);
    expect(row).toMatchObject({ status: "failed", error: { code: "local_machine_not_found", message: expect.stringContaining("0000000000dead") } });
    expect((await instRow(gone.id)).status).toBe("failed");
    expect((await outboxFor(op)).map((m) => m.eventType)).toEqual(["operation.failed"]);
  });

  it("runs each left-over operation once, even when start-up work is started twice", async () => {
    const accountId = await newAccount();
    const inst = await insertInstance(accountId, { status: "provisioning" });
    const op = await insertOperation(inst, "instance.create");

    await Promise.all([rt.start(), rt.start()]);
    expect(await finished(op)).toMatchObject({ status: "succeeded" });
    await rt.runner!.idle();

    const runs = rt.runner!
      .runs()
      .filter((r) => r.functionId === "run-operation" && (r.event.data as { operation_id: string }).operation_id === op.id);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ status: "succeeded", output: { status: "succeeded" } });
    expect(await outboxFor(op)).toHaveLength(1);
  });
});
