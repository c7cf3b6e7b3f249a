import { and, eq, gt, isNull, or } from "drizzle-orm";
import { backup } from "@/db/schema";
import type { ServiceContext } from "../context";
import { ApiError } from "../errors";
import { iso } from "../schemas/common";
import type { BackupResource } from "../schemas/backups";
import type { OperationResource } from "../schemas/instances";
import { requireInstance } from "./instance-lookup";
import { beginOperation, toOperationResource } from "./operations";
import { paginate, type PageQuery } from "./pagination";

/**
 * An instance's backups through the API: the list (kept in step with the
 * provider's snapshots by lib/services/backup-records.ts), and the two
 * operations, `instance.backup` and `instance.restore`.
 */

export type BackupRow = typeof backup.$inferSelect;

export function toBackupResource(row: BackupRow): BackupResource {
  return {
    id: row.id,
    kind: row.kind,
    status: row.status,
    size_bytes: row.sizeBytes,
    created_at: row.createdAt.toISOString(),
    expires_at: iso(row.expiresAt),
  };
}

/** Not yet deleted by the provider: no expiry known, or one still ahead. */
const unexpired = (now: Date) => or(isNull(backup.expiresAt), gt(backup.expiresAt, now));

/** The instance's backups, newest first, in cursor pages. Throws not_found for an instance the account does not have. */
export async function listBackups(ctx: ServiceContext, idOrSubdomain: string, q: PageQuery) {
  const inst = await requireInstance(ctx, idOrSubdomain);
  const now = new Date();
  return paginate(
    q,
    { column: backup.id, order: "desc" },
    (p) =>
      ctx.db
        .select()
        .from(backup)
        .where(and(eq(backup.instanceId, inst.id), unexpired(now), p.after))
        .orderBy(p.orderBy)
        .limit(p.limit),
    toBackupResource,
  );
}

/** Starts an `instance.backup`: an on-demand snapshot of the instance's volume. */
export async function startBackup(ctx: ServiceContext, idOrSubdomain: string): Promise<OperationResource> {
  const inst = await requireInstance(ctx, idOrSubdomain, { lock: true });
  return toOperationResource(await beginOperation(ctx, inst, "instance.backup"));
}

/**
 * Starts an `instance.restore` from one of the instance's own backups, which
 * must be `ready`. Throws not_found for a backup that is not this instance's
 * (another account's included) or has expired, backup_not_ready, and what
 * beginOperation throws.
 */
export async function startRestore(ctx: ServiceContext, idOrSubdomain: string, input: { backup_id: string }): Promise<OperationResource> {
  const inst = await requireInstance(ctx, idOrSubdomain, { lock: true });
  const [row] = await ctx.db
    .select()
    .from(backup)
    .where(and(eq(backup.id, input.backup_id), eq(backup.instanceId, inst.id), eq(backup.accountId, ctx.account.id), unexpired(new Date())))
    .limit(1);
  if (!row) {
    throw new ApiError("not_found", `No backup ${JSON.stringify(input.backup_id)} of instance ${inst.id} in this account (it may have expired): list them with GET /api/v1/instances/${inst.id}/backups.`);
  }
  if (row.status !== "ready" || !row.snapshotId) {
    throw new ApiError("backup_not_ready", `Backup ${row.id} is ${row.status}; only a ready backup can be restored.`, {
      extra: { backup_status: row.status },
    });
  }
  const op = await beginOperation(ctx, inst, "instance.restore", { backup_id: row.id, snapshot_id: row.snapshotId });
  return toOperationResource(op);
}
