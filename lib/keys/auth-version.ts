import { inArray, sql } from "drizzle-orm";
import type { Queryable } from "@/db/client";
import { account } from "@/db/schema";
import { rateLimiter } from "../ratelimit";

/**
 * An account's auth version (`account.auth_version`) is how a change to what
 * its verified keys carry reaches every server process that remembers one of
 * them (lib/keys/cache.ts), at its next request, not after a cache timeout:
 *
 *  1. the change (a key revoked, the plan, the limits) raises the version in
 *     the same transaction as itself;
 *  2. still inside that transaction, before it commits, the new version is
 *     published to the rate limiter's store (Upstash Redis; in-process for the
 *     embedded limiter), which keeps the highest it was told; a store that
 *     cannot be reached throws RateLimiterUnavailable and the change rolls back;
 *  3. every request's rate-limit check carries the version its principal was
 *     read at, in the same round trip as the windows (`RateCheck.authVersion`):
 *     a remembered principal older than the store's is "stale", not counted,
 *     and read again from the database.
 *
 * Published before the commit, the store is never behind the database: a
 * process that reads the account after the change committed has also been
 * told. A principal read while the change was still uncommitted carries the
 * old version and is refused as stale from then on (and one read fresh then is
 * not remembered: the check answers "newer").
 */

/** Publishes these accounts' versions, as a change's transaction returns them (raised in its own UPDATE). */
export async function publishAuthVersions(rows: readonly { id: string; authVersion: number }[]): Promise<void> {
  for (const r of rows) await rateLimiter().publishAuthVersion(r.id, r.authVersion);
}

/** Raises and publishes the versions of these accounts, inside the transaction `tx` of the change. */
export async function raiseAuthVersions(tx: Queryable, accountIds: readonly string[]): Promise<void> {
  const ids = [...new Set(accountIds)];
  if (ids.length === 0) return;
  const rows = await tx
    .update(account)
    .set({ authVersion: raisedAuthVersion() })
    .where(inArray(account.id, ids))
    .returning({ id: account.id, authVersion: account.authVersion });
  await publishAuthVersions(rows);
}

/** The SET clause that raises the version in a change's own UPDATE of the account. */
export const raisedAuthVersion = () => sql`${account.authVersion} + 1`;
