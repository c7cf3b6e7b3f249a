import { page } from "@/lib/http/reply";
import { endpoint, route } from "@/lib/http/route";
import { eventResource, listEventsQuery } from "@/lib/schemas/events";
import { listEvents } from "@/lib/services/events";

export const { GET, POST, PUT, PATCH, DELETE, OPTIONS } = route({
  GET: endpoint({
    summary: "List events",
    description:
      "The account's events of the last 30 days, as its webhook endpoints receive them (`operation.*`, `instance.status_changed`, " +
      "`instance.health_changed`): for a consumer that missed a delivery, or prefers to poll. An event's `id` is its deliveries' " +
      "`message_id` and `webhook-id`. Needs `webhooks:read`: these are the webhook messages themselves.",
    scope: "webhooks:read",
    query: listEventsQuery,
    response: { status: 200, schema: eventResource.array(), description: "Newest first, in cursor pages (see `Link`)" },
    handler: async (ctx, { query }) => {
      const { items, nextCursor } = await listEvents(ctx, query);
      return page(items, nextCursor);
    },
  }),
});
