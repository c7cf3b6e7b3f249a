import { endpoint, route } from "@/lib/http/route";
import { Reply } from "@/lib/http/reply";
import { deliveryResource } from "@/lib/schemas/webhooks";
import { redeliver } from "@/lib/services/webhook-deliveries";

export const { GET, POST, PUT, PATCH, DELETE, OPTIONS } = route({
  POST: endpoint({
    summary: "Redeliver a webhook delivery",
    description:
      "Sends the delivery's message again, now, with the whole retry schedule ahead of it. It keeps its `webhook-id` (the message id), so receivers that already handled it can tell.",
    scope: "webhooks:write",
    response: { status: 202, schema: deliveryResource, description: "The delivery, pending again" },
    errors: ["webhook_endpoint_disabled"],
    handler: async (ctx, { params }) => new Reply(202, await redeliver(ctx, params.id!, params.deliveryId!)),
  }),
});
