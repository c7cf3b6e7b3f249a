import { failBackup, recordBackupTaken, settleBackup } from "@/lib/services/backup-records";
import { callCompute, parseOperationError, permanent, sentence, type OperationSteps } from "./kit";

/** Looks at a snapshot being made this many times, 5 s apart (Fly snapshots a 1 GB volume in well under that). */
const SNAPSHOT_CHECKS = 60;

/**
 * instance.backup: an on-demand snapshot of the instance's volume, recorded as
 * an `on_demand` backup while it is made and settled `ready` (the instance's
 * `last_backup_at`) or `failed`. The machine is never touched, so any failure
 * leaves the instance as it was (the lifecycle row's `onFailure: "previous"`).
 */
export const backup: OperationSteps = async (run) => {
  const { op, deps, compute, step } = run;
  const ref = run.machine();
  const volumeId = ref.volumeId;
  if (!volumeId) throw permanent("instance_not_provisioned", "The instance has no volume to back up (its creation did not finish).");
  let backupId: string | null = null;
  try {
    // The snapshots there before: one that appears beside them is this operation's (see createSnapshot).
    const known = await step.run("list-snapshots", async () => ((await callCompute(() => compute.listSnapshots(ref, volumeId))) ?? []).map((s) => s.id));
    const taken = await step.run("snapshot", async () => {
      const db = await deps.db();
      await run.stillOpen(db);
      const { id } = await callCompute(() => compute.createSnapshot(ref, volumeId, known));
      return recordBackupTaken(db, { operationId: op.id, instanceId: op.instanceId, volumeId, snapshotId: id, at: deps.now() });
    });
    backupId = taken.id;
    for (let i = 0; i < SNAPSHOT_CHECKS; i++) {
      const status = await step.run(`check-snapshot-${i}`, async () => {
        const list = (await callCompute(() => compute.listSnapshots(ref, volumeId))) ?? [];
        const snap = taken.snapshotId ? list.find((s) => s.id === taken.snapshotId) : list.find((s) => !known.includes(s.id));
        if (!snap) return "creating";
        await settleBackup(await deps.db(), taken.id, snap);
        return snap.status;
      });
      if (status === "ready") return { ok: true };
      if (status === "failed") {
        return { ok: false, code: "backup_failed", message: "The provider could not take the snapshot. Nothing else changed; try again.", rolledBack: true };
      }
      if (i < SNAPSHOT_CHECKS - 1) await step.sleep(`wait-snapshot-${i}`, "5s");
    }
    return {
      ok: false,
      code: "backup_timeout",
      message: `The snapshot was not complete after ${(SNAPSHOT_CHECKS * 5) / 60} minutes. If it completes later it is listed then; nothing else changed.`,
      rolledBack: true,
    };
  } catch (err) {
    const reason = parseOperationError(err as Error);
    if (backupId) await step.run("mark-failed", async () => failBackup(await deps.db(), backupId!));
    // Only a snapshot was asked for: the instance is as it was, whatever went wrong.
    return {
      ok: false,
      code: "backup_failed",
      message: `The backup failed (${reason.code}): ${sentence(reason.message)} No backup was taken; the instance is as it was.`,
      rolledBack: true,
    };
  }
};
