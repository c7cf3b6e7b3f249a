import type { MachineRef } from "@/lib/compute/types";
import { errorMessage, log } from "@/lib/log";
import { planRetentionDays, recordRestoredVolume } from "@/lib/services/backup-records";
import { loadOperation } from "@/lib/services/operation-progress";
import { callCompute, parseOperationError, permanent, sentence, type OperationSteps } from "./kit";

/**
 * instance.restore: a new volume from the backup's snapshot, in the instance's
 * region; the machine moved onto it (which starts it) and checked healthy;
 * only then the instance recorded on the new volume and the old one destroyed.
 *
 * If a step fails before that, the machine is moved back onto its old volume
 * and started (and stopped again if it was stopped), the new volume is
 * destroyed, and the operation fails with `restore_failed` and the reason: the
 * instance settles as it was (`onFailure: "previous"`). If moving back fails
 * too, the run fails and the instance is marked failed.
 */
export const restore: OperationSteps = async (run) => {
  const { op, deps, compute, step } = run;
  const ref = run.machine();
  const oldVolume = ref.volumeId;
  if (!oldVolume) throw permanent("instance_not_provisioned", "The instance has no volume (its creation did not finish).");
  const { snapshotId, retentionDays } = await step.run("read-backup", async () => {
    const db = await deps.db();
    const l = await loadOperation(db, op.id);
    const snapshot = l?.op.input?.snapshot_id;
    if (typeof snapshot !== "string") throw permanent("restore_failed", "The operation names no snapshot to restore.");
    return { snapshotId: snapshot, retentionDays: await planRetentionDays(db, op.instanceId) };
  });

  let newVolume: string | null = null;
  let moved = false;
  try {
    newVolume = await step.run("restore-volume", async () => {
      await run.stillOpen(await deps.db());
      return callCompute(() => compute.restoreVolume(ref, { snapshotId, tag: op.id, backupRetentionDays: retentionDays }));
    });
    // From here the machine may have changed, even if the step fails half-way.
    moved = true;
    const restored: MachineRef = { ...ref, volumeId: newVolume };
    await step.run("mount-restored-volume", () => callCompute(() => compute.mountVolume(ref, restored.volumeId!)));
    await run.healthy(restored);
  } catch (err) {
    const reason = parseOperationError(err as Error);
    try {
      if (moved) {
        await step.run("mount-old-volume", () => callCompute(() => compute.mountVolume(ref, oldVolume)));
      }
      if (newVolume) await step.run("destroy-restored-volume", () => callCompute(() => compute.destroyVolume(ref, newVolume!)));
      if (moved && op.previousStatus !== "failed") await run.healthy(ref, "-after-roll-back");
      if (moved && op.previousStatus === "stopped") {
        await step.run("stop-after-roll-back", () => callCompute(() => compute.stop(ref)));
        await run.waitFor(ref, "stopped", "-after-roll-back");
      }
    } catch (rollbackErr) {
      const r = parseOperationError(rollbackErr as Error);
      throw permanent("restore_failed", `${sentence(reason.message)} Moving the instance back onto its previous volume failed too: ${r.message}`);
    }
    return {
      ok: false,
      code: "restore_failed",
      message: `The restore failed (${reason.code}): ${sentence(reason.message)} The instance is back on its previous volume, as it was; nothing of the restore was kept.`,
      rolledBack: true,
    };
  }

  // Healthy on the restored data: the instance lives on the new volume from now on.
  await step.run("record-volume", async () => recordRestoredVolume(await deps.db(), op.instanceId, newVolume, retentionDays));
  try {
    await step.run("destroy-old-volume", () => callCompute(() => compute.destroyVolume({ ...ref, volumeId: newVolume }, oldVolume)));
  } catch (err) {
    // The restore itself is done and healthy: a volume left over is the operator's to remove, not a failed instance.
    log.warn("restore: the previous volume could not be destroyed", { operation_id: op.id, volume_id: oldVolume, error: errorMessage(err) });
  }
};
