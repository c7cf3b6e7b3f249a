/**
 * Backups of an instance (DESIGN 3.9): the snapshots of its volume. The
 * provider takes one a day by itself (`scheduled`); an `instance.backup`
 * operation takes one at once (`on_demand`). The provider says nothing of which
 * is which, so a backup is `on_demand` exactly when an operation of ours took it.
 */
export const BACKUP_KINDS = ["scheduled", "on_demand"] as const;
export type BackupKind = (typeof BACKUP_KINDS)[number];

const DAY_MS = 86_400_000;

/** When a snapshot is deleted by its provider: `retentionDays` after it was taken. */
export function backupExpiry(createdAt: Date, retentionDays: number | null): Date | null {
  return retentionDays === null ? null : new Date(createdAt.getTime() + retentionDays * DAY_MS);
}
