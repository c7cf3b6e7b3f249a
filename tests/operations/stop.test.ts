import { describe, expect, it } from "vitest";
import {
  instRow,
  lifecycleRun,
  openDatabaseFirst,
  opRow,
  outboxFor,
} from "../support/operation-harness";

// instance.stop (inngest/functions/operations/stop.ts): the machine is
// stopped; the instance settles stopped.

openDatabaseFirst();

describe("instance.stop", () => {
  it("stop: the machine is stopped and the instance settles stopped", async () => {
    const { p, ref, inst, op, rec, run } = await lifecycleRun("instance.stop", "started", "stopping");
    expect(run.error).toBeUndefined();
    expect(run.result).toEqual({ status: "succeeded" });
    expect(await p.local.getState(ref)).toBe("stopped");
    expect(await opRow(op.id)).toMatchObject({ status: "succeeded", error: null });
    expect(await instRow(inst.id)).toMatchObject({ status: "stopped", machineId: ref.machineId, deletedAt: null });
    expect((await outboxFor(op)).map((m) => m.eventType)).toEqual(["operation.succeeded"]);
    expect(rec.calls.map((c) => c.method)).toEqual(["stop", "waitForState"]);
  });
});
