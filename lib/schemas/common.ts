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

export const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);
