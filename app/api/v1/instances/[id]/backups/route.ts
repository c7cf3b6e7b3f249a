import { accepted, page } from "@/lib/http/reply";
import { endpoint, route } from "@/lib/http/route";
import { backupResource, listBackupsQuery } from "@/lib/schemas/backups";
import { operationResource } from "@/lib/schemas/instances";
import { listBackups, startBackup } from "@/lib/services/backups";

export const { GET, POST, PUT, PATCH, DELETE, OPTIONS } = route({
  GET: endpoint({
    summary: "List an instance's backups",
    description:
      "Snapshots of the instance's volume (its memory, sessions and channel credentials), newest first: one taken every day (`scheduled`) " +
      "and those taken on request (`on_demand`). Each is kept for the plan's retention (7 days on Pro, 30 on Business) and listed until it expires. " +
      "A daily snapshot shows up here within about an hour of being taken.",
    scope: "backups:read",
    query: listBackupsQuery,
    response: { status: 200, schema: backupResource.array(), description: "One page of backups, newest first (see `Link`)" },
    handler: async (ctx, { params, query }) => {
      const { items, nextCursor } = await listBackups(ctx, params.id!, query);
      return page(items, nextCursor);
    },
  }),
  POST: endpoint({
    summary: "Back up an instance",
    description:
      "Takes a snapshot of the instance's volume now, with an `instance.backup` operation. The assistant keeps running meanwhile (the instance " +
      "shows `backing_up`); the new backup is listed as `creating`, then `ready`, and the instance's `last_backup_at` moves. " +
      "Possible while the instance is `running`, `stopped` or `failed`.",
    scope: "backups:write",
    rate: "heavy",
    response: { status: 202, schema: operationResource, description: "The `instance.backup` operation" },
    errors: ["operation_in_progress", "invalid_instance_state"],
    handler: async (ctx, { params }) => accepted(await startBackup(ctx, params.id!)),
  }),
});
