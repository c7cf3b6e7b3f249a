import { accepted, unchanged } from "@/lib/http/reply";
import { endpoint, route } from "@/lib/http/route";
import { agentsBody, agentsResource } from "@/lib/schemas/config";
import { operationResource } from "@/lib/schemas/instances";
import { getConfig, putConfig } from "@/lib/services/instance-config";

export const { GET, POST, PUT, PATCH, DELETE, OPTIONS } = route({
  GET: endpoint({
    summary: "Get an instance's agents",
    description:
      "The agents the instance runs now: while an `instance.configure` operation is applying a change, these are still the previous ones.",
    scope: "agents:read",
    response: { status: 200, schema: agentsResource, description: "The applied agents document" },
    handler: (ctx, { params }) => getConfig(ctx, params.id!, "agents"),
  }),
  PUT: endpoint({
    summary: "Replace an instance's agents",
    description:
      "Replaces the list whole and applies it with an `instance.configure` operation (the instance shows `updating` meanwhile; " +
      "a stopped instance is started to check the new configuration, then stopped again). If the apply fails, the previous configuration " +
      "keeps running and the operation fails with the reason. An agent's `model` must be one of the instance's provider. " +
      "A document identical in effect to the applied one starts nothing: the answer is then `200` with the document and `Config-Unchanged: true`. " +
      "Possible while the instance is `running` or `stopped`.",
    scope: "agents:write",
    rate: "heavy",
    body: agentsBody,
    response: { status: 202, schema: operationResource, description: "The `instance.configure` operation that applies it" },
    alsoResponds: { status: 200, schema: agentsResource, description: "Nothing to apply: the document sent is, in effect, the one applied already (as `GET` answers it)", headers: ["Config-Unchanged"] },
    errors: ["operation_in_progress", "invalid_instance_state"],
    handler: async (ctx, { params, body }) => {
      const change = await putConfig(ctx, params.id!, "agents", body);
      return change.operation ? accepted(change.operation) : unchanged(change.unchanged);
    },
  }),
});
