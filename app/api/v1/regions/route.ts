import { route } from "@/lib/http/route";
import { REGIONS } from "@/lib/regions";
import { regionResource } from "@/lib/schemas/account";

export const { GET, POST, PUT, PATCH, DELETE, OPTIONS } = route({
  GET: {
    summary: "List the regions an instance may be created in",
    scope: "public",
    response: { status: 200, schema: regionResource.array(), description: "Fly.io region codes" },
    handler: () => REGIONS.map((r) => ({ code: r.code, name: r.name })),
  },
});
