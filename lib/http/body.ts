import type { z } from "zod";
import { ApiError, ERROR_CODES, fieldErrors, validationError, type ErrorCode } from "../errors";
import { NUL_FREE } from "../schemas/common";

export const MAX_BODY_BYTES = 64 * 1024;

async function readLimited(req: Request): Promise<string> {
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > MAX_BODY_BYTES) throw tooLarge();
  if (!req.body) return "";
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  const bytes = Buffer.concat(chunks);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new ApiError("malformed_json", "The request body is not valid UTF-8.");
  }
}

function tooLarge() {
  return new ApiError("payload_too_large", `The request body exceeds ${MAX_BODY_BYTES} bytes.`);
}

function isJsonType(contentType: string | null): boolean {
  if (!contentType) return false;
  const type = contentType.split(";")[0]!.trim().toLowerCase();
  return type === "application/json" || /^application\/[a-z0-9.+-]+\+json$/.test(type);
}

/**
 * Reads and validates a JSON body. Endpoints without a body schema accept an
 * empty body whatever its content type (so `curl -X POST` works) or `{}`.
 */
export async function parseBody<S extends z.ZodType>(req: Request, schema: S | undefined): Promise<{ value: z.output<S> | undefined; raw: unknown }> {
  const text = await readLimited(req);
  if (text.trim() === "") {
    if (!schema) return { value: undefined, raw: undefined };
    return validate(schema, {});
  }
  if (!isJsonType(req.headers.get("content-type"))) {
    throw new ApiError("unsupported_media_type", "Send the body as JSON with `Content-Type: application/json`.", {
      headers: { "accept-post": "application/json" },
    });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ApiError("malformed_json", `The request body is not valid JSON: ${(err as Error).message}`);
  }
  const problem = inspectJson(raw);
  if (problem) throw validationError([problem]);
  if (!schema) {
    if (raw !== null && typeof raw === "object" && !Array.isArray(raw) && Object.keys(raw).length === 0) {
      return { value: undefined, raw };
    }
    throw validationError([{ path: "", message: "This endpoint takes no request body." }]);
  }
  return validate(schema, raw);
}

export const MAX_JSON_DEPTH = 32;

/**
 * Walks a parsed body without recursion (a 5,000-deep array must not blow the
 * stack) and names the first problem a schema cannot: nesting deeper than any
 * document of this API, or a NUL character, which Postgres text cannot hold.
 */
export function inspectJson(root: unknown): { path: string; message: string } | null {
  const stack: [unknown, string, number][] = [[root, "", 0]];
  while (stack.length > 0) {
    const [v, path, depth] = stack.pop()!;
    if (typeof v === "string") {
      if (!NUL_FREE.test(v)) return { path, message: "Text may not contain NUL characters (\\u0000)." };
    } else if (v !== null && typeof v === "object") {
      if (depth >= MAX_JSON_DEPTH) return { path, message: `Nested deeper than ${MAX_JSON_DEPTH} levels.` };
      const entries = Array.isArray(v) ? v.map((x, i) => [`[${i}]`, x] as const) : Object.entries(v).map(([k, x]) => [path ? `.${k}` : k, x] as const);
      for (const [suffix, x] of entries) {
        if (!Array.isArray(v) && suffix.includes("\0")) return { path: path + suffix, message: "Field names may not contain NUL characters." };
        stack.push([x, path + suffix, depth + 1]);
      }
    }
  }
  return null;
}

/**
 * Parses `raw` with `schema`, or throws validation_error naming every
 * problem. A check may name its own code in its issue's `params.code` (a
 * page cursor: invalid_cursor); when every problem names the same one, that
 * is the error answered.
 */
export function validate<S extends z.ZodType>(schema: S, raw: unknown, where?: string): { value: z.output<S>; raw: unknown } {
  const result = schema.safeParse(raw);
  if (!result.success) {
    const errors = fieldErrors(result.error).map((e) => (where ? { ...e, path: e.path ? `${where}.${e.path}` : where } : e));
    const codes = new Set(result.error.issues.map((i) => (i.code === "custom" ? (i.params as { code?: unknown } | undefined)?.code : undefined)));
    const [only] = codes;
    if (codes.size === 1 && typeof only === "string" && only in ERROR_CODES) {
      throw new ApiError(only as ErrorCode, errors[0]?.message ?? "Invalid.", { extra: { errors } });
    }
    throw validationError(errors);
  }
  return { value: result.data, raw };
}
