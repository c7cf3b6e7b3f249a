import { and, eq, isNull, sql, type SQL } from "drizzle-orm";
import type { Queryable } from "@/db/client";
import { hotQuery } from "@/db/prepared";
import { instance } from "@/db/schema";
import { config } from "../config";
import type { ServiceContext } from "../context";
import { notFound } from "../errors";

/**
 * Finding an account's instance, shared by the services of instances, their
 * configuration and their operations (which sit above it, so none of them
 * imports another to find one).
 */

export type InstanceRow = typeof instance.$inferSelect;

/** Where an instance answers: `https://<subdomain>.<INSTANCE_DOMAIN>` (http on localhost). */
export function instanceUrl(subdomain: string): string {
  const domain = config().instanceDomain;
  return domain === "localhost" ? `http://${subdomain}.localhost` : `https://${subdomain}.${domain}`;
}

/**
 * A live instance of the account, by id or by subdomain (both address an
 * instance); null when there is none. Hostnames are case-insensitive
 * (RFC 4343): subdomains are stored lowercase, so `My-Assistant` finds `my-assistant`.
 */
export async function findInstance(db: Queryable, accountId: string, idOrSubdomain: string, opts: { lock?: boolean } = {}) {
  const byId = idOrSubdomain.startsWith("inst_");
  const values = { accountId, key: byId ? idOrSubdomain : idOrSubdomain.toLowerCase() };
  const [row] = opts.lock
    ? await liveInstance(db, byId ? BY_ID : BY_SUBDOMAIN).for("update").execute(values)
    : await (byId ? instanceById : instanceBySubdomain)(db, values);
  return row ?? null;
}

const BY_ID = eq(instance.id, sql.placeholder("key"));
const BY_SUBDOMAIN = eq(instance.subdomain, sql.placeholder("key"));
/** The account's (`accountId`) live instance matching `by`. */
const liveInstance = (db: Queryable, by: SQL) =>
  db
    .select()
    .from(instance)
    .where(and(eq(instance.accountId, sql.placeholder("accountId")), isNull(instance.deletedAt), by))
    .limit(1);
const instanceById = hotQuery("moc_instance_by_id", (db) => liveInstance(db, BY_ID));
const instanceBySubdomain = hotQuery("moc_instance_by_subdomain", (db) => liveInstance(db, BY_SUBDOMAIN));

/** Any account's live instance, by id or subdomain: for operators, who act across accounts. */
export async function findAnyLiveInstance(db: Queryable, idOrSubdomain: string) {
  const by = idOrSubdomain.startsWith("inst_") ? eq(instance.id, idOrSubdomain) : eq(instance.subdomain, idOrSubdomain);
  const [row] = await db.select().from(instance).where(and(isNull(instance.deletedAt), by)).limit(1);
  return row ?? null;
}

/** The request's account's live instance, locked for update when `lock`; throws ApiError not_found. */
export async function requireInstance(ctx: ServiceContext, idOrSubdomain: string, opts: { lock?: boolean } = {}): Promise<InstanceRow> {
  const row = await findInstance(ctx.db, ctx.account.id, idOrSubdomain, opts);
  if (!row) throw notFound("instance", idOrSubdomain);
  return row;
}

/**
 * The ids a list filter's instance values name: an `inst_` id as given (a
 * deleted instance's history is still asked for by id), a subdomain as the
 * live instance that has it; values that name nothing are dropped.
 */
export async function resolveInstanceIds(db: Queryable, accountId: string, values: readonly string[]): Promise<string[]> {
  const found = await Promise.all(values.map(async (v) => (v.startsWith("inst_") ? v : (await findInstance(db, accountId, v))?.id)));
  return [...new Set(found.filter((id): id is string => id !== undefined))];
}
