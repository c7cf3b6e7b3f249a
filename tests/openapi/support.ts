import path from "node:path";
import { ROUTE_MODULES } from "@/app/api/v1/openapi.json/routes";
import type { Method } from "@/lib/http/route";
import { buildDocument, definitionOf, forDeployment, loadRoutes, type OpenApiDocument } from "@/lib/openapi/document";
import { discoverRoutes } from "../support/api";

export const METHODS: readonly Method[] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/** The document as a deployment at `baseUrl` serves it. */
export async function loadDocument(baseUrl = "https://api.example.test"): Promise<OpenApiDocument> {
  return forDeployment(buildDocument(await loadRoutes(ROUTE_MODULES)), baseUrl);
}

export interface ApiRouteFile {
  /** The OpenAPI path the file serves, e.g. /api/v1/keys/{id}. */
  path: string;
  file: string;
  /** The `@/app/...` specifier to import it with, as the list in routes.ts writes it. */
  specifier: string;
  catchAll: boolean;
}

/** Every route.ts under app/api/v1, found on disk. */
export function apiRouteFiles(): ApiRouteFile[] {
  const appDir = path.resolve(import.meta.dirname, "../../app");
  return discoverRoutes()
    .filter((r) => r.segments[1]?.kind === "static" && r.segments[1].value === "v1")
    .map((r) => ({
      path: "/" + r.segments.map((s) => (s.kind === "static" ? s.value : s.kind === "param" ? `{${s.name}}` : `{...${s.name}}`)).join("/"),
      file: r.file,
      specifier: "@/app/" + path.relative(appDir, r.file).replace(/\\/g, "/").replace(/\.ts$/, ""),
      catchAll: r.segments.some((s) => s.kind === "catchAll"),
    }));
}

/** The methods a route module defines through route(), with their definitions. */
export async function definedMethods(file: string) {
  const mod = (await import(file)) as object;
  const def = definitionOf(mod, file);
  return { mod: mod as Record<string, unknown>, def, methods: METHODS.filter((m) => def[m]) };
}

export const lower = (m: Method) => m.toLowerCase() as Lowercase<Method>;
