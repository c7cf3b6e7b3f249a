import { ApiReference } from "@scalar/nextjs-api-reference";
import { SECURITY_SCHEME } from "@/lib/openapi/document";
import { FAVICON } from "@/lib/openapi/guide";
import { scalarBundle } from "@/lib/openapi/scalar";

/**
 * The interactive API reference, rendered by Scalar from the served OpenAPI
 * document (which carries this deployment's base URL and the quick start).
 * Everything it loads comes from this host: no CDN, no web fonts, no telemetry.
 */
const bundle = scalarBundle();

const config = {
  url: "/api/v1/openapi.json",
  pageTitle: "API reference · MyOpenClaw Developer API",
  cdn: `/docs/scalar.js?v=${bundle?.version ?? "missing"}`,
  favicon: FAVICON,
  withDefaultFonts: false,
  telemetry: false,
  hideDownloadButton: false,
  defaultOpenAllTags: true,
  // Without it "Try it" opens on "No authentication selected": a pasted key should work at once.
  authentication: { preferredSecurityScheme: SECURITY_SCHEME },
  showDeveloperTools: "never" as const,
  agent: { disabled: true },
  mcp: { disabled: true },
  metaData: { description: "Reference of the MyOpenClaw Developer API: instances, operations, API keys and webhooks." },
  customCss: ":root { --scalar-font: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; --scalar-font-code: ui-monospace, 'SFMono-Regular', Menlo, Consolas, monospace; }",
};

export const GET = ApiReference(config);
