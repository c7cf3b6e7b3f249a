import type { z } from "zod";

/**
 * Every error the API can answer, as data: a stable code, its HTTP status, a
 * title, what a caller should do about it (shown on /docs/errors and in the
 * OpenAPI document), and, where waiting helps, how many seconds to wait
 * (sent as `Retry-After`). Services throw `ApiError(code, detail)`; only the
 * request wrapper turns one into problem+json (RFC 9457).
 */
export interface ErrorSpec {
  status: number;
  title: string;
  /** What to do about it, for a person reading the docs. */
  advice: string;
  /** Seconds to wait before retrying, sent as `Retry-After` with every answer of this code (a thrower may name a closer time). */
  retryAfter?: number;
}

export const ERROR_CODES = {
  missing_api_key: {
    status: 401,
    title: "API key required",
    advice: "Send your API key in the `Authorization: Bearer moc_...` header.",
  },
  invalid_api_key: {
    status: 401,
    title: "Invalid API key",
    advice: "Check that the key was copied whole (a mistyped key fails its checksum), that the header reads `Bearer <key>`, and that the key has not been revoked. Create a new key if in doubt.",
  },
  api_key_expired: {
    status: 401,
    title: "API key expired",
    advice: "The key passed its `expires_at`. Create a new key with `POST /api/v1/keys` and switch to it.",
  },
  invalid_operator_token: {
    status: 401,
    title: "Invalid operator token",
    advice:
      "Operator endpoints only (`npm run admin` talking to a running server): send the operator token, `OPERATOR_TOKEN` or the embedded server's `DATA_DIR/operator-token`.",
  },
  cookies_not_allowed: {
    status: 403,
    title: "Cookies are not accepted",
    advice: "The API accepts API keys only. Call it from a script or server, not with a browser session; send no `Cookie` header.",
  },
  plan_without_api_access: {
    status: 403,
    title: "Plan has no API access",
    advice: "API access comes with the Pro and Business plans. Upgrade the account, then retry.",
  },
  insufficient_scope: {
    status: 403,
    title: "Insufficient scope",
    advice: "The key lacks the scope named in `required_scope` (or `missing_scopes` when creating a key). Use a key that holds it, or create one with it.",
  },
  not_found: {
    status: 404,
    title: "Not found",
    advice: "No such resource in this account. Check the id (or, for instances, the subdomain); another account's resources are reported as not found too.",
  },
  route_not_found: {
    status: 404,
    title: "No such route",
    advice: "No endpoint has this path. Check it against the API reference at /docs.",
  },
  method_not_allowed: {
    status: 405,
    title: "Method not allowed",
    advice: "This path does not accept the method. The `Allow` header lists the methods it does accept.",
  },
  invalid_path: {
    status: 400,
    title: "Invalid path",
    advice: "The path is not valid percent-encoding of UTF-8 text (a stray `%`, or `%FF`). Encode each path segment with `encodeURIComponent`.",
  },
  malformed_json: {
    status: 400,
    title: "Malformed JSON",
    advice: "The body is not valid JSON (or not UTF-8). Check quoting and commas, e.g. with `jq . body.json`.",
  },
  validation_error: {
    status: 400,
    title: "Invalid request",
    advice: "A field is missing, unknown or invalid. `errors` lists each problem with its `path` (e.g. `scopes[0]`, `query.limit`) and a message.",
  },
  invalid_cursor: {
    status: 400,
    title: "Invalid cursor",
    advice: "The `cursor` is not one this API gave out. Copy it from the previous page's `Link: rel=\"next\"` header.",
  },
  unsupported_version: {
    status: 400,
    title: "Version not offered",
    advice: "The OpenClaw `version` is unknown or deprecated. `GET /api/v1/versions` lists the versions on offer; leave `version` out for the default one.",
  },
  invalid_idempotency_key: {
    status: 400,
    title: "Invalid Idempotency-Key",
    advice: "An `Idempotency-Key` must be 1-255 printable ASCII characters, bare or in double quotes.",
  },
  payload_too_large: {
    status: 413,
    title: "Request body too large",
    advice: "Request bodies are limited to 64 KiB. Send less.",
  },
  unsupported_media_type: {
    status: 415,
    title: "Unsupported media type",
    advice: "Send the body as JSON with `Content-Type: application/json`.",
  },
  instance_limit_reached: {
    status: 409,
    title: "Instance limit reached",
    advice: "The plan's instance limit is reached (`limit`, `usage`). Delete an instance you no longer need, or upgrade to Business.",
  },
  subdomain_taken: {
    status: 409,
    title: "Subdomain taken",
    advice: "Another live instance has this subdomain. Pick another one.",
  },
  operation_in_progress: {
    status: 409,
    title: "Operation in progress",
    retryAfter: 2,
    advice: "The instance is busy with another operation (`operation_id`). Wait for it to finish (poll it, or use a webhook), then retry.",
  },
  invalid_instance_state: {
    status: 409,
    title: "Invalid instance state",
    advice: "The request does not make sense in the instance's current `status` (e.g. starting a running instance). Read the instance, then act on its state.",
  },
  backup_not_ready: {
    status: 409,
    title: "Backup not ready",
    advice: "Only a `ready` backup can be restored. A `creating` one is ready within minutes (list the backups again); a `failed` one never will be: pick another.",
  },
  idempotency_key_in_use: {
    status: 409,
    title: "Idempotency key in use",
    retryAfter: 1,
    advice: "A request with this `Idempotency-Key` is still executing. Retry after `Retry-After` seconds to get its result.",
  },
  idempotency_key_reused: {
    status: 422,
    title: "Idempotency key reused",
    advice: "This `Idempotency-Key` was already used for a different request (method, path or body). Use a new key for each new request.",
  },
  webhook_url_not_allowed: {
    status: 422,
    title: "Webhook URL not allowed",
    advice: "Webhook URLs must be public `https://` URLs; private, loopback and link-local addresses are refused.",
  },
  webhook_endpoint_limit_reached: {
    status: 409,
    title: "Webhook endpoint limit reached",
    advice: "The account has as many webhook endpoints as it may (`limit`). Delete one, or subscribe an existing endpoint to more events.",
  },
  webhook_endpoint_disabled: {
    status: 409,
    title: "Webhook endpoint disabled",
    advice: "The endpoint is paused (by you, or after failing for too long). Re-enable it with `PATCH {\"enabled\": true}`, then retry.",
  },
  rate_limited: {
    status: 429,
    title: "Rate limit exceeded",
    retryAfter: 60,
    advice: "A rate limit is used up: `limit` says whether it was the key's, the account's, or one on failed authentications (`auth-failures-key`, `auth-failures-address`, `auth-failures`). Wait `Retry-After` seconds; spread requests or use more keys for the per-key limits; check the key when authentications fail.",
  },
  internal_error: {
    status: 500,
    title: "Internal error",
    advice: "Something failed on our side. Retry later, and quote `request_id` if you contact support.",
  },
  service_unavailable: {
    status: 503,
    title: "Service unavailable",
    retryAfter: 5,
    advice: "A service the API depends on (the database) could not be reached, so the request was not executed. Retry after `Retry-After` seconds.",
  },
  rate_limiter_unavailable: {
    status: 503,
    title: "Rate limiter unavailable",
    retryAfter: 5,
    advice: "The rate limiter could not be reached, so the request was refused without being executed (fail closed). Retry after `Retry-After` seconds.",
  },
} as const satisfies Record<string, ErrorSpec>;

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
  /** Extra response headers (e.g. `Allow`). */
  readonly headers: Record<string, string>;
  /** Seconds to wait before retrying (`Retry-After`): the thrower's, else the code's in ERROR_CODES, else none. */
  readonly retryAfter: number | undefined;

  constructor(
    code: ErrorCode,
    detail: string,
    opts: { extra?: Record<string, unknown>; headers?: Record<string, string>; retryAfter?: number } = {},
  ) {
    super(detail);
    this.name = "ApiError";
    this.code = code;
    const spec: ErrorSpec = ERROR_CODES[code];
    this.status = spec.status;
    this.extra = opts.extra ?? {};
    this.headers = opts.headers ?? {};
    this.retryAfter = opts.retryAfter ?? spec.retryAfter;
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
