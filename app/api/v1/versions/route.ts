import { endpoint, route } from "@/lib/http/route";
import { versionResource } from "@/lib/schemas/versions";
import { listVersions, toVersionResource } from "@/lib/services/versions";

export const { GET, POST, PUT, PATCH, DELETE, OPTIONS } = route({
  GET: endpoint({
    summary: "List the OpenClaw versions on offer",
    description:
      "Newest release first. New instances get the `default` one unless they name another; " +
      "a `deprecated` version keeps running where it runs, but nothing new may move to it.",
    scope: "any",
    response: { status: 200, schema: versionResource.array(), description: "The versions (a bare array)" },
    handler: async (ctx) => (await listVersions(ctx.db)).map(toVersionResource),
  }),
});
