import { z } from "zod";
import type { ErrorCode } from "../errors";
import { isId, type IdPrefix } from "../ids";

export const timestamp = z.iso.datetime({ offset: true }).meta({ description: "RFC 3339 date-time, UTC", example: "2026-11-27T10:00:00.000Z" });

export const idOf = (prefix: IdPrefix) =>
  z.string().refine((v) => isId(prefix, v), { message: `Expected an id starting with \`${prefix}_\`.` });

/**
 * A page cursor: the id of the last item of the previous page. One that is
 * not such an id answers `invalid_cursor` (the issue's `params.code`, which
 * the request wrapper's validation turns into that error).
 */
const cursorOf = (prefix: IdPrefix) =>
  z.string().refine((v) => isId(prefix, v), {
    message: "Not a cursor this API gave out: copy it from the `Link: rel=\"next\"` header.",
    params: { code: "invalid_cursor" satisfies ErrorCode },
  });

/** `?limit=&cursor=` on lists that grow without bound. */
export const pageQuery = (prefix: IdPrefix) =>
  z.strictObject({
    limit: z.coerce.number().int().min(1).max(100).default(20).meta({ description: "Items per page, 1-100 (default 20)" }),
    cursor: cursorOf(prefix).optional().meta({ description: "Where the next page starts: copy it from the `Link: rel=\"next\"` header" }),
  });

/**
 * An optional list filter that takes one value or several, as OR:
 * `?status=succeeded&status=failed`. Documented as an exploded form parameter
 * (OpenAPI 3.1, 4.8.12.4: `style: form`, `explode: true`); the request wrapper
 * hands it over as an array however often it was given (lib/http/query.ts).
 */
export const anyOf = <T extends z.ZodType>(item: T, description: string) => {
  const text = `${description}. Repeat the parameter for several (any of them matches).`;
  return z
    .array(item)
    .min(1)
    .max(MAX_FILTER_VALUES)
    .optional()
    .meta({ description: text, param: { description: text, style: "form", explode: true } });
};

/** How many values one filter takes: enough for every status at once, few enough to bound the query. */
export const MAX_FILTER_VALUES = 20;

export const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);
