import { accepted } from "@/lib/http/reply";
import { endpoint, route } from "@/lib/http/route";
import { restoreBody } from "@/lib/schemas/backups";
import { operationResource } from "@/lib/schemas/instances";
import { startRestore } from "@/lib/services/backups";

export const { GET, POST, PUT, PATCH, DELETE, OPTIONS } = route({
  POST: endpoint({
    summary: "Restore an instance from a backup",
    description:
      "**Destructive**: replaces everything on the instance's volume (memory, sessions, channel credentials) with the backup's copy; what changed " +
      "since the backup was taken is lost, so take a backup first (`POST /instances/{id}/backups`) if you may want it back. " +
      "An `instance.restore` operation makes a new volume from the backup, moves the machine onto it and starts it, and only once the assistant " +
      "answers healthy destroys the old volume. If any step fails, the machine goes back onto its old volume and the operation fails with " +
      "`restore_failed` and the reason, nothing changed. The configuration documents (provider, integrations, agents) are not part of a backup " +
      "and stay as they are. A restore ends with the instance `running`. Possible while it is `running`, `stopped` or `failed`.",
    scope: "backups:write",
    rate: "heavy",
    body: restoreBody,
    response: { status: 202, schema: operationResource, description: "The `instance.restore` operation" },
    errors: ["backup_not_ready", "operation_in_progress", "invalid_instance_state"],
    handler: async (ctx, { params, body }) => accepted(await startRestore(ctx, params.id!, body)),
  }),
});
