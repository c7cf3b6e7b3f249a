import { Reply } from "@/lib/http/reply";
import { route } from "@/lib/http/route";
import { baseUrlFromRequest } from "@/lib/http/base-url";
import { documentSource, openApiDocumentSchema } from "@/lib/openapi/document";
import { ROUTE_MODULES } from "./routes";

const documentFor = documentSource(ROUTE_MODULES);

export const { GET, POST, PUT, PATCH, DELETE, OPTIONS } = route({
  GET: {
    summary: "Get the OpenAPI document",
    description:
      "This API's contract as OpenAPI 3.1, generated from the schemas that validate its requests. Point code generators and API tools at it; the reference at /docs renders it.",
    scope: "public",
    response: { status: 200, schema: openApiDocumentSchema, description: "The OpenAPI 3.1 document, with this deployment's base URL in `servers`" },
    // Public and credential-free, so any origin may read it (API tools load it from the browser).
    handler: async (req) => new Reply(200, await documentFor(baseUrlFromRequest(req)), { "access-control-allow-origin": "*" }),
  },
});
