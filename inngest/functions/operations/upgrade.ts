import { loadOperation } from "@/lib/services/operation-progress";
import { upgradeOf } from "@/lib/services/versions";
import { permanent, sentence, type OperationSteps } from "./kit";

/**
 * instance.upgrade: moves the machine to the image of the operation's target
 * version (which restarts it, and starts a stopped one), waits for it to start
 * and its assistant to answer healthy within the health checks' deadline, and
 * stops a stopped instance again. If the new image does not get there, the
 * previous image is put back the same way and the operation fails with
 * `upgrade_rolled_back` and the reason: the instance keeps its version and
 * settles as it was. The instance's `version` changes only when the upgrade
 * succeeds (finishOperation). If putting the previous image back fails too,
 * the run fails and the instance is marked failed.
 */
export const upgrade: OperationSteps = async (run) => {
  const ref = run.machine();
  const u = await run.step.run("versions", async () => {
    const db = await run.deps.db();
    const l = await loadOperation(db, run.op.id);
    if (!l) throw permanent("operation_missing", `Operation ${run.op.id} no longer exists.`);
    return upgradeOf(db, l.op);
  });
  // Versions are never deleted, so only a hand-made operation gets here; the machine is left alone.
  if (!u) return { ok: false, code: "unsupported_version", message: `Operation ${run.op.id} does not name two offered versions.`, rolledBack: true };
  return run.verifiedChange(ref, {
    apply: () => run.change("change-image", (compute) => compute.changeImage(ref, u.to.image)),
    restore: () => run.change("roll-back-image", (compute) => compute.changeImage(ref, u.from.image)),
    rolledBack: (reason, restored) =>
      restored
        ? {
            ok: false,
            code: "upgrade_rolled_back",
            message:
              `OpenClaw ${u.to.version} (${u.to.image}) did not come up: ${sentence(reason.message)} ` +
              `The instance was put back on ${u.from.version} and runs it again.`,
            rolledBack: true,
          }
        : // Refused before the machine changed: nothing was rolled back, and the provider's code says why.
          { ok: false, code: reason.code, message: `${sentence(reason.message)} The instance still runs ${u.from.version}.`, rolledBack: true },
    restoreFailed: (reason, r) =>
      permanent(
        "upgrade_failed",
        `OpenClaw ${u.to.version} did not come up: ${sentence(reason.message)} Putting ${u.from.version} back failed too: ${r.message}`,
      ),
  });
};
