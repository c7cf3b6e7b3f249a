import { z } from "zod";
import { ERROR_CODES, type ErrorCode } from "../errors";
import { errorTypeUri } from "../http/problem";

/**
 * What a caller should do about each error code: shown on /docs/errors and in
 * the OpenAPI document. Partial on purpose, so that a new code in ERROR_CODES
 * does not break the build; tests/openapi checks that every code has advice.
 */
export const ERROR_ADVICE: Partial<Record<ErrorCode, string>> = {
  missing_api_key: "Send your API key in the `Authorization: Bearer moc_...` header.",
  invalid_api_key:
    "Check that the key was copied whole (a mistyped key fails its checksum), that the header reads `Bearer <key>`, and that the key has not been revoked. Create a new key if in doubt.",
  api_key_expired: "The key passed its `expires_at`. Create a new key with `POST /api/v1/keys` and switch to it.",
  cookies_not_allowed:
    "The API accepts API keys only. Call it from a script or server, not with a browser session; send no `Cookie` header.",
  plan_without_api_access: "API access comes with the Pro and Business plans. Upgrade the account, then retry.",
  insufficient_scope:
    "The key lacks the scope named in `required_scope` (or `missing_scopes` when creating a key). Use a key that holds it, or create one with it.",
  not_found:
    "No such resource in this account. Check the id (or, for instances, the subdomain); another account's resources are reported as not found too.",
  route_not_found: "No endpoint has this path. Check it against the API reference at /docs.",
  method_not_allowed: "This path does not accept the method. The `Allow` header lists the methods it does accept.",
  invalid_path: "The path is not valid percent-encoding of UTF-8 text (a stray `%`, or `%FF`). Encode each path segment with `encodeURIComponent`.",
  malformed_json: "The body is not valid JSON (or not UTF-8). Check quoting and commas, e.g. with `jq . body.json`.",
  validation_error:
    "A field is missing, unknown or invalid. `errors` lists each problem with its `path` (e.g. `scopes[0]`, `query.limit`) and a message.",
  invalid_cursor: "The `cursor` is not one this API gave out. Copy it from the previous page's `Link: rel=\"next\"` header.",
  invalid_idempotency_key: "An `Idempotency-Key` must be 1-255 printable ASCII characters, bare or in double quotes.",
  payload_too_large: "Request bodies are limited to 64 KiB. Send less.",
  unsupported_media_type: "Send the body as JSON with `Content-Type: application/json`.",
  instance_limit_reached:
    "The plan's instance limit is reached (`limit`, `usage`). Delete an instance you no longer need, or upgrade to Business.",
  subdomain_taken: "Another live instance has this subdomain. Pick another one.",
  operation_in_progress:
    "The instance is busy with another operation (`operation_id`). Wait for it to finish (poll it, or use a webhook), then retry.",
  invalid_instance_state:
    "The request does not make sense in the instance's current `status` (e.g. starting a running instance). Read the instance, then act on its state.",
  idempotency_key_in_use: "A request with this `Idempotency-Key` is still executing. Retry after `Retry-After` seconds to get its result.",
  idempotency_key_reused:
    "This `Idempotency-Key` was already used for a different request (method, path or body). Use a new key for each new request.",
  webhook_url_not_allowed:
    "Webhook URLs must be public `https://` URLs; private, loopback and link-local addresses are refused.",
  webhook_endpoint_limit_reached:
    "The account has as many webhook endpoints as it may (`limit`). Delete one, or subscribe an existing endpoint to more events.",
  webhook_endpoint_disabled:
    "The endpoint is paused (by you, or after failing for too long). Re-enable it with `PATCH {\"enabled\": true}`, then retry.",
  rate_limited:
    "A rate limit is used up: `limit` says whether it was the key's, the account's, or one on failed authentications (`auth-failures-key`, `auth-failures-address`, `auth-failures`). Wait `Retry-After` seconds; spread requests or use more keys for the per-key limits; check the key when authentications fail.",
  internal_error: "Something failed on our side. Retry later, and quote `request_id` if you contact support.",
  service_unavailable: "A service the API depends on is unavailable. Retry after `Retry-After` seconds.",
  rate_limiter_unavailable:
    "The rate limiter could not be reached, so the request was refused without being executed (fail closed). Retry after `Retry-After` seconds.",
};

export function adviceFor(code: ErrorCode): string {
  return ERROR_ADVICE[code] ?? "See `detail` for what went wrong.";
}

export interface ErrorDoc {
  code: ErrorCode;
  status: number;
  title: string;
  advice: string;
}

/** Every code, in the table's order, with what to do about it. */
export function errorDocs(): ErrorDoc[] {
  return (Object.keys(ERROR_CODES) as ErrorCode[]).map((code) => ({
    code,
    status: ERROR_CODES[code].status,
    title: ERROR_CODES[code].title,
    advice: adviceFor(code),
  }));
}

const ERROR_CODE_LIST = Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]];

/** The problem+json document (RFC 9457) every error answers with. */
export const problemSchema = z
  .looseObject({
    type: z.string().meta({ description: "Where this code is documented: `/docs/errors#<code>`", example: errorTypeUri("invalid_api_key") }),
    title: z.string().meta({ description: "A short summary of the code, the same for every occurrence", example: "Invalid API key" }),
    status: z.number().int().meta({ description: "The HTTP status", example: 401 }),
    detail: z.string().meta({ description: "What went wrong this time, for a person", example: "The API key is not valid." }),
    code: z.enum(ERROR_CODE_LIST).meta({ description: "A stable, machine-readable code: branch on this" }),
    request_id: z.string().meta({ description: "Also in the `X-Request-Id` header; quote it to support", example: "req_4f9c0d2a7b1e4c3d9a8b7c6d5e4f3a2b" }),
    errors: z
      .array(z.object({ path: z.string(), message: z.string() }))
      .optional()
      .meta({ description: "`validation_error` only: each invalid field, e.g. `{\"path\": \"scopes[0]\", \"message\": \"...\"}`" }),
    required_scope: z.string().optional().meta({ description: "`insufficient_scope`: the scope the endpoint needs" }),
    missing_scopes: z.array(z.string()).optional().meta({ description: "`insufficient_scope` on key creation: the scopes the creating key lacks" }),
    operation_id: z.string().optional().meta({ description: "`operation_in_progress`: the operation that holds the instance" }),
    limit: z
      .union([z.enum(["key", "account"]), z.number().int()])
      .optional()
      .meta({ description: "`rate_limited`: which limit was hit (`key` or `account`); `instance_limit_reached`: the plan's instance limit" }),
    rate_class: z.enum(["read", "write", "heavy"]).optional().meta({ description: "`rate_limited`: the request's rate class" }),
    usage: z.number().int().optional().meta({ description: "`instance_limit_reached`: live instances counted against the limit" }),
  })
  .meta({ id: "Problem", description: "An error, as `application/problem+json` (RFC 9457). Further members may appear; ignore those you do not know." });

/** An example problem document for a code, as the API would answer it. */
export function exampleProblem(code: ErrorCode): Record<string, unknown> {
  const { status, title } = ERROR_CODES[code];
  const extra: Record<string, unknown> =
    code === "validation_error"
      ? { errors: [{ path: "name", message: "Invalid input: expected string, received undefined" }] }
      : code === "insufficient_scope"
        ? { required_scope: "instance:write" }
        : code === "rate_limited"
          ? { limit: "key", rate_class: "read" }
          : code === "operation_in_progress"
            ? { operation_id: "op_01jd3z6v7a8b9c0d1e2f3g4h5j" }
            : {};
  return {
    type: errorTypeUri(code),
    title,
    status,
    detail: `${title}.`,
    code,
    request_id: "req_4f9c0d2a7b1e4c3d9a8b7c6d5e4f3a2b",
    ...extra,
  };
}
