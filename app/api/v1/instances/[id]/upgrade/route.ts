import { accepted } from "@/lib/http/reply";
import { endpoint, route } from "@/lib/http/route";
import { operationResource, upgradeInstanceBody } from "@/lib/schemas/instances";
import { upgradeInstance } from "@/lib/services/instances";

export const { GET, POST, PUT, PATCH, DELETE, OPTIONS } = route({
  POST: endpoint({
    summary: "Upgrade an instance to another OpenClaw version",
    description:
      "Moves the machine to the version's image and waits for its assistant to answer healthy; a stopped instance is stopped again. " +
      "If the new version does not become healthy, the previous image is put back and the operation fails with `upgrade_rolled_back`: " +
      "the instance keeps its `version`, which changes only when the upgrade succeeds. Any offered version may be named, an earlier one too.",
    scope: "instance:write",
    rate: "heavy",
    body: upgradeInstanceBody,
    response: { status: 202, schema: operationResource, description: "The `instance.upgrade` operation (its `target_version` says where it goes)" },
    errors: ["unsupported_version", "operation_in_progress", "invalid_instance_state"],
    handler: async (ctx, { params, body }) => accepted(await upgradeInstance(ctx, params.id!, body)),
  }),
});
