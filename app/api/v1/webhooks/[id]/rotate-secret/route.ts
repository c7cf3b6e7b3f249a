import { endpoint, route } from "@/lib/http/route";
import { webhookSecretResource } from "@/lib/schemas/webhooks";
import { rotateSecret } from "@/lib/services/webhooks";

export const { GET, POST, PUT, PATCH, DELETE, OPTIONS } = route({
  POST: endpoint({
    summary: "Rotate a webhook endpoint's signing secret",
    description:
      "Makes a new secret, shown this once. For 24 hours deliveries carry signatures under both the new and the previous secret, so receivers can switch without missing one; after that, only the new.",
    scope: "webhooks:write",
    response: { status: 200, schema: webhookSecretResource, description: "The new secret" },
    handler: (ctx, { params }) => rotateSecret(ctx, params.id!),
  }),
});
