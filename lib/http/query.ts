import { z } from "zod";
import { ApiError, validationError } from "../errors";
import { validate } from "./body";

/**
 * The query string as an endpoint's schema reads it, in one place for every
 * list:
 *  - a parameter whose schema is an array (a filter built with `anyOf`) is
 *    handed over as an array however often it was given, so
 *    `?status=succeeded&status=failed` means either;
 *  - any other parameter given more than once (`?limit=5&limit=50`,
 *    `?cursor=a&cursor=b`) is refused with 400: the last value silently
 *    winning is how a client ends up with the wrong page;
 *  - parameters the schema does not know are refused with 400.
 * `schema` undefined: the endpoint takes no query at all.
 */
export function readQuery<S extends z.ZodType>(schema: S | undefined, params: URLSearchParams): z.output<S> | undefined {
  const keys = [...new Set(params.keys())];
  if (!schema) {
    if (keys.length === 0) return undefined;
    throw new ApiError("validation_error", `Unknown query parameter \`${keys[0]}\`.`, {
      extra: { errors: keys.map((k) => ({ path: `query.${k}`, message: "Unknown query parameter." })) },
    });
  }
  const shape = (schema as unknown as { shape?: Record<string, z.ZodType> }).shape ?? {};
  const raw: Record<string, string | string[]> = {};
  const repeated: string[] = [];
  for (const key of keys) {
    const values = params.getAll(key);
    const field = shape[key];
    if (field && takesMany(field)) raw[key] = values;
    else if (values.length > 1 && field) repeated.push(key);
    else raw[key] = values[0]!;
  }
  if (repeated.length > 0) {
    throw validationError(repeated.map((k) => ({ path: `query.${k}`, message: "Give this parameter once." })));
  }
  return validate(schema, raw, "query").value;
}

/** Whether a query field's schema is an array, under optional/default wrappers. */
function takesMany(field: z.ZodType): boolean {
  let t: z.ZodType = field;
  for (;;) {
    if (t instanceof z.ZodArray) return true;
    if (t instanceof z.ZodOptional || t instanceof z.ZodDefault || t instanceof z.ZodNullable) t = t.unwrap() as z.ZodType;
    else return false;
  }
}
