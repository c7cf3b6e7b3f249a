import type { Deps } from "@/lib/deps";
import { backupSyncRequested, backupSyncRequestedEvent } from "@/lib/jobs/events";
import { defineFunction } from "@/lib/jobs/types";
import { backupSyncTargets, syncInstanceBackups } from "@/lib/services/backup-records";

/** Instances handed out per step of the hourly pass. */
const PAGE = 500;

/**
 * Every hour: one `sync-instance-backups` run per live instance with a volume
 * (and no operation running). Together they list the daily snapshots Fly
 * takes, drop the expired ones, and set each volume's snapshot retention to
 * its plan's (after a plan change, and for volumes made before backups
 * existed). `npm run admin -- sync-backups` does the same at once.
 */
export function makeScheduleBackupSync(deps: Deps) {
  return defineFunction({
    id: "schedule-backup-sync",
    trigger: { cron: "17 * * * *" },
    concurrency: { limit: 1 },
    retries: 1,
    async handler({ step }) {
      let after: string | null = null;
      let sent = 0;
      for (let i = 0; ; i++) {
        const ids: string[] = await step.run(`find-instances-${i}`, async () => backupSyncTargets(await deps.db(), after, PAGE));
        if (ids.length > 0) await step.sendEvent(`sync-${i}`, ids.map(backupSyncRequestedEvent));
        sent += ids.length;
        if (ids.length < PAGE) return { instances: sent };
        after = ids.at(-1)!;
      }
    },
  });
}

/** One instance's backup sync (see syncInstanceBackups); one at a time per instance, retried when the provider fails. */
export function makeSyncInstanceBackups(deps: Deps) {
  return defineFunction({
    id: "sync-instance-backups",
    trigger: { event: backupSyncRequested },
    concurrency: { key: "event.data.instance_id", limit: 1 },
    retries: 3,
    async handler({ event, step }) {
      return step.run("sync", async () => syncInstanceBackups(await deps.db(), deps.compute(), event.data.instance_id, deps.now()));
    },
  });
}
