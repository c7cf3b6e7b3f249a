import { config } from "../config";

/**
 * This deployment's base URL (`https://host`, no trailing slash), for absolute
 * links (`Location`, `Operation-Location`, `Link`), the OpenAPI document's
 * `servers` and the examples on the landing page and /docs.
 *
 * PUBLIC_BASE_URL wins. Otherwise the host the client asked for
 * (X-Forwarded-Host, then Host), but only where the deployment vouches for it:
 * embedded mode, Vercel (whose proxy sets it), or TRUST_FORWARDED_HOST=1 (see
 * `config().trustForwardedHost`). Anywhere else a spoofed header could put
 * another host into a stored and replayed `Location`, so the answer is ""
 * and links stay relative (RFC 9110 allows a relative `Location`).
 */
export function baseUrlFromRequest(req: Request): string {
  return baseUrlFromHeaders(req.headers, new URL(req.url));
}

/** The same for a server component, from the request's headers (`await headers()`). */
export function baseUrlFromHeaders(h: Pick<Headers, "get">, fallback?: URL): string {
  const cfg = config();
  if (cfg.publicBaseUrl) return cfg.publicBaseUrl;
  if (!cfg.trustForwardedHost) return "";
  // Next.js's own `req.url` names `localhost` when self-hosted, whatever the client used.
  const host = first(h.get("x-forwarded-host")) ?? h.get("host") ?? fallback?.host;
  const proto = first(h.get("x-forwarded-proto")) ?? fallback?.protocol.replace(":", "") ?? "http";
  // Only a plain host[:port] is echoed into a page or document; anything else falls back.
  if (!host || !/^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(host)) return fallback?.origin ?? "http://localhost:3000";
  return `${proto === "https" ? "https" : "http"}://${host.toLowerCase()}`;
}

/** `path` (absolute-path form, e.g. `/api/v1/operations/op_1`) against the base: absolute when the base is known, else as given. */
export function linkTo(base: string, path: string): string {
  return base ? new URL(path, base + "/").toString() : path;
}

/** For pages that show examples: the base, or a placeholder that reads as one. */
export function exampleBaseUrl(base: string): string {
  return base || "https://<this deployment>";
}

const first = (v: string | null) => v?.split(",")[0]?.trim() || undefined;
