import { config } from "../config";

/**
 * This deployment's base URL (`https://host`, no trailing slash), for the
 * OpenAPI document's `servers` and the examples on the landing page and /docs.
 * PUBLIC_BASE_URL wins; otherwise the host the client asked for (Next.js's
 * own `req.url` names `localhost` when self-hosted, whatever the client used).
 */
export function baseUrlFromRequest(req: Request): string {
  return baseUrlFromHeaders(req.headers, new URL(req.url));
}

/** The same for a server component, from the request's headers (`await headers()`). */
export function baseUrlFromHeaders(h: Pick<Headers, "get">, fallback?: URL): string {
  const configured = config().publicBaseUrl;
  if (configured) return configured;
  const host = first(h.get("x-forwarded-host")) ?? h.get("host") ?? fallback?.host;
  const proto = first(h.get("x-forwarded-proto")) ?? fallback?.protocol.replace(":", "") ?? "http";
  // Only a plain host[:port] is echoed into a page or document; anything else falls back.
  if (!host || !/^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(host)) return fallback?.origin ?? "http://localhost:3000";
  return `${proto === "https" ? "https" : "http"}://${host}`;
}

const first = (v: string | null) => v?.split(",")[0]?.trim() || undefined;
