import { accepted } from "@/lib/http/reply";
import { endpoint, route } from "@/lib/http/route";
import { operationResource } from "@/lib/schemas/instances";
import { lifecycle } from "@/lib/services/instances";

export const { GET, POST, PUT, PATCH, DELETE, OPTIONS } = route({
  POST: endpoint({
    summary: "Stop an instance",
    scope: "instance:write",
    rate: "heavy",
    response: { status: 202, schema: operationResource, description: "The `instance.stop` operation" },
    errors: ["operation_in_progress", "invalid_instance_state"],
    handler: async (ctx, { params }) => accepted(await lifecycle(ctx, params.id!, "stop")),
  }),
});
