import { Reply } from "@/lib/http/reply";
import { endpoint, route } from "@/lib/http/route";
import { operationResource } from "@/lib/schemas/instances";
import { getOperation } from "@/lib/services/operations";

/** Seconds a poller should wait before asking again while an operation runs. */
const POLL_AFTER_SECONDS = 2;

export const { GET, POST, PUT, PATCH, DELETE, OPTIONS } = route({
  GET: endpoint({
    summary: "Get an operation",
    description: "Poll this until `status` is `succeeded` or `failed`; while it is not, the answer carries `Retry-After`.",
    scope: "operations:read",
    response: {
      status: 200,
      schema: operationResource,
      description: "The operation; `Retry-After` (seconds) while it is pending or running",
      headers: ["Retry-After"],
    },
    handler: async (ctx, { params }) => {
      const op = await getOperation(ctx, params.id!);
      const unfinished = op.status === "pending" || op.status === "running";
      return new Reply(200, op, unfinished ? { "retry-after": String(POLL_AFTER_SECONDS) } : {});
    },
  }),
});
