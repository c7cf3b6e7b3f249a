import { and, eq, isNull, lt, or, sql } from "drizzle-orm";
import type { Db, Queryable } from "@/db/client";
import { hotQuery } from "@/db/prepared";
import { account, apiKey } from "@/db/schema";
import { effectiveLimits, PLANS, type EffectiveLimits, type PlanName } from "../plans";
import type { Scope } from "../scopes";
import { apiKeyPeppers } from "../secrets";
import { hashSecret, parseToken, verifySecret } from "./token";

export interface Principal {
  account: { id: string; email: string; plan: PlanName; apiAccess: boolean; limits: EffectiveLimits };
  key: { id: string; scopes: Scope[] };
}

/** What is stored for a key's secret: enough to check a secret again without the database. */
export interface StoredSecret {
  secretHash: string;
  pepperVersion: number;
}

export type Verification =
  | {
      ok: true;
      principal: Principal;
      /** The account's auth version this was read at (lib/keys/auth-version.ts). */
      authVersion: number;
      pepperVersion: number;
      lastUsedAt: Date | null;
      expiresAt: Date | null;
      stored: StoredSecret;
      /** Set when this process remembered it (lib/keys/cache.ts) instead of reading it for this request. */
      remembered?: boolean;
    }
  | {
      ok: false;
      reason: "malformed" | "unknown" | "revoked" | "expired";
      /** For "unknown": whether no key has the token's public id at all, or one has and the secret is wrong. */
      unknown?: "no_such_key" | "wrong_secret";
      /** The key's stored secret when the row exists (a wrong secret, revoked, expired). */
      stored?: StoredSecret;
    };

/** The key and its account by the token's public short id: the query of every request with a key this process does not remember. */
const keyByShortId = hotQuery("moc_key_by_short_id", (db) =>
  db
    .select({
      keyId: apiKey.id,
      secretHash: apiKey.secretHash,
      pepperVersion: apiKey.pepperVersion,
      scopes: apiKey.scopes,
      expiresAt: apiKey.expiresAt,
      revokedAt: apiKey.revokedAt,
      lastUsedAt: apiKey.lastUsedAt,
      accountId: account.id,
      email: account.email,
      plan: account.plan,
      limitOverrides: account.limitOverrides,
      authVersion: account.authVersion,
    })
    .from(apiKey)
    .innerJoin(account, eq(account.id, apiKey.accountId))
    .where(eq(apiKey.shortId, sql.placeholder("shortId")))
    .limit(1),
);

/**
 * The key check as an explicit sequence: shape and checksum (no database
 * touched for a mistyped token), lookup by the public short id, constant-time
 * hash comparison, revocation, expiry. Failures are values; only
 * infrastructure problems throw.
 */
export async function verifyToken(db: Db, token: string, now = new Date()): Promise<Verification> {
  const parsed = parseToken(token);
  if (!parsed) return { ok: false, reason: "malformed" };
  const [row] = await keyByShortId(db, { shortId: parsed.shortId });
  if (!row) return { ok: false, reason: "unknown", unknown: "no_such_key" };
  const stored = { secretHash: row.secretHash, pepperVersion: row.pepperVersion };
  if (!verifySecret(parsed.secret, row.secretHash, row.pepperVersion, apiKeyPeppers())) {
    return { ok: false, reason: "unknown", unknown: "wrong_secret", stored };
  }
  if (row.revokedAt) return { ok: false, reason: "revoked", stored };
  if (row.expiresAt && row.expiresAt <= now) return { ok: false, reason: "expired", stored };
  return {
    ok: true,
    stored,
    authVersion: row.authVersion,
    pepperVersion: row.pepperVersion,
    lastUsedAt: row.lastUsedAt,
    expiresAt: row.expiresAt,
    principal: {
      account: {
        id: row.accountId,
        email: row.email,
        plan: row.plan,
        apiAccess: PLANS[row.plan].apiAccess,
        limits: effectiveLimits(row.plan, row.limitOverrides),
      },
      key: { id: row.keyId, scopes: row.scopes },
    },
  };
}

/**
 * Whether a key may still commit a mutation, read inside the mutation's own
 * transaction with a FOR KEY SHARE lock on the key's row. A revocation locks
 * the row FOR UPDATE first (revokeKey, revokeKeyByOperator), which waits for
 * every mutation holding the key share to commit; a mutation that reaches this
 * point after a revocation committed sees it. So once a revocation has
 * answered, nothing more happens with the key, however slowly a request made
 * with it arrived (a body still streaming when it was revoked). KEY SHARE, not
 * SHARE: recording the key's last use (an UPDATE of other columns) must not
 * queue the key's concurrent mutations behind one another.
 * The account's plan is read in the same statement, so a mutation whose body
 * was still arriving when its account moved to a plan without API access
 * changes nothing either.
 * Answers null when the key is live, otherwise why not.
 */
export async function keyStateForCommit(
  tx: Queryable,
  keyId: string,
  now = new Date(),
): Promise<"revoked" | "expired" | { noApiAccess: PlanName } | null> {
  const [row] = await tx
    .select({ revokedAt: apiKey.revokedAt, expiresAt: apiKey.expiresAt, plan: account.plan })
    .from(apiKey)
    .innerJoin(account, eq(account.id, apiKey.accountId))
    .where(eq(apiKey.id, keyId))
    .for("key share", { of: apiKey });
  if (!row || row.revokedAt) return "revoked";
  if (row.expiresAt && row.expiresAt <= now) return "expired";
  // The plan as committed now (not locked: a plan change that commits after this read is ordered after the mutation).
  if (!PLANS[row.plan].apiAccess) return { noApiAccess: row.plan };
  return null;
}

/** Touching last_used_at at most once a minute keeps a write off the hot path. */
const LAST_USED_RESOLUTION_MS = 60_000;

/** Whether `afterVerified` has anything to do (most requests: nothing). */
export function needsAfterVerified(v: Extract<Verification, { ok: true }>, now = new Date()): boolean {
  return v.pepperVersion !== apiKeyPeppers()[0]!.version || !v.lastUsedAt || now.getTime() - v.lastUsedAt.getTime() >= LAST_USED_RESOLUTION_MS;
}

/**
 * Work to do after a successful verification, off the response's path:
 * record last use (throttled) and re-hash under the newest pepper when the key
 * was hashed under an older one, so old peppers can be retired.
 */
export async function afterVerified(db: Db, token: string, v: Extract<Verification, { ok: true }>, now = new Date()): Promise<void> {
  const peppers = apiKeyPeppers();
  const current = peppers[0]!;
  const keyId = v.principal.key.id;
  if (v.pepperVersion !== current.version) {
    const parsed = parseToken(token)!;
    await db
      .update(apiKey)
      .set({ secretHash: hashSecret(parsed.secret, current), pepperVersion: current.version, lastUsedAt: now })
      .where(and(eq(apiKey.id, keyId), eq(apiKey.pepperVersion, v.pepperVersion)));
    return;
  }
  if (v.lastUsedAt && now.getTime() - v.lastUsedAt.getTime() < LAST_USED_RESOLUTION_MS) return;
  await db
    .update(apiKey)
    .set({ lastUsedAt: now })
    .where(
      and(
        eq(apiKey.id, keyId),
        or(isNull(apiKey.lastUsedAt), lt(apiKey.lastUsedAt, sql`${now.toISOString()}::timestamptz - interval '60 seconds'`)),
      ),
    );
}
