import { and, desc, eq, inArray, lt } from "drizzle-orm";
import type { Queryable } from "@/db/client";
import { operation } from "@/db/schema";
import { config } from "../config";
import { ApiError, notFound } from "../errors";
import type { ServiceContext } from "../http/context";
import { newId } from "../ids";
import { iso } from "../schemas/common";
import type { OperationResource, OperationStatus, OperationType } from "../schemas/instances";
import { findInstance } from "./instances";

export type OperationRow = typeof operation.$inferSelect;
export const UNFINISHED: OperationStatus[] = ["pending", "running"];

export function toOperationResource(row: OperationRow): OperationResource {
  return {
    id: row.id,
    type: row.type as OperationType,
    status: row.status as OperationStatus,
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
      { extra: { operation_id: active.id }, headers: { "retry-after": "2" } },
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
  q: { limit: number; cursor?: string; instance_id?: string[]; status?: OperationStatus[]; type?: OperationType[] },
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
  const rows = await ctx.db
    .select()
    .from(operation)
    .where(
      and(
        eq(operation.accountId, ctx.account.id),
        instanceIds ? inArray(operation.instanceId, instanceIds) : undefined,
        q.status ? inArray(operation.status, q.status) : undefined,
        q.type ? inArray(operation.type, q.type) : undefined,
        q.cursor ? lt(operation.id, q.cursor) : undefined,
      ),
    )
    .orderBy(desc(operation.id))
    .limit(q.limit + 1);
  const items = rows.slice(0, q.limit).map(toOperationResource);
  return { items, nextCursor: rows.length > q.limit ? items[items.length - 1]!.id : null };
}
