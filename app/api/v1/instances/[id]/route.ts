import { accepted } from "@/lib/http/reply";
import { endpoint, route } from "@/lib/http/route";
import { instanceResource, operationResource, updateInstanceBody } from "@/lib/schemas/instances";
import { getInstance, lifecycle, updateInstance } from "@/lib/services/instances";

export const { GET, POST, PUT, PATCH, DELETE, OPTIONS } = route({
  GET: endpoint({
    summary: "Get an instance",
    scope: "instance:read",
    response: { status: 200, schema: instanceResource, description: "The instance" },
    handler: (ctx, { params }) => getInstance(ctx, params.id!),
  }),
  PATCH: endpoint({
    summary: "Update an instance",
    description:
      "Changes its `name` and `auto_upgrade` (a JSON merge patch: a field left out is unchanged, `name: null` removes the name). " +
      "Allowed while an operation runs: neither touches the machine.",
    scope: "instance:write",
    body: updateInstanceBody,
    response: { status: 200, schema: instanceResource, description: "The instance as changed" },
    handler: (ctx, { params, body }) => updateInstance(ctx, params.id!, body),
  }),
  DELETE: endpoint({
    summary: "Delete an instance",
    description: "Removes its machine, volume and app. Its slot is freed when the operation succeeds.",
    scope: "instance:write",
    rate: "heavy",
    response: { status: 202, schema: operationResource, description: "The `instance.delete` operation" },
    errors: ["operation_in_progress", "invalid_instance_state"],
    handler: async (ctx, { params }) => accepted(await lifecycle(ctx, params.id!, "delete")),
  }),
});
