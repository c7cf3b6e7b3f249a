/**
 * Lists your instances with a typed client: openapi-fetch plus the types that
 * `npm run generate:client` makes from the API's OpenAPI document.
 *
 *   MOC_API_KEY=moc_... MOC_BASE_URL=http://localhost:3000 npx tsx examples/list-instances.ts
 */
import createClient from "openapi-fetch";
import type { paths } from "./client/schema";

const apiKey = process.env.MOC_API_KEY;
if (!apiKey) {
  console.error("Set MOC_API_KEY to an API key with the instance:read scope.");
  process.exit(2);
}

const api = createClient<paths>({
  baseUrl: process.env.MOC_BASE_URL ?? "http://localhost:3000",
  headers: { Authorization: `Bearer ${apiKey}` },
});

// Paths, query parameters, bodies and answers are all typed: a typo in any of them does not compile.
// MOC_STATUS=running,stopped lists either (openapi-fetch sends ?status=running&status=stopped).
type Status = NonNullable<NonNullable<paths["/api/v1/instances"]["get"]["parameters"]["query"]>["status"]>[number];
const { data, error, response } = await api.GET("/api/v1/instances", {
  params: { query: process.env.MOC_STATUS ? { status: process.env.MOC_STATUS.split(",") as Status[] } : {} },
});

if (error) {
  // Errors are problem+json documents with a stable `code`.
  console.error(`${response.status} ${error.code}: ${error.detail} (request ${error.request_id})`);
  process.exit(1);
}

for (const inst of data) {
  console.log(`${inst.subdomain.padEnd(24)} ${inst.status.padEnd(12)} ${inst.fly_region}  ${inst.url}`);
}
console.log(`${data.length} instance(s); ${response.headers.get("x-ratelimit-remaining")} requests left this minute.`);
