import { and, count, eq, inArray, isNull, sql } from "drizzle-orm";
import type { Queryable } from "@/db/client";
import { account, apiKey, instance } from "@/db/schema";
import type { ServiceContext } from "../context";
import { newId } from "../ids";
import { publishAuthVersions, raiseAuthVersions, raisedAuthVersion } from "../keys/auth-version";
import { effectiveLimits, type LimitOverrides, type PlanName } from "../plans";

export async function getAccount(ctx: ServiceContext) {
  const [usage] = await ctx.db
    .select({ n: count() })
    .from(instance)
    .where(and(eq(instance.accountId, ctx.account.id), isNull(instance.deletedAt)));
  const l = ctx.account.limits;
  return {
    id: ctx.account.id,
    email: ctx.account.email,
    plan: ctx.account.plan,
    limits: {
      instances: l.instances,
      requests_per_minute: { read: l.rate.read, write: l.rate.write, heavy: l.rate.heavy, account: l.accountPerMinute },
    },
    usage: { instances: usage?.n ?? 0 },
  };
}

// Operator functions (the admin command): no request, no key.

export async function findAccountByEmail(db: Queryable, email: string) {
  const [row] = await db.select().from(account).where(eq(account.email, email.toLowerCase())).limit(1);
  return row ?? null;
}

/*
 * A change to what an account's verified keys carry (plan, limits, a key
 * revoked) raises the account's auth version in its own transaction and
 * publishes it before the commit (lib/keys/auth-version.ts): every server
 * process's next request sees it. Each runs in a transaction of its own (a
 * savepoint when handed one).
 */

/** Creates the account, or sets the plan of the existing one. */
export async function upsertAccount(db: Queryable, email: string, plan: PlanName) {
  return db.transaction(async (tx) => {
    const [row] = await tx
      .insert(account)
      .values({ id: newId("usr"), email: email.toLowerCase(), plan })
      .onConflictDoUpdate({
        target: account.email,
        set: { plan, updatedAt: new Date(), authVersion: sql`case when ${account.plan} = excluded.plan then ${account.authVersion} else ${raisedAuthVersion()} end` },
      })
      .returning();
    // A new account (version 0) has no keys anyone remembers; an existing one may have changed plan.
    if (row!.authVersion > 0) await publishAuthVersions([row!]);
    return row!;
  });
}

export async function setPlan(db: Queryable, email: string, plan: PlanName) {
  return db.transaction(async (tx) => {
    const rows = await tx
      .update(account)
      .set({ plan, updatedAt: new Date(), authVersion: raisedAuthVersion() })
      .where(eq(account.email, email.toLowerCase()))
      .returning();
    await publishAuthVersions(rows);
    return rows[0] ?? null;
  });
}

/** Overrides (or with null, resets to the plan's) an account's rate limits. */
export async function setLimitOverrides(db: Queryable, email: string, overrides: LimitOverrides | null) {
  return db.transaction(async (tx) => {
    const rows = await tx
      .update(account)
      .set({ limitOverrides: overrides, updatedAt: new Date(), authVersion: raisedAuthVersion() })
      .where(eq(account.email, email.toLowerCase()))
      .returning();
    await publishAuthVersions(rows);
    const row = rows[0];
    return row ? { account: row, limits: effectiveLimits(row.plan, row.limitOverrides) } : null;
  });
}

/** Revokes a key by id or by its public prefix; returns whether one was live. */
export async function revokeKeyByOperator(db: Queryable, idOrPrefix: string): Promise<boolean> {
  const where = idOrPrefix.startsWith("moc_")
    ? eq(apiKey.shortId, idOrPrefix.slice(4))
    : eq(apiKey.id, idOrPrefix);
  return db.transaction(async (tx) => {
    // The row is locked FOR UPDATE, which waits for the key's mutations in flight (keyStateForCommit).
    const rows = await tx
      .update(apiKey)
      .set({ revokedAt: new Date() })
      .where(inArray(apiKey.id, tx.select({ id: apiKey.id }).from(apiKey).where(and(where, isNull(apiKey.revokedAt))).for("update")))
      .returning({ id: apiKey.id, accountId: apiKey.accountId });
    await raiseAuthVersions(tx, rows.map((r) => r.accountId));
    return rows.length > 0;
  });
}
