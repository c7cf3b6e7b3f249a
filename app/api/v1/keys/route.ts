import { endpoint, route } from "@/lib/http/route";
import { created, page } from "@/lib/http/reply";
import { apiKeyResource, createdApiKeyResource, createKeyBody, listKeysQuery } from "@/lib/schemas/keys";
import { createKey, listKeys } from "@/lib/services/keys";

export const { GET, POST, PUT, PATCH, DELETE, OPTIONS } = route({
  GET: endpoint({
    summary: "List API keys",
    scope: "keys:read",
    query: listKeysQuery,
    response: { status: 200, schema: apiKeyResource.array(), description: "The account's live keys, oldest first" },
    handler: async (ctx, { query }) => {
      const { items, nextCursor } = await listKeys(ctx, query);
      return page(items, nextCursor);
    },
  }),
  POST: endpoint({
    summary: "Create an API key",
    scope: "keys:write",
    body: createKeyBody,
    response: { status: 201, schema: createdApiKeyResource, description: "The key, with its token shown this once" },
    handler: async (ctx, { body }) => {
      const key = await createKey(ctx, body);
      return created(key, `/api/v1/keys/${key.id}`);
    },
  }),
});
