import { appliedConfig } from "@/lib/services/instance-config";
import { permanent, sentence, type OperationSteps } from "./kit";

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
  const ref = run.machine();
  return run.verifiedChange(ref, {
    apply: () => run.applyDocuments("apply-config", ref, (db) => run.documents(db)),
    // Put the previous configuration back, so the instance runs what its GET shows.
    restore: () => run.applyDocuments("roll-back-config", ref, async (db) => (await appliedConfig(db, run.op.instanceId)).documents),
    rolledBack: (reason) => ({
      ok: false,
      code: reason.code,
      message: `${sentence(reason.message)} The new configuration was not applied; the previous one is still in place.`,
      rolledBack: true,
    }),
    restoreFailed: (reason, r) => permanent(reason.code, `${sentence(reason.message)} Restoring the previous configuration failed too: ${r.message}`),
  });
};
