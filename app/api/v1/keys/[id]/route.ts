import { endpoint, route } from "@/lib/http/route";
import { noContent } from "@/lib/http/reply";
import { apiKeyResource } from "@/lib/schemas/keys";
import { getKey, revokeKey } from "@/lib/services/keys";

export const { GET, POST, PUT, PATCH, DELETE, OPTIONS } = route({
  GET: endpoint({
    summary: "Get an API key",
    scope: "keys:read",
    response: { status: 200, schema: apiKeyResource, description: "The key (never its token)" },
    handler: (ctx, { params }) => getKey(ctx, params.id!),
  }),
  DELETE: endpoint({
    summary: "Revoke an API key",
    description:
      "The next request made with the key is refused, and a mutation it still has in flight does not commit. A key can revoke only keys whose every scope it holds itself (otherwise 403 `insufficient_scope` with `missing_scopes`).",
    scope: "keys:write",
    response: { status: 204, description: "Revoked: the next request made with it is refused" },
    handler: async (ctx, { params }) => {
      await revokeKey(ctx, params.id!);
      return noContent();
    },
  }),
});
