import { mcpRoute } from "@/lib/mcp/server";
import { ROUTE_MODULES } from "../v1/openapi.json/routes";

// The MCP server (Streamable HTTP, stateless): its tools are the REST endpoints in ROUTE_MODULES, see lib/mcp/.
export const { GET, POST, DELETE, PUT, PATCH, OPTIONS } = mcpRoute(ROUTE_MODULES);

// wait_for_operation holds a call for up to 60 s (lib/mcp/tools.ts MAX_WAIT_SECONDS).
export const maxDuration = 75;
