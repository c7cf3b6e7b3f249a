import type { z } from "zod";

/**
 * Every error the API can answer, as data: a stable code, its HTTP status and
 * a title. Services throw `ApiError(code, detail)`; only the request wrapper
 * turns one into problem+json (RFC 9457).
 */
export const ERROR_CODES = {
  missing_api_key: { status: 401, title: "API key required" },
  invalid_api_key: { status: 401, title: "Invalid API key" },
  api_key_expired: { status: 401, title: "API key expired" },
  cookies_not_allowed: { status: 403, title: "Cookies are not accepted" },
  plan_without_api_access: { status: 403, title: "Plan has no API access" },
  insufficient_scope: { status: 403, title: "Insufficient scope" },
  not_found: { status: 404, title: "Not found" },
  route_not_found: { status: 404, title: "No such route" },
  method_not_allowed: { status: 405, title: "Method not allowed" },
  invalid_path: { status: 400, title: "Invalid path" },
  malformed_json: { status: 400, title: "Malformed JSON" },
  validation_error: { status: 400, title: "Invalid request" },
  invalid_cursor: { status: 400, title: "Invalid cursor" },
  invalid_idempotency_key: { status: 400, title: "Invalid Idempotency-Key" },
  payload_too_large: { status: 413, title: "Request body too large" },
  unsupported_media_type: { status: 415, title: "Unsupported media type" },
  instance_limit_reached: { status: 409, title: "Instance limit reached" },
  subdomain_taken: { status: 409, title: "Subdomain taken" },
  operation_in_progress: { status: 409, title: "Operation in progress" },
  invalid_instance_state: { status: 409, title: "Invalid instance state" },
  idempotency_key_in_use: { status: 409, title: "Idempotency key in use" },
  idempotency_key_reused: { status: 422, title: "Idempotency key reused" },
  webhook_url_not_allowed: { status: 422, title: "Webhook URL not allowed" },
  webhook_endpoint_limit_reached: { status: 409, title: "Webhook endpoint limit reached" },
  webhook_endpoint_disabled: { status: 409, title: "Webhook endpoint disabled" },
  rate_limited: { status: 429, title: "Rate limit exceeded" },
  internal_error: { status: 500, title: "Internal error" },
  service_unavailable: { status: 503, title: "Service unavailable" },
  rate_limiter_unavailable: { status: 503, title: "Rate limiter unavailable" },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface FieldError {
  path: string;
  message: string;
}

export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Extra members of the problem document (e.g. `operation_id`, `errors`). */
  readonly extra: Record<string, unknown>;
  /** Extra response headers (e.g. `Allow`, `Retry-After`). */
  readonly headers: Record<string, string>;

  constructor(
    code: ErrorCode,
    detail: string,
    opts: { extra?: Record<string, unknown>; headers?: Record<string, string> } = {},
  ) {
    super(detail);
    this.name = "ApiError";
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.extra = opts.extra ?? {};
    this.headers = opts.headers ?? {};
  }
}

export function validationError(errors: FieldError[], detail?: string): ApiError {
  const first = errors[0];
  return new ApiError(
    "validation_error",
    detail ?? (first ? `${first.path || "body"}: ${first.message}` : "The request is invalid."),
    { extra: { errors } },
  );
}

export function notFound(what: string, id: string): ApiError {
  return new ApiError("not_found", `No ${what} ${JSON.stringify(id)} in this account.`);
}

/** Turns zod issues into `{path, message}` pairs that name the field. */
export function fieldErrors(error: z.ZodError): FieldError[] {
  const out: FieldError[] = [];
  for (const issue of error.issues) {
    const base = formatPath(issue.path);
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) out.push({ path: formatPath([...issue.path, key]), message: "Unknown field." });
    } else {
      out.push({ path: base, message: issue.message });
    }
  }
  return out;
}

function formatPath(path: readonly PropertyKey[]): string {
  let s = "";
  for (const p of path) s += typeof p === "number" ? `[${p}]` : s ? `.${String(p)}` : String(p);
  return s;
}
