import { beforeAll, describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import { makeRunOperation } from "@/inngest/functions/run-operation";
import {
  instRow,
  lifecycleSetup,
  opRow,
  recording,
  requestedEvent,
  runOnInngest,
  testDeps,
} from "../support/operation-harness";

// instance.start (inngest/functions/operations/start.ts): a stopped machine is
// started and checked healthy; the instance settles running.

// Opening the file's database (PGlite from the migrated template) takes seconds: not inside the first test's time limit.
beforeAll(async () => {
  await getDb();
}, 60_000);

describe("instance.start", () => {
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
});
