import { and, asc, inArray, isNotNull, lt, notExists, sql } from "drizzle-orm";
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

/** Deletes up to `batch` deliveries created before `before`; answers how many. */
export async function pruneDeliveries(db: Db, before: Date, batch = RETENTION_BATCH): Promise<number> {
  const oldest = db
    .select({ id: webhookDelivery.id })
    .from(webhookDelivery)
    .where(lt(webhookDelivery.createdAt, before))
    .orderBy(asc(webhookDelivery.createdAt))
    .limit(batch);
  const rows = await db.delete(webhookDelivery).where(inArray(webhookDelivery.id, oldest)).returning({ id: webhookDelivery.id });
  return rows.length;
}

/**
 * Deletes up to `batch` webhook messages (events) created before `before`;
 * a delivery younger than its message (a late fan-out) goes with it.
 */
export async function pruneMessages(db: Db, before: Date, batch = RETENTION_BATCH): Promise<number> {
  const oldest = db
    .select({ id: webhookMessage.id })
    .from(webhookMessage)
    .where(lt(webhookMessage.createdAt, before))
    .orderBy(asc(webhookMessage.createdAt))
    .limit(batch);
  const rows = await db.delete(webhookMessage).where(inArray(webhookMessage.id, oldest)).returning({ id: webhookMessage.id });
  return rows.length;
}

/** Deletes up to `batch` operations that finished before `before` (an unfinished one is never deleted). */
export async function pruneOperations(db: Db, before: Date, batch = RETENTION_BATCH): Promise<number> {
  const oldest = db
    .select({ id: operation.id })
    .from(operation)
    .where(and(isNotNull(operation.completedAt), lt(operation.completedAt, before)))
    .orderBy(asc(operation.completedAt))
    .limit(batch);
  const rows = await db.delete(operation).where(inArray(operation.id, oldest)).returning({ id: operation.id });
  return rows.length;
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
