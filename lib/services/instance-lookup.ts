import { and, eq, isNull } from "drizzle-orm";
import type { Queryable } from "@/db/client";
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
  const by = idOrSubdomain.startsWith("inst_") ? eq(instance.id, idOrSubdomain) : eq(instance.subdomain, idOrSubdomain.toLowerCase());
  const q = db
    .select()
    .from(instance)
    .where(and(eq(instance.accountId, accountId), isNull(instance.deletedAt), by))
    .limit(1);
  const [row] = opts.lock ? await q.for("update") : await q;
  return row ?? null;
}

/** The request's account's live instance, locked for update when `lock`; throws ApiError not_found. */
export async function requireInstance(ctx: ServiceContext, idOrSubdomain: string, opts: { lock?: boolean } = {}): Promise<InstanceRow> {
  const row = await findInstance(ctx.db, ctx.account.id, idOrSubdomain, opts);
  if (!row) throw notFound("instance", idOrSubdomain);
  return row;
}
