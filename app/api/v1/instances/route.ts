import { accepted } from "@/lib/http/reply";
import { endpoint, route } from "@/lib/http/route";
import { createInstanceBody, instanceResource, listInstancesQuery, operationResource } from "@/lib/schemas/instances";
import { createInstance, listInstances } from "@/lib/services/instances";

export const { GET, POST, PUT, PATCH, DELETE, OPTIONS } = route({
  GET: endpoint({
    summary: "List instances",
    scope: "instance:read",
    query: listInstancesQuery,
    response: { status: 200, schema: instanceResource.array(), description: "The account's instances, oldest first (a bare array)" },
    handler: (ctx, { query }) => listInstances(ctx, query),
  }),
  POST: endpoint({
    summary: "Create an instance",
    scope: "instance:write",
    rate: "heavy",
    body: createInstanceBody,
    response: { status: 202, schema: operationResource, description: "The `instance.create` operation" },
    errors: ["instance_limit_reached", "subdomain_taken", "unsupported_version"],
    handler: async (ctx, { body }) => accepted(await createInstance(ctx, body)),
  }),
});
