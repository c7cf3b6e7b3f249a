import { and, asc, eq, inArray, isNotNull, isNull, lt, lte, notExists, or, sql } from "drizzle-orm";
import type { Db, Queryable } from "@/db/client";
import { instance, operation } from "@/db/schema";
import type { MachineRef } from "../compute/types";
import { healthOf, type HealthStatus } from "../operations/health";
import { statusForMachine, UNFINISHED, type InstanceStatus } from "../operations/lifecycle";
import type { Observed } from "../observation/observe";
import { recordHealthChange, recordStatusChange } from "./instance-events";

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
 * Writes what each observation shows, in one transaction: `observed_at`, the
 * health, and the status when the machine contradicts it (statusForMachine:
 * stopped, started or gone behind our back), with instance.status_changed
 * and instance.health_changed for what changed. Each row is written only if
 * it still has the status the batch read, was not changed after the question
 * was asked, has no newer observation and no unfinished operation.
 */
export async function recordObservations(db: Db, results: readonly Observed<ObservationTarget>[]): Promise<RecordObservationsResult> {
  if (results.length === 0) return { recorded: 0, stale: 0, changes: [] };
  return db.transaction(async (tx) => {
    const out: RecordObservationsResult = { recorded: 0, stale: 0, changes: [] };
    for (const { target, askedAt, seenAt, observation } of results) {
      const status = statusForMachine(target.status, observation.state) ?? target.status;
      const health = healthOf(observation, seenAt);
      const changed = status !== target.status || health.status !== target.healthStatus;
      const written = await tx
        .update(instance)
        .set({
          status,
          healthStatus: health.status,
          healthDetail: health.detail,
          healthCheckedAt: health.checkedAt,
          observedAt: seenAt,
          ...(changed ? { updatedAt: seenAt } : {}),
        })
        .where(
          and(
            eq(instance.id, target.id),
            isNull(instance.deletedAt),
            eq(instance.status, target.status),
            // Untouched since the question was asked: an operation that ran meanwhile makes the answer stale.
            lt(instance.updatedAt, askedAt),
            or(isNull(instance.observedAt), lt(instance.observedAt, askedAt)),
            noUnfinishedOperation(tx),
          ),
        )
        .returning({ id: instance.id });
      if (written.length === 0) {
        out.stale++;
        continue;
      }
      out.recorded++;
      if (!changed) continue;
      const why = { cause: "observed" } as const;
      await recordStatusChange(tx, target, target.status, status, why, seenAt);
      await recordHealthChange(tx, target, target.healthStatus, health, why, seenAt);
      out.changes.push({
        instance_id: target.id,
        ...(status !== target.status ? { status: { from: target.status, to: status } } : {}),
        ...(health.status !== target.healthStatus ? { health: { from: target.healthStatus, to: health.status } } : {}),
      });
    }
    return out;
  });
}
