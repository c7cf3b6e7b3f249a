import { describe, expect, it } from "vitest";
import { createRuntime, processRuntime } from "@/inngest/runtime";
import { config } from "@/lib/config";
import { installedDeps } from "@/lib/deps";
import { operationRequested } from "@/lib/jobs/events";

// The composition root (inngest/runtime.ts): which runtime carries out the
// durable functions, and what it hands to the functions and the request wrapper.

describe("the composition root", () => {
  it("runs the functions in this process in embedded mode, and is one runtime per process", async () => {
    const rt = processRuntime();
    expect(rt.kind).toBe("local"); // tests/setup.ts: embedded defaults
    expect(rt.runner).not.toBeNull();
    expect(processRuntime()).toBe(rt);
    // Its deps are the ones the request wrapper hands to services.
    expect(installedDeps()).toBe(rt.deps);
    // One compute provider: the machines a create made are the ones a later step sees.
    expect(rt.deps.compute()).toBe(rt.deps.compute());
    expect(rt.deps.compute().kind).toBe("local");
  });

  it("hands every function the same deps, and sends to its own runner", async () => {
    const rt = createRuntime(config(), { now: () => new Date(Date.UTC(2030, 0, 1)) });
    expect(rt.functions.map((f) => f.id).sort()).toEqual([
      "deliver-webhook",
      "dispatch-webhooks",
      "observe-batch",
      "observe-instances",
      "reconcile",
      "run-operation",
      "run-rollout",
      "schedule-backup-sync",
      "sync-instance-backups",
    ]);
    expect(rt.deps.now().toISOString()).toBe("2030-01-01T00:00:00.000Z");
    await rt.deps.send([]); // nothing to send: no run
    // An operation event for an operation that does not exist: the run finds nothing to do, on this runtime's runner.
    await rt.deps.send([{ name: operationRequested.name, data: { operation_id: "op_missing", instance_id: "inst_x", account_id: "usr_x", type: "instance.start" } }]);
    await rt.runner!.idle();
    expect(rt.runner!.runs()).toEqual([expect.objectContaining({ functionId: "run-operation", status: "succeeded", output: { skipped: "already finished" } })]);
    expect(processRuntime().runner!.runs()).toEqual([]);
  });

  it("has no runner of its own when Inngest runs the functions", () => {
    const rt = createRuntime({ ...config(), jobs: { kind: "inngest", eventKey: "evt", signingKey: undefined, dev: false, baseUrl: undefined } });
    expect(rt.kind).toBe("inngest");
    expect(rt.runner).toBeNull();
    expect(rt.functions.map((f) => f.id)).toContain("run-rollout");
    expect(rt.functions).toHaveLength(9);
  });
});
