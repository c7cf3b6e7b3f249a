import { and, eq, isNull } from "drizzle-orm";
import type { Queryable } from "@/db/client";
import { apiKey } from "@/db/schema";
import { ApiError, notFound } from "../errors";
import type { ServiceContext } from "../context";
import { newId } from "../ids";
import { raiseAuthVersions } from "../keys/auth-version";
import { generateToken, hashSecret } from "../keys/token";
import { expandScopes, missingScopes, type Scope, type ScopeShortcut } from "../scopes";
import { apiKeyPeppers } from "../secrets";
import { iso } from "../schemas/common";
import type { ApiKeyResource, CreateKeyInput } from "../schemas/keys";
import { paginate, type PageQuery } from "./pagination";

type KeyRow = typeof apiKey.$inferSelect;

export function toKeyResource(row: KeyRow): ApiKeyResource {
  return {
    id: row.id,
    name: row.name,
    prefix: `moc_${row.shortId}`,
    scopes: row.scopes,
    created_at: row.createdAt.toISOString(),
    expires_at: iso(row.expiresAt),
    last_used_at: iso(row.lastUsedAt),
  };
}

/**
 * Creates a key and returns it with its token, the only time the token exists
 * outside the caller's hands: only its HMAC under the current pepper is kept.
 */
export async function insertKey(
  db: Queryable,
  accountId: string,
  input: { name: string; scopes: readonly (Scope | ScopeShortcut)[]; expiresAt?: Date | null },
): Promise<ApiKeyResource & { token: string }> {
  const pepper = apiKeyPeppers()[0]!;
  const t = generateToken();
  const [row] = await db
    .insert(apiKey)
    .values({
      id: newId("key"),
      accountId,
      name: input.name,
      shortId: t.shortId,
      secretHash: hashSecret(t.secret, pepper),
      pepperVersion: pepper.version,
      scopes: expandScopes(input.scopes),
      expiresAt: input.expiresAt ?? null,
    })
    .returning();
  return { ...toKeyResource(row!), token: t.token };
}

export async function createKey(ctx: ServiceContext, input: CreateKeyInput) {
  const scopes = expandScopes(input.scopes);
  // A key can never mint a key more powerful than itself.
  const lacking = missingScopes(ctx.key.scopes, scopes);
  if (lacking.length > 0) {
    throw new ApiError("insufficient_scope", `A key cannot grant scopes it does not hold itself: ${lacking.join(", ")}.`, {
      extra: { missing_scopes: lacking },
    });
  }
  const expiresAt = input.expires_at ? new Date(input.expires_at) : null;
  if (expiresAt && expiresAt.getTime() <= Date.now()) {
    throw new ApiError("validation_error", "expires_at must be in the future.", {
      extra: { errors: [{ path: "expires_at", message: "Must be in the future." }] },
    });
  }
  return insertKey(ctx.db, ctx.account.id, { name: input.name, scopes, expiresAt });
}

const live = (accountId: string) => and(eq(apiKey.accountId, accountId), isNull(apiKey.revokedAt));

/** The account's live keys, oldest first, a page at a time. */
export async function listKeys(ctx: ServiceContext, q: PageQuery) {
  return paginate(
    q,
    { column: apiKey.id, order: "asc" },
    (p) => ctx.db.select().from(apiKey).where(and(live(ctx.account.id), p.after)).orderBy(p.orderBy).limit(p.limit),
    toKeyResource,
  );
}

export async function getKey(ctx: ServiceContext, id: string) {
  const [row] = await ctx.db.select().from(apiKey).where(and(live(ctx.account.id), eq(apiKey.id, id))).limit(1);
  if (!row) throw notFound("API key", id);
  return toKeyResource(row);
}

/**
 * Revokes a key; the next request made with it is refused, and a mutation it
 * has in flight does not commit (the wrapper checks the key inside the
 * mutation's transaction). A key may revoke only keys whose every scope it
 * holds itself, as it may only create such keys: otherwise 403
 * insufficient_scope naming the scopes it lacks.
 */
export async function revokeKey(ctx: ServiceContext, id: string): Promise<void> {
  // FOR UPDATE: waits for the key's mutations in flight (they hold FOR KEY SHARE until they commit).
  const [target] = await ctx.db
    .select({ scopes: apiKey.scopes })
    .from(apiKey)
    .where(and(live(ctx.account.id), eq(apiKey.id, id)))
    .for("update");
  if (!target) throw notFound("API key", id);
  const lacking = missingScopes(ctx.key.scopes, target.scopes);
  if (lacking.length > 0) {
    throw new ApiError("insufficient_scope", `A key cannot revoke a key holding scopes it does not hold itself: ${lacking.join(", ")}.`, {
      extra: { missing_scopes: lacking },
    });
  }
  await ctx.db.update(apiKey).set({ revokedAt: new Date() }).where(eq(apiKey.id, id));
  // Every server process that remembers the key learns it at its next request (lib/keys/auth-version.ts).
  await raiseAuthVersions(ctx.db, [ctx.account.id]);
}
