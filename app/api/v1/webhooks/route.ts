import { endpoint, route } from "@/lib/http/route";
import { created } from "@/lib/http/reply";
import { createdWebhookEndpointResource, createWebhookBody, webhookEndpointResource } from "@/lib/schemas/webhooks";
import { checkWebhookUrl, createEndpoint, listEndpoints } from "@/lib/services/webhooks";

export const { GET, POST, PUT, PATCH, DELETE, OPTIONS } = route({
  GET: endpoint({
    summary: "List webhook endpoints",
    scope: "webhooks:read",
    response: { status: 200, schema: webhookEndpointResource.array(), description: "The account's endpoints (at most 10), oldest first" },
    handler: (ctx) => listEndpoints(ctx),
  }),
  POST: endpoint({
    summary: "Create a webhook endpoint",
    description:
      "Registers a URL to receive `operation.succeeded` and/or `operation.failed`, signed as the Standard Webhooks spec says. The answer carries the signing secret, the only time it is shown.",
    scope: "webhooks:write",
    body: createWebhookBody,
    response: { status: 201, schema: createdWebhookEndpointResource, description: "The endpoint, with its signing secret shown this once" },
    errors: ["webhook_url_not_allowed", "webhook_endpoint_limit_reached"],
    prepare: ({ body }) => checkWebhookUrl(body.url),
    handler: async (ctx, { body, prepared }) => {
      const made = await createEndpoint(ctx, body, prepared);
      return created(made, `/api/v1/webhooks/${made.id}`);
    },
  }),
});
