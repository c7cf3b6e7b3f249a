import { z } from "zod";
import type { ErrorCode } from "../errors";
import { idPattern, isId, type IdPrefix } from "../ids";

export const timestamp = z.iso.datetime({ offset: true }).meta({ description: "RFC 3339 date-time, UTC", example: "2026-11-27T10:00:00.000Z" });

/**
 * JSON Schema keywords, as metadata, that say what a check of the server's own
 * says, for a check zod cannot render (a refinement that answers its own
 * message or error code). Give them from the constants the check uses. Plain
 * metadata, so both the OpenAPI document and `z.toJSONSchema` (the MCP tools'
 * input schemas) show them.
 */
export const documentedAs = ({ pattern, ...rest }: { pattern?: RegExp; minLength?: number; maxLength?: number; not?: { enum: string[] } }) => ({
  ...rest,
  ...(pattern ? { pattern: pattern.source } : {}),
});

export const idOf = (prefix: IdPrefix) =>
  z
    .string()
    .refine((v) => isId(prefix, v), { message: `Expected an id starting with \`${prefix}_\`.` })
    .meta(documentedAs({ pattern: idPattern(prefix) }));

/**
 * Text the server stores as it is: any characters but NUL, which Postgres text
 * cannot hold (the request body's reader refuses it anywhere, lib/http/body.ts;
 * the pattern says so in the document).
 */
// eslint-disable-next-line no-control-regex
export const NUL_FREE = /^[^\u0000]*$/;
export const text = () => z.string().regex(NUL_FREE, "May not contain NUL characters.");

/** Not only whitespace, and no NUL: what `nonBlank` accepts, as the document says it. */
// eslint-disable-next-line no-control-regex
const NON_BLANK = /^(?=[\s\S]*\S)[^\u0000]*$/;

/** An instance named in a filter: its id (`inst_...`) or its subdomain (anything else matches nothing). */
export const instanceRef = () => text().min(1).max(100);

/** A name: trimmed, 1-`max` characters after trimming (so not blank), no NUL. */
export const nonBlank = (max: number) => text().trim().min(1).max(max).meta(documentedAs({ pattern: NON_BLANK }));

/**
 * A page cursor: the id of the last item of the previous page. One that is
 * not such an id answers `invalid_cursor` (the issue's `params.code`, which
 * the request wrapper's validation turns into that error).
 */
const cursorOf = (prefix: IdPrefix) =>
  z
    .string()
    .refine((v) => isId(prefix, v), {
      message: "Not a cursor this API gave out: copy it from the `Link: rel=\"next\"` header.",
      params: { code: "invalid_cursor" satisfies ErrorCode },
    })
    .meta(documentedAs({ pattern: idPattern(prefix) }));

/**
 * An integer query parameter, written in decimal digits as the document's
 * `type: integer` says: not `0x10`, `1e1` or ` 5`, which a plain number coercion
 * would take.
 */
const queryInteger = (min: number, max: number) =>
  z.preprocess((v) => (typeof v === "string" && /^-?[0-9]+$/.test(v) ? Number(v) : v), z.number().int().min(min).max(max));

/** `?limit=&cursor=` on lists that grow without bound. */
export const pageQuery = (prefix: IdPrefix) =>
  z.strictObject({
    limit: queryInteger(1, 100).default(20).meta({ description: "Items per page, 1-100 (default 20)" }),
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

/** A date-time example that stays in the future: 00:00 UTC on the first of January, two years after `now`. */
export const futureExample = (now = new Date()): string => new Date(Date.UTC(now.getUTCFullYear() + 2, 0, 1)).toISOString();

export const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);
