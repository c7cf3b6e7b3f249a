import { appliedConfig } from "@/lib/services/instance-config";
import { callCompute, parseOperationError, permanent, sentence, type OperationSteps } from "./kit";

/**
 * instance.configure: writes the operation's config documents to the machine
 * (which restarts it, and starts a stopped one), waits for its assistant to
 * answer healthy, and stops a stopped instance again. If that fails, the
 * previous configuration is put back the same way and the operation fails
 * with the reason, the instance settling as it was (the lifecycle row's
 * `onFailure: "previous"`); if putting it back fails too, the run fails and
 * the instance is marked failed.
 */
export const configure: OperationSteps = async (run) => {
  const { op, compute } = run;
  const ref = run.machine();
  const stopAfter = op.previousStatus === "stopped";
  let applied = false;
  try {
    await run.applyDocuments("apply-config", ref, (db) => run.documents(db));
    applied = true;
    await run.waitFor(ref, "started");
    await run.healthy(ref);
    if (stopAfter) {
      await run.step.run("stop", () => callCompute(() => compute.stop(ref)));
      await run.waitFor(ref, "stopped");
    }
    return { ok: true };
  } catch (err) {
    const reason = parseOperationError(err as Error);
    // Refused for good by the provider before the machine changed: nothing to undo.
    const untouched = !applied && (err as Error).name === "NonRetriableError";
    try {
      if (!untouched) {
        // Put the previous configuration back, so the instance runs what its GET shows.
        await run.applyDocuments("roll-back-config", ref, async (db) => (await appliedConfig(db, op.instanceId)).documents);
        await run.waitFor(ref, "started", "-after-roll-back");
        await run.healthy(ref, "-after-roll-back");
        if (stopAfter) {
          await run.step.run("stop-after-roll-back", () => callCompute(() => compute.stop(ref)));
          await run.waitFor(ref, "stopped", "-after-roll-back");
        }
      }
    } catch (rollbackErr) {
      const r = parseOperationError(rollbackErr as Error);
      throw permanent(reason.code, `${sentence(reason.message)} Restoring the previous configuration failed too: ${r.message}`);
    }
    return {
      ok: false,
      code: reason.code,
      message: `${sentence(reason.message)} The new configuration was not applied; the previous one is still in place.`,
      rolledBack: true,
    };
  }
};
