import { describe, expect, it } from "vitest";
import { STEPS } from "@/inngest/functions/operations";
import { MACHINE_STATES } from "@/lib/compute/types";
import {
  canBegin,
  INSTANCE_STATUSES,
  OPERATIONS,
  OPERATION_TYPES,
  recordsPrevious,
  refusal,
  RESTING,
  settlesAs,
  statusForMachine,
  type InstanceStatus,
} from "@/lib/operations/lifecycle";

// The lifecycle table (lib/operations/lifecycle.ts): its rows are consistent,
// each has a step function, and the answers services and the reconciler read
// from it are the ones the API promises.

describe("the lifecycle table", () => {
  it("has a step function for every operation type, and none for a type it lacks", () => {
    expect(Object.keys(STEPS).sort()).toEqual([...OPERATION_TYPES].sort());
    for (const type of OPERATION_TYPES) expect(typeof STEPS[type], type).toBe("function");
  });

  it("names only statuses the API knows, and an in-between status for each operation that no other begins from", () => {
    for (const [type, rule] of Object.entries(OPERATIONS)) {
      for (const s of [...rule.from, rule.during]) expect(INSTANCE_STATUSES, `${type}: ${s}`).toContain(s);
      for (const s of [rule.onSuccess, rule.onFailure]) expect([...INSTANCE_STATUSES, "previous", "deleted"], `${type}: ${s}`).toContain(s);
      // While it runs, no other operation but delete may begin (the one-per-instance rule says so too).
      const others = OPERATION_TYPES.filter((t) => t !== type && t !== "instance.delete");
      expect(others.filter((t) => canBegin(t, rule.during)), `${type} during ${rule.during}`).toEqual([]);
    }
  });

  it("lets each request begin only where it makes sense (DESIGN 3.7)", () => {
    const from = (type: keyof typeof OPERATIONS) => INSTANCE_STATUSES.filter((s) => canBegin(type, s));
    expect(from("instance.start")).toEqual(["stopped", "failed"]);
    expect(from("instance.stop")).toEqual(["running", "failed"]);
    expect(from("instance.restart")).toEqual(["running", "failed"]);
    expect(from("instance.configure")).toEqual(["running", "stopped"]);
    expect(from("instance.upgrade")).toEqual(["running", "stopped"]);
    // A backup and a restore also help an instance that failed (its volume is still there).
    expect(from("instance.backup")).toEqual(["running", "stopped", "failed"]);
    expect(from("instance.restore")).toEqual(["running", "stopped", "failed"]);
    expect(from("instance.delete")).toEqual(INSTANCE_STATUSES.filter((s) => s !== "deleting"));
    expect(from("instance.create")).toEqual([]);
    expect(refusal("instance.start", "running")).toBe("Cannot start an instance that is running. That is possible while it is stopped or failed.");
  });

  it("settles the instance as each row says, and failed when a run fails for good", () => {
    expect(settlesAs("instance.create", "succeeded", null)).toBe("running");
    expect(settlesAs("instance.stop", "succeeded", null)).toBe("stopped");
    expect(settlesAs("instance.delete", "succeeded", null)).toBe("deleted");
    expect(settlesAs("instance.configure", "succeeded", "stopped")).toBe("stopped");
    expect(settlesAs("instance.configure", "rolled_back", "stopped")).toBe("stopped");
    expect(settlesAs("instance.configure", "succeeded", null)).toBe("running");
    // A backup leaves the instance as it was; a restore ends running, and one rolled back leaves it as it was.
    expect(settlesAs("instance.backup", "succeeded", "stopped")).toBe("stopped");
    expect(settlesAs("instance.backup", "rolled_back", "failed")).toBe("failed");
    expect(settlesAs("instance.restore", "succeeded", "stopped")).toBe("running");
    expect(settlesAs("instance.restore", "rolled_back", "stopped")).toBe("stopped");
    for (const type of OPERATION_TYPES) expect(settlesAs(type, "failed", "running"), type).toBe("failed");
    expect(settlesAs("instance.upgrade", "rolled_back", "stopped")).toBe("stopped");
    expect(settlesAs("instance.upgrade", "succeeded", "running")).toBe("running");
    expect(OPERATION_TYPES.filter(recordsPrevious)).toEqual(["instance.configure", "instance.upgrade", "instance.backup", "instance.restore"]);
  });

  it("maps every machine state a resting instance can observe", () => {
    const moves: Record<string, InstanceStatus | null> = {};
    for (const current of RESTING) {
      for (const state of [...MACHINE_STATES, null]) moves[`${current} ${state}`] = statusForMachine(current, state);
    }
    expect(Object.fromEntries(Object.entries(moves).filter(([, to]) => to !== null))).toEqual({
      "running stopped": "stopped",
      "running suspended": "stopped",
      "running destroyed": "failed",
      "running failed": "failed",
      "running null": "failed",
      "stopped started": "running",
      "stopped destroyed": "failed",
      "stopped failed": "failed",
      "stopped null": "failed",
    });
  });
});
