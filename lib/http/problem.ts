import { randomUUID } from "node:crypto";
import { ApiError, ERROR_CODES, type ErrorCode } from "../errors";
import { RATE_LIMIT_HEADERS } from "./ratelimit";

/** The challenge every 401 carries (RFC 6750 section 3). */
const CHALLENGE = `Bearer realm="api", error="invalid_token"`;

/**
 * The problem document (RFC 9457 section 3) for an ApiError: `type`, `title`,
 * `status`, `detail`, `code`, `request_id` and the error's extra members. The
 * REST API answers it as application/problem+json; the MCP server returns it
 * as a tool error's structured content.
 */
export function problemBody(err: ApiError, requestId: string): Record<string, unknown> {
  return {
    type: errorTypeUri(err.code),
    title: ERROR_CODES[err.code].title,
    status: err.status,
    detail: err.message,
    code: err.code,
    request_id: requestId,
    ...err.extra,
  };
}

/** A problem+json (RFC 9457) response for an ApiError. */
export function problemResponse(err: ApiError, requestId: string, headers: Headers = new Headers()): Response {
  const body = problemBody(err, requestId);
  headers.set("content-type", "application/problem+json");
  headers.set("cache-control", "no-store");
  headers.set("x-request-id", requestId);
  for (const [k, v] of Object.entries(err.headers)) headers.set(k, v);
  if (err.retryAfter !== undefined) headers.set("retry-after", String(err.retryAfter));
  if (err.status === 401) headers.set("www-authenticate", CHALLENGE);
  return new Response(JSON.stringify(body), { status: err.status, headers });
}

/**
 * The headers a problem response of this code carries besides Content-Type
 * and Cache-Control, as the OpenAPI document names them: the request id;
 * the challenge on a 401; the rate-limit headers on rate_limited (the wrapper
 * sets them on every authenticated answer it counted); Retry-After where the
 * code has one (lib/errors.ts).
 */
export function problemHeaders(code: ErrorCode): string[] {
  const spec: { status: number; retryAfter?: number } = ERROR_CODES[code];
  const names = ["X-Request-Id"];
  if (spec.status === 401) names.push("WWW-Authenticate");
  if (code === "rate_limited") names.push(...RATE_LIMIT_HEADERS);
  if (spec.retryAfter !== undefined) names.push("Retry-After");
  return names;
}

/** The caller's X-Request-Id when it is a sane token (so logs on both sides line up), else a new one. */
export function requestIdFrom(given: string | null | undefined): string {
  if (given && /^[A-Za-z0-9._:-]{8,128}$/.test(given)) return given;
  return `req_${randomUUID().replaceAll("-", "")}`;
}

/** Where each code is documented: the API reference's error section. */
export function errorTypeUri(code: ErrorCode): string {
  return `/docs/errors#${code}`;
}
