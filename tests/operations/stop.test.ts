import { beforeAll, describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import { makeRunOperation } from "@/inngest/functions/run-operation";
import {
  instRow,
  lifecycleSetup,
  opRow,
  outboxFor,
  recording,
  requestedEvent,
  runOnInngest,
  testDeps,
} from "../support/operation-harness";

// instance.stop (inngest/functions/operations/stop.ts): the machine is
// stopped; the instance settles stopped.

// Opening the file's database (PGlite from the migrated template) takes seconds: not inside the first test's time limit.
beforeAll(async () => {
  await getDb();
}, 60_000);

describe("instance.stop", () => {
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
});
