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

// instance.restart (inngest/functions/operations/restart.ts): the machine goes
// down and up again and is checked healthy; the instance settles running.

// Opening the file's database (PGlite from the migrated template) takes seconds: not inside the first test's time limit.
beforeAll(async () => {
  await getDb();
}, 60_000);

describe("instance.restart", () => {
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
});
