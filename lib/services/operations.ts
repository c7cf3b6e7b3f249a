import { and, eq, inArray } from "drizzle-orm";
import type { Queryable } from "@/db/client";
import { instance, operation } from "@/db/schema";
import { config } from "../config";
import { ApiError, notFound } from "../errors";
import type { ServiceContext } from "../context";
import { newId } from "../ids";
import { operationRequestedEvent } from "../jobs/events";
import {
  canBegin,
  INSTANCE_STATUSES,
  recordsPrevious,
  refusal,
  ruleOf,
  UNFINISHED,
  type InstanceStatus,
  type OperationStatus,
  type OperationType,
} from "../operations/lifecycle";
import { iso } from "../schemas/common";
import type { OperationResource } from "../schemas/instances";
import { findInstance, type InstanceRow } from "./instance-lookup";
import { paginate, type PageQuery } from "./pagination";

export type OperationRow = typeof operation.$inferSelect;

export function toOperationResource(row: OperationRow): OperationResource {
  return {
    id: row.id,
    type: row.type,
    status: row.status,
    instance_id: row.instanceId,
    created_at: row.createdAt.toISOString(),
    started_at: iso(row.startedAt),
    completed_at: iso(row.completedAt),
    error: row.error ?? null,
  };
}

/**
 * Records a new pending operation for an instance, in the caller's
 * transaction. The caller holds the instance's row lock, so the check for a
 * running operation cannot race; the partial unique index
 * `operation_one_active_per_instance` is the backstop.
 */
export async function insertOperation(
  tx: Queryable,
  o: { accountId: string; instanceId: string; type: OperationType; input?: Record<string, unknown> },
): Promise<OperationRow> {
  const [active] = await tx
    .select({ id: operation.id, type: operation.type })
    .from(operation)
    .where(and(eq(operation.instanceId, o.instanceId), inArray(operation.status, UNFINISHED)))
    .limit(1);
  if (active) {
    throw new ApiError(
      "operation_in_progress",
      `Operation ${active.id} (${active.type}) is still running on this instance. Wait for it to finish, then retry.`,
      { extra: { operation_id: active.id } },
    );
  }
  const now = new Date();
  const [row] = await tx
    .insert(operation)
    .values({
      id: newId("op"),
      accountId: o.accountId,
      instanceId: o.instanceId,
      type: o.type,
      status: "pending",
      input: o.input ?? null,
      createdAt: now,
      deadlineAt: new Date(now.getTime() + config().operationDeadlineSeconds * 1000),
    })
    .returning();
  return row!;
}

/**
 * Begins an operation on a live instance whose row the caller has locked:
 * records it (pending), checks that the lifecycle table lets it begin from the
 * instance's status, shows the status it runs in, and hands it to the runner
 * once the request's transaction has committed. The check comes after the
 * insert on purpose: an unfinished operation answers operation_in_progress
 * whatever the status. Throws ApiError operation_in_progress or
 * invalid_instance_state (the transaction then rolls back the insert).
 */
export async function beginOperation(
  ctx: ServiceContext,
  inst: InstanceRow,
  type: OperationType,
  input?: Record<string, unknown>,
): Promise<OperationRow> {
  const status = inst.status;
  const op = await insertOperation(ctx.db, {
    accountId: ctx.account.id,
    instanceId: inst.id,
    type,
    input: recordsPrevious(type) ? { ...input, previous_status: status } : input,
  });
  if (!canBegin(type, status)) {
    throw new ApiError("invalid_instance_state", refusal(type, status), { extra: { instance_status: status } });
  }
  await ctx.db.update(instance).set({ status: ruleOf(type).during, updatedAt: new Date() }).where(eq(instance.id, inst.id));
  ctx.sendAfterCommit([operationRequestedEvent(op)]);
  return op;
}

/** The status an operation's instance had when it began, if its type records it (see recordsPrevious). */
export function previousStatusOf(op: Pick<OperationRow, "input">): InstanceStatus | null {
  const v = op.input?.previous_status;
  return typeof v === "string" && (INSTANCE_STATUSES as readonly string[]).includes(v) ? (v as InstanceStatus) : null;
}

export async function getOperation(ctx: ServiceContext, id: string): Promise<OperationResource> {
  const [row] = await ctx.db
    .select()
    .from(operation)
    .where(and(eq(operation.accountId, ctx.account.id), eq(operation.id, id)))
    .limit(1);
  if (!row) throw notFound("operation", id);
  return toOperationResource(row);
}

export async function listOperations(
  ctx: ServiceContext,
  q: PageQuery & { instance_id?: string[]; status?: OperationStatus[]; type?: OperationType[] },
) {
  let instanceIds: string[] | undefined;
  if (q.instance_id) {
    // Filtering by an instance also finds the history of a deleted one, by id.
    const found = await Promise.all(
      q.instance_id.map(async (v) => (v.startsWith("inst_") ? v : (await findInstance(ctx.db, ctx.account.id, v))?.id)),
    );
    instanceIds = found.filter((id): id is string => id !== undefined);
    if (instanceIds.length === 0) return { items: [], nextCursor: null };
  }
  return paginate(
    q,
    { column: operation.id, order: "desc" },
    (p) =>
      ctx.db
        .select()
        .from(operation)
        .where(
          and(
            eq(operation.accountId, ctx.account.id),
            instanceIds ? inArray(operation.instanceId, instanceIds) : undefined,
            q.status ? inArray(operation.status, q.status) : undefined,
            q.type ? inArray(operation.type, q.type) : undefined,
            p.after,
          ),
        )
        .orderBy(p.orderBy)
        .limit(p.limit),
    toOperationResource,
  );
}
