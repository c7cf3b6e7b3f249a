import { endpoint, route } from "@/lib/http/route";
import { accountResource } from "@/lib/schemas/account";
import { getAccount } from "@/lib/services/accounts";

export const { GET, POST, PUT, PATCH, DELETE, OPTIONS } = route({
  GET: endpoint({
    summary: "Get the key's account: plan, limits and usage",
    scope: "any",
    response: { status: 200, schema: accountResource, description: "The account" },
    handler: (ctx) => getAccount(ctx),
  }),
});
