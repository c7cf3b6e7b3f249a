import { randomUUID } from "node:crypto";
import { ApiError, ERROR_CODES, type ErrorCode } from "../errors";

/** A problem+json (RFC 9457) response for an ApiError. */
export function problemResponse(err: ApiError, requestId: string, headers: Headers = new Headers()): Response {
  const body = {
    type: errorTypeUri(err.code),
    title: ERROR_CODES[err.code].title,
    status: err.status,
    detail: err.message,
    code: err.code,
    request_id: requestId,
    ...err.extra,
  };
  headers.set("content-type", "application/problem+json");
  headers.set("cache-control", "no-store");
  headers.set("x-request-id", requestId);
  for (const [k, v] of Object.entries(err.headers)) headers.set(k, v);
  if (err.status === 401) headers.set("www-authenticate", `Bearer realm="api", error="invalid_token"`);
  return new Response(JSON.stringify(body), { status: err.status, headers });
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
