import { and, asc, count, eq, inArray, isNull } from "drizzle-orm";
import type { Queryable } from "@/db/client";
import { account, instance } from "@/db/schema";
import { config } from "../config";
import { ApiError, notFound } from "../errors";
import type { ServiceContext } from "../http/context";
import { newId } from "../ids";
import { requestOperation } from "../jobs/operations";
import type { InstanceResource, InstanceStatus, OperationType } from "../schemas/instances";
import { initialConfig, type InitialDocuments } from "./instance-config";
import { insertOperation, toOperationResource } from "./operations";

export type InstanceRow = typeof instance.$inferSelect;

export function instanceUrl(subdomain: string): string {
  const domain = config().instanceDomain;
  return domain === "localhost" ? `http://${subdomain}.localhost` : `https://${subdomain}.${domain}`;
}

export function toInstanceResource(row: InstanceRow, plan: string): InstanceResource {
  return {
    id: row.id,
    subdomain: row.subdomain,
    name: row.name,
    status: row.status as InstanceStatus,
    plan: plan as InstanceResource["plan"],
    fly_region: row.flyRegion,
    url: instanceUrl(row.subdomain),
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

/**
 * A live instance of the account, by id or by subdomain (both address an
 * instance). Hostnames are case-insensitive (RFC 4343): subdomains are stored
 * lowercase, so `My-Assistant` finds `my-assistant`.
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

async function requireInstance(db: Queryable, accountId: string, idOrSubdomain: string, lock = false) {
  const row = await findInstance(db, accountId, idOrSubdomain, { lock });
  if (!row) throw notFound("instance", idOrSubdomain);
  return row;
}

export async function listInstances(ctx: ServiceContext, q: { status?: InstanceStatus[] }) {
  const rows = await ctx.db
    .select()
    .from(instance)
    .where(and(eq(instance.accountId, ctx.account.id), isNull(instance.deletedAt), q.status ? inArray(instance.status, q.status) : undefined))
    .orderBy(asc(instance.id));
  return rows.map((r) => toInstanceResource(r, ctx.account.plan));
}

export async function getInstance(ctx: ServiceContext, idOrSubdomain: string) {
  return toInstanceResource(await requireInstance(ctx.db, ctx.account.id, idOrSubdomain), ctx.account.plan);
}

export interface CreateInstanceInput extends InitialDocuments {
  subdomain: string;
  fly_region?: string;
  name?: string;
  /** Extra operation input. */
  operationInput?: Record<string, unknown>;
}

/**
 * Creates an instance and its `instance.create` operation. The account's row
 * is locked for the transaction, so concurrent creates are counted one after
 * another and the plan's limit never admits one more. Config documents given
 * with it are validated first and travel sealed in the operation's input, which
 * provisions the machine with them (the defaults for any left out).
 */
export async function createInstance(ctx: ServiceContext, input: CreateInstanceInput) {
  const initial = initialConfig(input);
  const db = ctx.db;
  await db.select({ id: account.id }).from(account).where(eq(account.id, ctx.account.id)).for("update");
  const [{ n } = { n: 0 }] = await db
    .select({ n: count() })
    .from(instance)
    .where(and(eq(instance.accountId, ctx.account.id), isNull(instance.deletedAt)));
  const limit = ctx.account.limits.instances;
  if (n >= limit) {
    throw new ApiError(
      "instance_limit_reached",
      `The ${ctx.account.plan} plan allows ${limit} instances and this account has ${n}. Delete one, or upgrade.`,
      { extra: { limit, usage: n } },
    );
  }
  const [taken] = await db
    .select({ id: instance.id })
    .from(instance)
    .where(and(eq(instance.subdomain, input.subdomain), isNull(instance.deletedAt)))
    .limit(1);
  if (taken) throw subdomainTaken(input.subdomain);
  const now = new Date();
  let row: InstanceRow;
  try {
    [row] = (await db
      .insert(instance)
      .values({
        id: newId("inst"),
        accountId: ctx.account.id,
        subdomain: input.subdomain,
        name: input.name ?? null,
        status: "provisioning",
        flyRegion: input.fly_region ?? config().defaultRegion,
        createdAt: now,
        updatedAt: now,
      })
      .returning()) as [InstanceRow];
  } catch (err) {
    // Another account took the name between our check and the insert.
    if (isUniqueViolation(err)) throw subdomainTaken(input.subdomain);
    throw err;
  }
  const op = await insertOperation(db, {
    accountId: ctx.account.id,
    instanceId: row.id,
    type: "instance.create",
    input: { ...input.operationInput, ...initial } as unknown as Record<string, unknown>,
  });
  ctx.afterCommit(() => requestOperation(op));
  return toOperationResource(op);
}

function subdomainTaken(subdomain: string) {
  return new ApiError("subdomain_taken", `The subdomain "${subdomain}" is already in use. Choose another.`);
}

export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; cause?: { code?: string } };
  return e?.code === "23505" || e?.cause?.code === "23505";
}

type Action = "start" | "stop" | "restart" | "delete";

/** For each action: the statuses it may start from, and the status the instance shows while it runs. */
const TRANSITIONS: Record<Action, { from: InstanceStatus[]; during: InstanceStatus; type: OperationType }> = {
  start: { from: ["stopped", "failed"], during: "starting", type: "instance.start" },
  stop: { from: ["running", "failed"], during: "stopping", type: "instance.stop" },
  restart: { from: ["running", "failed"], during: "restarting", type: "instance.restart" },
  delete: { from: ["running", "stopped", "failed", "provisioning", "starting", "stopping", "restarting", "updating"], during: "deleting", type: "instance.delete" },
};

/**
 * Starts a lifecycle operation. The instance's row is locked, so of two
 * concurrent requests exactly one creates an operation and the other sees it
 * and gets 409 operation_in_progress.
 */
export async function lifecycle(ctx: ServiceContext, idOrSubdomain: string, action: Action) {
  const inst = await requireInstance(ctx.db, ctx.account.id, idOrSubdomain, true);
  const t = TRANSITIONS[action];
  const op = await insertOperation(ctx.db, { accountId: ctx.account.id, instanceId: inst.id, type: t.type });
  if (!t.from.includes(inst.status as InstanceStatus)) {
    throw new ApiError(
      "invalid_instance_state",
      `Cannot ${action} an instance that is ${inst.status}. ${action} is possible from: ${t.from.join(", ")}.`,
      { extra: { instance_status: inst.status } },
    );
  }
  await ctx.db.update(instance).set({ status: t.during, updatedAt: new Date() }).where(eq(instance.id, inst.id));
  ctx.afterCommit(() => requestOperation(op));
  return toOperationResource(op);
}
