import { and, asc, inArray, isNotNull, lt, notExists, sql, type SQL } from "drizzle-orm";
import type { PgColumn } from "drizzle-orm/pg-core";
import type { Db } from "@/db/client";
import { instance, operation, webhookDelivery, webhookMessage } from "@/db/schema";
import { EVENT_RETENTION_DAYS } from "../webhooks/events";

/**
 * What the platform forgets, and when: webhook messages (the events of
 * GET /events) and their deliveries after EVENT_RETENTION_DAYS (30),
 * finished operations after OPERATION_RETENTION_DAYS (90 by default, never
 * under 30), and a deleted instance's row once its last operation is gone.
 * Each delete takes at most `batch` rows, oldest first, by an index on the
 * age: a large backlog is worked off over several calls (the reconciler's
 * minutes), never one huge delete that holds locks and bloats the log.
 */

const DAY_MS = 86_400_000;

export const RETENTION_BATCH = 1000;

export interface RetentionCutoffs {
  events: Date;
  operations: Date;
}

export function retentionCutoffs(now: Date, operationRetentionDays: number): RetentionCutoffs {
  return {
    events: new Date(now.getTime() - EVENT_RETENTION_DAYS * DAY_MS),
    operations: new Date(now.getTime() - operationRetentionDays * DAY_MS),
  };
}

/**
 * Deletes up to `batch` rows of `table` that `where` picks, oldest by `age`
 * first (a bounded batch by the index on that column); answers how many.
 */
async function deleteOldest(db: Db, table: Prunable, age: PgColumn, where: SQL | undefined, batch: number): Promise<number> {
  const oldest = db.select({ id: table.id }).from(table).where(where).orderBy(asc(age)).limit(batch);
  const rows = await db.delete(table).where(inArray(table.id, oldest)).returning({ id: table.id });
  return rows.length;
}

type Prunable = typeof webhookDelivery | typeof webhookMessage | typeof operation;

/** Deletes up to `batch` deliveries created before `before`; answers how many. */
export async function pruneDeliveries(db: Db, before: Date, batch = RETENTION_BATCH): Promise<number> {
  return deleteOldest(db, webhookDelivery, webhookDelivery.createdAt, lt(webhookDelivery.createdAt, before), batch);
}

/**
 * Deletes up to `batch` webhook messages (events) created before `before`;
 * a delivery younger than its message (a late fan-out) goes with it.
 */
export async function pruneMessages(db: Db, before: Date, batch = RETENTION_BATCH): Promise<number> {
  return deleteOldest(db, webhookMessage, webhookMessage.createdAt, lt(webhookMessage.createdAt, before), batch);
}

/** Deletes up to `batch` operations that finished before `before` (an unfinished one is never deleted). */
export async function pruneOperations(db: Db, before: Date, batch = RETENTION_BATCH): Promise<number> {
  return deleteOldest(db, operation, operation.completedAt, and(isNotNull(operation.completedAt), lt(operation.completedAt, before)), batch);
}

/** Deletes up to `batch` instances deleted before `before` whose operations are all gone (their rows were kept for that history). */
export async function pruneDeletedInstances(db: Db, before: Date, batch = RETENTION_BATCH): Promise<number> {
  const gone = db
    .select({ id: instance.id })
    .from(instance)
    .where(
      and(
        isNotNull(instance.deletedAt),
        lt(instance.deletedAt, before),
        notExists(db.select({ one: sql`1` }).from(operation).where(sql`${operation.instanceId} = ${instance.id}`)),
      ),
    )
    .limit(batch);
  const rows = await db.delete(instance).where(inArray(instance.id, gone)).returning({ id: instance.id });
  return rows.length;
}
