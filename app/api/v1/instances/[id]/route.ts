import { accepted } from "@/lib/http/reply";
import { endpoint, route } from "@/lib/http/route";
import { instanceResource, operationResource } from "@/lib/schemas/instances";
import { getInstance, lifecycle } from "@/lib/services/instances";

export const { GET, POST, PUT, PATCH, DELETE, OPTIONS } = route({
  GET: endpoint({
    summary: "Get an instance",
    scope: "instance:read",
    response: { status: 200, schema: instanceResource, description: "The instance" },
    handler: (ctx, { params }) => getInstance(ctx, params.id!),
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
