import { and, count, eq, inArray, isNull } from "drizzle-orm";
import type { Queryable } from "@/db/client";
import { account, apiKey, instance } from "@/db/schema";
import type { ServiceContext } from "../context";
import { newId } from "../ids";
import { forgetAllKeys, forgetKey } from "../keys/cache";
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

/** Creates the account, or sets the plan of the existing one. */
export async function upsertAccount(db: Queryable, email: string, plan: PlanName) {
  forgetAllKeys(); // the plan may change
  const [row] = await db
    .insert(account)
    .values({ id: newId("usr"), email: email.toLowerCase(), plan })
    .onConflictDoUpdate({ target: account.email, set: { plan, updatedAt: new Date() } })
    .returning();
  return row!;
}

export async function setPlan(db: Queryable, email: string, plan: PlanName) {
  forgetAllKeys();
  const rows = await db
    .update(account)
    .set({ plan, updatedAt: new Date() })
    .where(eq(account.email, email.toLowerCase()))
    .returning();
  return rows[0] ?? null;
}

/** Overrides (or with null, resets to the plan's) an account's rate limits. */
export async function setLimitOverrides(db: Queryable, email: string, overrides: LimitOverrides | null) {
  forgetAllKeys();
  const rows = await db
    .update(account)
    .set({ limitOverrides: overrides, updatedAt: new Date() })
    .where(eq(account.email, email.toLowerCase()))
    .returning();
  const row = rows[0];
  return row ? { account: row, limits: effectiveLimits(row.plan, row.limitOverrides) } : null;
}

/** Revokes a key by id or by its public prefix; returns whether one was live. */
export async function revokeKeyByOperator(db: Queryable, idOrPrefix: string): Promise<boolean> {
  const where = idOrPrefix.startsWith("moc_")
    ? eq(apiKey.shortId, idOrPrefix.slice(4))
    : eq(apiKey.id, idOrPrefix);
  // The row is locked FOR UPDATE, which waits for the key's mutations in flight (keyStateForCommit).
  const rows = await db
    .update(apiKey)
    .set({ revokedAt: new Date() })
    .where(inArray(apiKey.id, db.select({ id: apiKey.id }).from(apiKey).where(and(where, isNull(apiKey.revokedAt))).for("update")))
    .returning({ id: apiKey.id });
  for (const r of rows) forgetKey(r.id);
  return rows.length > 0;
}
