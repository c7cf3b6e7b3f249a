import { and, asc, count, eq, isNull, sql } from "drizzle-orm";
import { hotQuery } from "@/db/prepared";
import { account, instance } from "@/db/schema";
import { config } from "../config";
import { ApiError } from "../errors";
import type { ServiceContext } from "../context";
import { newId } from "../ids";
import { operationRequestedEvent } from "../jobs/events";
import { ruleOf, type InstanceStatus } from "../operations/lifecycle";
import { iso } from "../schemas/common";
import type { InstanceResource } from "../schemas/instances";
import { initialConfig, type InitialDocuments } from "./instance-config";
import { instanceUrl, requireInstance, type InstanceRow } from "./instance-lookup";
import { beginOperation, insertOperation, toOperationResource } from "./operations";
import { offeredVersion } from "./versions";

export function toInstanceResource(row: InstanceRow, plan: string): InstanceResource {
  return {
    id: row.id,
    subdomain: row.subdomain,
    name: row.name,
    status: row.status,
    health: { status: row.healthStatus, detail: row.healthDetail, checked_at: iso(row.healthCheckedAt) },
    plan: plan as InstanceResource["plan"],
    fly_region: row.flyRegion,
    url: instanceUrl(row.subdomain),
    version: row.version,
    auto_upgrade: row.autoUpgrade,
    observed_at: iso(row.observedAt),
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
    last_backup_at: iso(row.lastBackupAt),
  };
}

/** The account's live instances, oldest first: at most its plan's limit, so the status filter needs no query of its own. */
const liveInstancesOf = hotQuery("moc_live_instances_of_account", (db) =>
  db
    .select()
    .from(instance)
    .where(and(eq(instance.accountId, sql.placeholder("accountId")), isNull(instance.deletedAt)))
    .orderBy(asc(instance.id)),
);

export async function listInstances(ctx: ServiceContext, q: { status?: InstanceStatus[] }) {
  const rows = await liveInstancesOf(ctx.db, { accountId: ctx.account.id });
  const wanted = q.status && new Set<string>(q.status);
  return (wanted ? rows.filter((r) => wanted.has(r.status)) : rows).map((r) => toInstanceResource(r, ctx.account.plan));
}

export async function getInstance(ctx: ServiceContext, idOrSubdomain: string) {
  return toInstanceResource(await requireInstance(ctx, idOrSubdomain), ctx.account.plan);
}

export interface CreateInstanceInput extends InitialDocuments {
  subdomain: string;
  fly_region?: string;
  name?: string;
  /** An offered, not deprecated version; default: the default version. */
  version?: string;
  auto_upgrade?: boolean;
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
  const version = await offeredVersion(db, input.version);
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
        status: ruleOf("instance.create").during,
        flyRegion: input.fly_region ?? config().defaultRegion,
        version: version.version,
        autoUpgrade: input.auto_upgrade ?? true,
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
  ctx.sendAfterCommit([operationRequestedEvent(op)]);
  return toOperationResource(op);
}

function subdomainTaken(subdomain: string) {
  return new ApiError("subdomain_taken", `The subdomain "${subdomain}" is already in use. Choose another.`);
}

export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; cause?: { code?: string } };
  return e?.code === "23505" || e?.cause?.code === "23505";
}

/** The lifecycle requests of the instance routes, each an operation of type `instance.<action>`. */
export type LifecycleAction = "start" | "stop" | "restart" | "delete";

/**
 * Starts a lifecycle operation. The instance's row is locked, so of two
 * concurrent requests exactly one creates an operation and the other sees it
 * and gets 409 operation_in_progress; the lifecycle table
 * (lib/operations/lifecycle.ts) says from which statuses each may begin.
 */
export async function lifecycle(ctx: ServiceContext, idOrSubdomain: string, action: LifecycleAction) {
  const inst = await requireInstance(ctx, idOrSubdomain, { lock: true });
  return toOperationResource(await beginOperation(ctx, inst, `instance.${action}`));
}

/**
 * PATCH /instances/{id}: changes the fields an owner may change (a JSON merge
 * patch: a field left out stays as it is, `name: null` removes the name).
 * Allowed whatever the instance is doing: these fields do not touch its machine.
 */
export async function updateInstance(ctx: ServiceContext, idOrSubdomain: string, patch: { name?: string | null; auto_upgrade?: boolean }) {
  const inst = await requireInstance(ctx, idOrSubdomain, { lock: true });
  const set = {
    ...(patch.name !== undefined ? { name: patch.name } : {}),
    ...(patch.auto_upgrade !== undefined ? { autoUpgrade: patch.auto_upgrade } : {}),
  };
  if (Object.keys(set).length === 0) return toInstanceResource(inst, ctx.account.plan);
  const [row] = await ctx.db
    .update(instance)
    .set({ ...set, updatedAt: new Date() })
    .where(eq(instance.id, inst.id))
    .returning();
  return toInstanceResource(row!, ctx.account.plan);
}

/**
 * Starts an `instance.upgrade` to `version` (default: the default version),
 * which must be offered and not deprecated (ApiError unsupported_version). An
 * instance already on it gets invalid_instance_state: there is nothing to do.
 * Any offered version may be chosen, an earlier one too (to go back).
 */
export async function upgradeInstance(ctx: ServiceContext, idOrSubdomain: string, body: { version?: string }) {
  const inst = await requireInstance(ctx, idOrSubdomain, { lock: true });
  const target = await offeredVersion(ctx.db, body.version);
  if (target.version === inst.version) {
    throw new ApiError(
      "invalid_instance_state",
      `The instance already runs OpenClaw ${inst.version}${body.version === undefined ? ", the default version" : ""}. Name another version to move to.`,
      { extra: { instance_status: inst.status, version: inst.version } },
    );
  }
  const op = await beginOperation(ctx, inst, "instance.upgrade", { target_version: target.version, from_version: inst.version });
  return toOperationResource(op);
}
