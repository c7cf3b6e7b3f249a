import { endpoint, route } from "@/lib/http/route";
import { noContent } from "@/lib/http/reply";
import { updateWebhookBody, webhookEndpointResource } from "@/lib/schemas/webhooks";
import { checkWebhookUrl, deleteEndpoint, getEndpoint, updateEndpoint } from "@/lib/services/webhooks";

export const { GET, POST, PUT, PATCH, DELETE, OPTIONS } = route({
  GET: endpoint({
    summary: "Get a webhook endpoint",
    scope: "webhooks:read",
    response: { status: 200, schema: webhookEndpointResource, description: "The endpoint (never its secret)" },
    handler: (ctx, { params }) => getEndpoint(ctx, params.id!),
  }),
  PATCH: endpoint({
    summary: "Update a webhook endpoint",
    description: "Changes its URL, events or description, or pauses (`enabled: false`) and resumes it. Resuming clears `disabled_reason`.",
    scope: "webhooks:write",
    body: updateWebhookBody,
    response: { status: 200, schema: webhookEndpointResource, description: "The endpoint as changed" },
    errors: ["webhook_url_not_allowed"],
    prepare: async ({ body }) => (body.url === undefined ? undefined : checkWebhookUrl(body.url)),
    handler: (ctx, { params, body, prepared }) => updateEndpoint(ctx, params.id!, body, prepared),
  }),
  DELETE: endpoint({
    summary: "Delete a webhook endpoint",
    scope: "webhooks:write",
    response: { status: 204, description: "Deleted, with its deliveries: nothing more is sent to it" },
    handler: async (ctx, { params }) => {
      await deleteEndpoint(ctx, params.id!);
      return noContent();
    },
  }),
});
