import { z } from "zod";
import { ERROR_CODES, type ErrorCode } from "../errors";
import { errorTypeUri } from "../http/problem";

export interface ErrorDoc {
  code: ErrorCode;
  status: number;
  title: string;
  advice: string;
}

/** Every code, in the table's order, with what to do about it. */
export function errorDocs(): ErrorDoc[] {
  return (Object.keys(ERROR_CODES) as ErrorCode[]).map((code) => {
    const { status, title, advice } = ERROR_CODES[code];
    return { code, status, title, advice };
  });
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
      .union([z.enum(["key", "account", "auth-failures-key", "auth-failures-address", "auth-failures"]), z.number().int()])
      .optional()
      .meta({
        description:
          "`rate_limited`: which limit was hit (`key` or `account`, or a limit on failed authentications); `instance_limit_reached`: the plan's instance limit",
      }),
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
