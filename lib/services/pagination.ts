import { asc, desc, gt, lt, type SQL } from "drizzle-orm";
import type { AnyPgColumn } from "drizzle-orm/pg-core";

/** A list's `?limit=&cursor=` (lib/schemas/common.ts pageQuery has checked both). */
export interface PageQuery {
  limit: number;
  cursor?: string;
}

/** One page, and the cursor of the next (null on the last); the wrapper's `page()` reply links it. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/**
 * Keyset pagination over an id column (ids sort by creation time, lib/ids.ts):
 * the page after the cursor in the list's order, read one row beyond the
 * limit to learn whether another page follows. `query` runs the list's own
 * select with the condition, order and limit it is handed.
 */
export async function paginate<R extends { id: string }, T>(
  q: PageQuery,
  by: { column: AnyPgColumn; order: "asc" | "desc" },
  query: (page: { after: SQL | undefined; orderBy: SQL; limit: number }) => Promise<R[]>,
  toItem: (row: R) => T,
): Promise<Page<T>> {
  const after = q.cursor === undefined ? undefined : by.order === "asc" ? gt(by.column, q.cursor) : lt(by.column, q.cursor);
  const rows = await query({ after, orderBy: by.order === "asc" ? asc(by.column) : desc(by.column), limit: q.limit + 1 });
  const kept = rows.slice(0, q.limit);
  return { items: kept.map(toItem), nextCursor: rows.length > q.limit ? kept[kept.length - 1]!.id : null };
}
