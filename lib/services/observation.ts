import { and, asc, eq, inArray, isNotNull, isNull, lt, lte, notExists, or, sql } from "drizzle-orm";
import type { Db, Queryable } from "@/db/client";
import { instance, operation } from "@/db/schema";
import type { MachineRef } from "../compute/types";
import { healthOf, type HealthStatus } from "../operations/health";
import { statusForMachine, UNFINISHED, type InstanceStatus } from "../operations/lifecycle";
import type { Observed } from "../observation/observe";
import { healthChangeEvent, statusChangeEvent } from "./instance-events";
import { recordWebhookEvents, type OutboxEvent } from "./outbox";

/**
 * The database's side of the regular observation of every live instance
 * (inngest/functions/observe-instances.ts plans it, observe-batch.ts carries
 * it out): which instances are due, and what an observation changes. Every
 * write is conditional, so an observation never undoes what an operation did
 * meanwhile, and an older observation never overwrites a newer one.
 */

/** An instance to observe, as its batch reads it before asking the provider. */
export interface ObservationTarget {
  id: string;
  accountId: string;
  subdomain: string;
  status: InstanceStatus;
  healthStatus: HealthStatus;
  ref: MachineRef;
}

/** No operation of this instance is unfinished: an operation's own steps are changing the machine. */
const noUnfinishedOperation = (db: Queryable) =>
  notExists(
    db
      .select({ one: sql`1` })
      .from(operation)
      .where(and(eq(operation.instanceId, instance.id), inArray(operation.status, UNFINISHED))),
  );

/** Live, with a machine to look at (the observation index's condition). */
const observable = and(isNull(instance.deletedAt), isNotNull(instance.machineId));

/**
 * The ids of instances due for observation, stalest first (never observed
 * first of all), at most `limit`: those last observed at or before
 * `dueBefore`, with no operation in progress.
 */
export async function dueInstances(db: Queryable, dueBefore: Date, limit: number): Promise<string[]> {
  const rows = await db
    .select({ id: instance.id })
    .from(instance)
    .where(and(observable, or(isNull(instance.observedAt), lte(instance.observedAt, dueBefore)), noUnfinishedOperation(db)))
    .orderBy(sql`${instance.observedAt} asc nulls first`, asc(instance.id))
    .limit(limit);
  return rows.map((r) => r.id);
}

/**
 * The batch's instances as they are now, leaving out those deleted, busy with
 * an operation, or observed at or after `since` (another batch got there
 * first since the pass was planned).
 */
export async function observationTargets(db: Queryable, ids: readonly string[], since: Date): Promise<ObservationTarget[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .select()
    .from(instance)
    .where(and(inArray(instance.id, [...ids]), observable, or(isNull(instance.observedAt), lt(instance.observedAt, since)), noUnfinishedOperation(db)));
  return rows.map((r) => ({
    id: r.id,
    accountId: r.accountId,
    subdomain: r.subdomain,
    status: r.status,
    healthStatus: r.healthStatus,
    ref: { appName: r.appName!, machineId: r.machineId!, volumeId: r.volumeId, region: r.flyRegion },
  }));
}

export interface RecordedChange {
  instance_id: string;
  status?: { from: InstanceStatus; to: InstanceStatus };
  health?: { from: HealthStatus; to: HealthStatus };
}

export interface RecordObservationsResult {
  /** Observations written. */
  recorded: number;
  /** Observations dropped as stale: the instance changed (an operation began or finished, a newer observation) after the question was asked. */
  stale: number;
  changes: RecordedChange[];
}

/**
 * Writes what each observation shows, in one transaction of two statements:
 * `observed_at`, the health, and the status when the machine contradicts it
 * (statusForMachine: stopped, started or gone behind our back), then
 * instance.status_changed and instance.health_changed for what changed. A
 * row is written only if it still has the status and health the batch read,
 * was not changed after the question was asked (an operation that began or
 * finished meanwhile makes the answer stale), has no newer observation and no
 * unfinished operation. `updated_at` moves only when the status or health did.
 */
export async function recordObservations(db: Db, results: readonly Observed<ObservationTarget>[]): Promise<RecordObservationsResult> {
  if (results.length === 0) return { recorded: 0, stale: 0, changes: [] };
  const judged = new Map(
    results.map((r) => {
      const status = statusForMachine(r.target.status, r.observation.state) ?? r.target.status;
      return [r.target.id, { ...r, status, health: healthOf(r.observation, r.seenAt) }] as const;
    }),
  );
  const values = [...judged.values()].map(
    (j) =>
      sql`(${j.target.id}::text, ${j.target.status}::text, ${j.target.healthStatus}::text, ${j.askedAt.toISOString()}::timestamptz,
           ${j.seenAt.toISOString()}::timestamptz, ${j.status}::text, ${j.health.status}::text, ${j.health.detail}::text,
           ${j.health.checkedAt.toISOString()}::timestamptz)`,
  );
  return db.transaction(async (tx) => {
    const written = await tx.execute<{ id: string }>(sql`
      update ${instance} set
        status = v.status,
        health_status = v.health_status,
        health_detail = v.detail,
        health_checked_at = v.checked_at,
        observed_at = v.seen_at,
        updated_at = case when v.status <> v.was_status or v.health_status <> v.was_health then v.seen_at else ${instance.updatedAt} end
      from (values ${sql.join(values, sql`, `)}) as v(id, was_status, was_health, asked_at, seen_at, status, health_status, detail, checked_at)
      where ${instance.id} = v.id
        and ${instance.deletedAt} is null
        and ${instance.status} = v.was_status
        and ${instance.healthStatus} = v.was_health
        and ${instance.updatedAt} < v.asked_at
        and (${instance.observedAt} is null or ${instance.observedAt} < v.asked_at)
        and ${noUnfinishedOperation(tx)}
      returning ${instance.id}`);
    const ids = (written as unknown as { rows: { id: string }[] }).rows.map((r) => r.id);
    const out: RecordObservationsResult = { recorded: ids.length, stale: results.length - ids.length, changes: [] };
    const why = { cause: "observed" } as const;
    const events: OutboxEvent[] = [];
    for (const id of ids) {
      const { target, seenAt, status, health } = judged.get(id)!;
      const change: RecordedChange = { instance_id: id };
      if (status !== target.status) change.status = { from: target.status, to: status };
      if (health.status !== target.healthStatus) change.health = { from: target.healthStatus, to: health.status };
      if (!change.status && !change.health) continue;
      out.changes.push(change);
      events.push(...statusChangeEvent(target, target.status, status, why, seenAt), ...healthChangeEvent(target, target.healthStatus, health, why, seenAt));
    }
    await recordWebhookEvents(tx, events);
    return out;
  });
}
