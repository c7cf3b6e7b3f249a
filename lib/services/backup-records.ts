import { and, asc, eq, gt, inArray, isNotNull, isNull, lte, notExists, sql } from "drizzle-orm";
import type { Db, Queryable } from "@/db/client";
import { account, backup, instance, operation } from "@/db/schema";
import { backupExpiry } from "../backups";
import type { ComputeProvider, VolumeSnapshot } from "../compute/types";
import { newId } from "../ids";
import { UNFINISHED } from "../operations/lifecycle";
import { PLANS, type PlanName } from "../plans";
import { machineRef } from "./operation-progress";

/**
 * The backup table kept in step with the provider: what an `instance.backup`
 * records as its snapshot is taken, what a restore records of the volume it
 * made, and the sync that reads each instance's snapshot lists (the daily ones
 * appear there) and sets its volume's retention to its plan's. Each write is
 * one short transaction, safe to repeat; provider calls happen outside them.
 */

const DAY_MS = 86_400_000;

/** The snapshot retention an instance's volume should have: its account's plan's. */
export async function planRetentionDays(db: Queryable, instanceId: string): Promise<number> {
  const [row] = await db
    .select({ plan: account.plan })
    .from(instance)
    .innerJoin(account, eq(account.id, instance.accountId))
    .where(eq(instance.id, instanceId));
  return PLANS[(row?.plan ?? "pro") as PlanName].backupRetentionDays;
}

/**
 * Records the snapshot an `instance.backup` started, once per operation (a
 * retried step finds its row). Answers the row's id and the snapshot's id, null
 * while the provider has not named it.
 */
export async function recordBackupTaken(
  db: Db,
  o: { operationId: string; instanceId: string; volumeId: string; snapshotId: string | null; at: Date },
): Promise<{ id: string; snapshotId: string | null }> {
  return db.transaction(async (tx) => {
    const [inst] = await tx.select({ accountId: instance.accountId }).from(instance).where(eq(instance.id, o.instanceId));
    await tx
      .insert(backup)
      .values({
        id: newId("bkp", o.at.getTime()),
        accountId: inst!.accountId,
        instanceId: o.instanceId,
        volumeId: o.volumeId,
        snapshotId: null,
        kind: "on_demand",
        status: "creating",
        operationId: o.operationId,
        createdAt: o.at,
      })
      .onConflictDoNothing({ target: backup.operationId });
    const [row] = await tx.select().from(backup).where(eq(backup.operationId, o.operationId));
    if (o.snapshotId && !row!.snapshotId) await adoptSnapshot(tx, row!, o.snapshotId);
    return { id: row!.id, snapshotId: o.snapshotId ?? row!.snapshotId };
  });
}

/** Gives an on-demand row its snapshot id; a row the sync made for the same snapshot meanwhile (as `scheduled`) gives way. */
async function adoptSnapshot(tx: Queryable, row: typeof backup.$inferSelect, snapshotId: string): Promise<void> {
  await tx.delete(backup).where(and(eq(backup.instanceId, row.instanceId), eq(backup.snapshotId, snapshotId), eq(backup.kind, "scheduled")));
  await tx.update(backup).set({ snapshotId }).where(eq(backup.id, row.id));
}

/** Brings an on-demand backup's row up to date with its snapshot; once ready, it is the instance's last backup. */
export async function settleBackup(db: Db, backupId: string, snap: VolumeSnapshot): Promise<void> {
  await db.transaction(async (tx) => {
    const [row] = await tx.select().from(backup).where(eq(backup.id, backupId)).for("update");
    if (!row) return;
    if (row.snapshotId !== snap.id) await adoptSnapshot(tx, row, snap.id);
    const createdAt = new Date(snap.createdAt);
    await tx
      .update(backup)
      .set({ status: snap.status, sizeBytes: snap.sizeBytes, createdAt, expiresAt: backupExpiry(createdAt, snap.retentionDays) })
      .where(eq(backup.id, backupId));
    if (snap.status === "ready") await noteLastBackup(tx, row.instanceId);
  });
}

/** Marks an on-demand backup failed (its snapshot failed, or never showed up). */
export async function failBackup(db: Db, backupId: string): Promise<void> {
  await db.update(backup).set({ status: "failed" }).where(and(eq(backup.id, backupId), eq(backup.status, "creating")));
}

/** The instance's last_backup_at: its newest ready backup's time, never moving back (an expired backup was still taken). */
async function noteLastBackup(tx: Queryable, instanceId: string): Promise<void> {
  const newest = tx
    .select({ at: sql`max(${backup.createdAt})` })
    .from(backup)
    .where(and(eq(backup.instanceId, instanceId), eq(backup.status, "ready")));
  await tx
    .update(instance)
    .set({ lastBackupAt: sql`greatest(${instance.lastBackupAt}, (${newest}))` })
    .where(eq(instance.id, instanceId));
}

/** The instance runs on a volume a restore made, whose retention is `retentionDays`. */
export async function recordRestoredVolume(db: Db, instanceId: string, volumeId: string, retentionDays: number): Promise<void> {
  await db.update(instance).set({ volumeId, backupRetentionDays: retentionDays, updatedAt: new Date() }).where(eq(instance.id, instanceId));
}

/**
 * Reconciles the recorded backups of one of the instance's volumes with the
 * provider's snapshots of it: a new snapshot (the daily one) is added as
 * `scheduled`, a known one is updated, and one the provider no longer has
 * (expired, deleted) is removed. A row still `creating` belongs to its
 * backup operation, which settles it; it goes only when a day old.
 */
export async function syncVolumeBackups(
  db: Db,
  inst: { id: string; accountId: string },
  volumeId: string,
  snaps: readonly VolumeSnapshot[],
  now: Date,
): Promise<{ added: number; removed: number }> {
  return db.transaction(async (tx) => {
    const rows = await tx.select().from(backup).where(and(eq(backup.instanceId, inst.id), eq(backup.volumeId, volumeId)));
    const bySnapshot = new Map(rows.filter((r) => r.snapshotId).map((r) => [r.snapshotId!, r]));
    let added = 0;
    for (const snap of snaps) {
      const createdAt = new Date(snap.createdAt);
      const values = { status: snap.status, sizeBytes: snap.sizeBytes, expiresAt: backupExpiry(createdAt, snap.retentionDays) };
      const row = bySnapshot.get(snap.id);
      if (row) {
        if (row.status !== values.status || row.sizeBytes !== values.sizeBytes || row.expiresAt?.getTime() !== values.expiresAt?.getTime()) {
          await tx.update(backup).set(values).where(eq(backup.id, row.id));
        }
        continue;
      }
      // An id made from the snapshot's own time, so the list sorts by when backups were taken.
      const inserted = await tx
        .insert(backup)
        .values({ id: newId("bkp", createdAt.getTime()), accountId: inst.accountId, instanceId: inst.id, volumeId, snapshotId: snap.id, kind: "scheduled", createdAt, ...values })
        .onConflictDoNothing()
        .returning({ id: backup.id });
      added += inserted.length;
    }
    const listed = new Set(snaps.map((s) => s.id));
    const gone = rows.filter((r) => {
      if (r.snapshotId && listed.has(r.snapshotId)) return false;
      if (r.status === "ready") return true;
      if (r.expiresAt && r.expiresAt <= now) return true;
      return now.getTime() - r.createdAt.getTime() > DAY_MS; // a failed or abandoned one, kept a day to be seen
    });
    if (gone.length > 0) await tx.delete(backup).where(inArray(backup.id, gone.map((r) => r.id)));
    await noteLastBackup(tx, inst.id);
    return { added, removed: gone.length };
  });
}

/** Live instances with a volume and no operation running, in id order after `after`: the ones a sync looks at. */
export async function backupSyncTargets(db: Queryable, after: string | null, limit: number, accountId?: string): Promise<string[]> {
  const rows = await db
    .select({ id: instance.id })
    .from(instance)
    .where(
      and(
        isNull(instance.deletedAt),
        isNotNull(instance.volumeId),
        isNotNull(instance.machineId),
        after ? gt(instance.id, after) : undefined,
        accountId ? eq(instance.accountId, accountId) : undefined,
        notExists(
          db
            .select({ one: sql`1` })
            .from(operation)
            .where(and(eq(operation.instanceId, instance.id), inArray(operation.status, UNFINISHED))),
        ),
      ),
    )
    .orderBy(asc(instance.id))
    .limit(limit);
  return rows.map((r) => r.id);
}

export interface BackupSyncResult {
  instance_id: string;
  /** The retention now set on its volume, when this sync changed it. */
  retention_set: number | null;
  added: number;
  removed: number;
}

/**
 * One instance's sync: its volume's snapshot retention set to its plan's when
 * it differs (volumes made before backups existed have none recorded, so the
 * first sync sets theirs: the data migration of existing volumes), then the
 * snapshot list of each of its volumes (the current one, and those it had
 * before a restore whose backups are still kept) recorded. Null for an instance
 * gone or without a volume. Provider errors are thrown (the caller retries).
 */
export async function syncInstanceBackups(db: Db, compute: ComputeProvider, instanceId: string, now: Date): Promise<BackupSyncResult | null> {
  const [row] = await db
    .select({ inst: instance, plan: account.plan })
    .from(instance)
    .innerJoin(account, eq(account.id, instance.accountId))
    .where(and(eq(instance.id, instanceId), isNull(instance.deletedAt)));
  const ref = row && machineRef(row.inst);
  const volumeId = row?.inst.volumeId;
  if (!row || !ref || !volumeId) return null;
  const inst = row.inst;

  let retentionSet: number | null = null;
  const days = PLANS[row.plan].backupRetentionDays;
  if (inst.backupRetentionDays !== days) {
    await compute.setBackupRetention(ref, volumeId, days);
    await db
      .update(instance)
      .set({ backupRetentionDays: days })
      .where(and(eq(instance.id, inst.id), eq(instance.volumeId, volumeId)));
    retentionSet = days;
  }

  const older = await db
    .selectDistinct({ volumeId: backup.volumeId })
    .from(backup)
    .where(and(eq(backup.instanceId, inst.id), isNotNull(backup.snapshotId)));
  let added = 0;
  let removed = 0;
  for (const v of new Set([volumeId, ...older.map((o) => o.volumeId)])) {
    const snaps = await compute.listSnapshots(ref, v);
    // A volume the provider no longer knows: its backups are kept until their own expiry.
    if (snaps === null) continue;
    const r = await syncVolumeBackups(db, inst, v, snaps, now);
    added += r.added;
    removed += r.removed;
  }
  // Whatever the lists said, a backup past its expiry is gone.
  const expired = await db
    .delete(backup)
    .where(and(eq(backup.instanceId, inst.id), lte(backup.expiresAt, now)))
    .returning({ id: backup.id });
  return { instance_id: inst.id, retention_set: retentionSet, added, removed: removed + expired.length };
}

export interface BackupSyncSummary {
  synced: BackupSyncResult[];
  /** Instances the provider could not be asked about, and why; the hourly pass tries them again. */
  failed: { instance_id: string; error: string }[];
}

/**
 * Syncs every instance the hourly pass would (or one account's, or one
 * instance), one after another, at once: what `npm run admin -- sync-backups`
 * and a plan change run.
 */
export async function syncBackupsNow(
  db: Db,
  compute: ComputeProvider,
  filter: { accountId?: string; instanceId?: string },
  now: Date,
): Promise<BackupSyncSummary> {
  const out: BackupSyncSummary = { synced: [], failed: [] };
  let after: string | null = null;
  for (;;) {
    const ids: string[] = filter.instanceId ? [filter.instanceId] : await backupSyncTargets(db, after, 500, filter.accountId);
    for (const id of ids) {
      try {
        const r = await syncInstanceBackups(db, compute, id, now);
        if (r) out.synced.push(r);
      } catch (err) {
        out.failed.push({ instance_id: id, error: err instanceof Error ? err.message : String(err) });
      }
    }
    if (filter.instanceId || ids.length < 500) return out;
    after = ids.at(-1)!;
  }
}

/** A summary of a sync for an operator, in a line. */
export function describeSync(s: BackupSyncSummary): string {
  const set = s.synced.filter((r) => r.retention_set !== null);
  const added = s.synced.reduce((n, r) => n + r.added, 0);
  const removed = s.synced.reduce((n, r) => n + r.removed, 0);
  const retention = set.length > 0 ? `retention set on ${set.length} (${[...new Set(set.map((r) => `${r.retention_set} days`))].join(", ")})` : "no retention to change";
  const failed = s.failed.length > 0 ? `; ${s.failed.length} could not be synced (the hourly pass retries): ${s.failed.map((f) => `${f.instance_id}: ${f.error}`).join("; ")}` : "";
  return `Backups of ${s.synced.length} instance(s) synced: ${retention}, ${added} backup(s) added, ${removed} removed${failed}.`;
}
