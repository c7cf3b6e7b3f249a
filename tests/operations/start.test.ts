import { describe, expect, it } from "vitest";
import {
  instRow,
  lifecycleRun,
  openDatabaseFirst,
  opRow,
} from "../support/operation-harness";

// instance.start (inngest/functions/operations/start.ts): a stopped machine is
// started and checked healthy; the instance settles running.

openDatabaseFirst();

describe("instance.start", () => {
  it("start: a stopped machine is started and checked healthy; the instance settles running", async () => {
    const { p, ref, inst, op, rec, run } = await lifecycleRun("instance.start", "stopped", "starting");
    expect(run.error).toBeUndefined();
    expect(await p.local.getState(ref)).toBe("started");
    expect(await opRow(op.id)).toMatchObject({ status: "succeeded" });
    expect((await instRow(inst.id)).status).toBe("running");
    expect(rec.calls.map((c) => c.method)).toEqual(["start", "waitForState", "checkHealth"]);
  });
});
