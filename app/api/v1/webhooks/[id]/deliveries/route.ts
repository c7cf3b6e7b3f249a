import { endpoint, route } from "@/lib/http/route";
import { page } from "@/lib/http/reply";
import { deliveryResource, listDeliveriesQuery } from "@/lib/schemas/webhooks";
import { listDeliveries } from "@/lib/services/webhook-deliveries";

export const { GET, POST, PUT, PATCH, DELETE, OPTIONS } = route({
  GET: endpoint({
    summary: "List a webhook endpoint's deliveries",
    description: "Newest first, each with every attempt made (time, status, duration, error) and, while pending, when the next is due.",
    scope: "webhooks:read",
    query: listDeliveriesQuery,
    response: { status: 200, schema: deliveryResource.array(), description: "One page of deliveries, newest first" },
    handler: async (ctx, { params, query }) => {
      const { items, nextCursor } = await listDeliveries(ctx, params.id!, query);
      return page(items, nextCursor);
    },
  }),
});
