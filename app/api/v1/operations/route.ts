import { page } from "@/lib/http/reply";
import { endpoint, route } from "@/lib/http/route";
import { listOperationsQuery, operationResource } from "@/lib/schemas/instances";
import { listOperations } from "@/lib/services/operations";

export const { GET, POST, PUT, PATCH, DELETE, OPTIONS } = route({
  GET: endpoint({
    summary: "List operations",
    scope: "operations:read",
    query: listOperationsQuery,
    response: { status: 200, schema: operationResource.array(), description: "Newest first, in cursor pages (see `Link`)" },
    handler: async (ctx, { query }) => {
      const { items, nextCursor } = await listOperations(ctx, query);
      return page(items, nextCursor);
    },
  }),
});
