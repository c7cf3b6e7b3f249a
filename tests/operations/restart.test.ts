import { describe, expect, it } from "vitest";
import {
  instRow,
  lifecycleRun,
  openDatabaseFirst,
  opRow,
} from "../support/operation-harness";

// instance.restart (inngest/functions/operations/restart.ts): the machine goes
// down and up again and is checked healthy; the instance settles running.

openDatabaseFirst();

describe("instance.restart", () => {
  it("restart: the machine goes down and up again; the instance settles running", async () => {
    const seen: string[] = [];
    const { p, ref, inst, op, run } = await lifecycleRun("instance.restart", "started", "restarting", async (call, machine) => {
      if (call.method === "waitForState") seen.push((await machine.p.local.getState(machine.ref))!);
    });
    expect(run.error).toBeUndefined();
    // Right after the restart call the machine was on its way down, not still running.
    expect(seen).toEqual(["stopping"]);
    expect(await p.local.getState(ref)).toBe("started");
    expect(await opRow(op.id)).toMatchObject({ status: "succeeded" });
    expect((await instRow(inst.id)).status).toBe("running");
  });
});
