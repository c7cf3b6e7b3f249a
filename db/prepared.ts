import { is } from "drizzle-orm";
import { PgTransaction } from "drizzle-orm/pg-core";
import type { Queryable } from "./client";

type Values = Record<string, unknown>;
interface Runnable<R> {
  execute(values?: Values): Promise<R>;
}
interface Preparable<R> extends Runnable<R> {
  prepare(name: string): Runnable<R>;
}

/**
 * A query on the request path, prepared once per database client: drizzle
 * builds its SQL once instead of at every request, and with the pg driver and
 * Neon's Pool the server parses and plans it once per connection (a named
 * prepared statement, https://www.postgresql.org/docs/current/sql-prepare.html);
 * PGlite runs the same text each time. Values are `sql.placeholder(<name>)` in
 * the query and a record at each call. Inside a transaction the query runs as
 * built, on the transaction (a prepared one belongs to the pool's sessions).
 * `name` is the statement's name: one per query text.
 */
export function hotQuery<R>(name: string, build: (q: Queryable) => Preparable<R>): (q: Queryable, values: Values) => Promise<R> {
  const prepared = new WeakMap<Queryable, Runnable<R>>();
  return (q, values) => {
    if (is(q, PgTransaction)) return build(q).execute(values);
    let p = prepared.get(q);
    if (!p) prepared.set(q, (p = build(q).prepare(name)));
    return p.execute(values);
  };
}
