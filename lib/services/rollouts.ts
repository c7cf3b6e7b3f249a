import { and, asc, desc, eq, inArray, isNull, lt, ne, sql } from "drizzle-orm";
import type { Db, Queryable } from "@/db/client";
import { instance, openclawVersion, operation, rollout, rolloutInstance } from "@/db/schema";
import { ApiError } from "../errors";
import { newId } from "../ids";
import { operationRequestedEvent, rolloutAdvanceEvent } from "../jobs/events";
import type { OutgoingEvent } from "../jobs/types";
import { canBegin, UNFINISHED } from "../operations/lifecycle";
import { ROLLOUT_ACTIONS, type RolloutAction, type RolloutItemState, type RolloutState } from "../operations/rollouts";
import { isUniqueViolation } from "./instances";
import { recordOperation } from "./operations";
import { findVersion, type VersionRow } from "./versions";

/**
 * Fleet rollouts: every instance with auto_upgrade on an earlier OpenClaw
 * version moved to a later one, in batches, each instance through its own
 * instance.upgrade operation (so its owner sees the operation and gets its
 * webhook). The operator starts, watches, pauses, resumes and cancels one
 * (`npm run admin -- rollout ...`, lib/operator/rollouts.ts); the durable
 * function run-rollout advances it (`advanceRollout`) whenever something may
 * have changed. Everything it knows is in the database (`rollout`,
 * `rollout_instance` and the operations), so it survives any restart.
 */

export type RolloutRow = typeof rollout.$inferSelect;
export type RolloutCounts = Record<RolloutItemState, number> & { total: number };

/** A rollout as `rollout status --json` shows it. */
export interface RolloutStatus {
  id: string;
  state: RolloutState;
  to_version: string;
  from_version: string | null;
  batch_size: number;
  max_failures: number;
  /** Failures since the rollout was started or last resumed: it halts when these reach max_failures. */
  failures_counted: number;
  batches: number;
  counts: RolloutCounts;
  reason: string | null;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
}

/** An instance a rollout would upgrade. */
export interface RolloutCandidate {
  instance_id: string;
  account_id: string;
  version: string;
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; problem: string };

/**
 * The instances a rollout to `to` covers: live, auto_upgrade on, on a version
 * released before `to` (and on `from` exactly, when given). Oldest instance first.
 */
export async function rolloutCandidates(db: Queryable, to: VersionRow, from: VersionRow | null): Promise<RolloutCandidate[]> {
  const rows = await db
    .select({ instance_id: instance.id, account_id: instance.accountId, version: instance.version })
    .from(instance)
    .innerJoin(openclawVersion, eq(openclawVersion.version, instance.version))
    .where(
      and(
        isNull(instance.deletedAt),
        eq(instance.autoUpgrade, true),
        ne(instance.version, to.version),
        lt(openclawVersion.releasedAt, to.releasedAt),
        from ? eq(instance.version, from.version) : undefined,
      ),
    )
    .orderBy(asc(instance.id));
  return rows;
}

export interface StartRollout {
  to: string;
  from?: string;
  batchSize: number;
  maxFailures: number;
  dryRun: boolean;
}

export type StartResult =
  | { dryRun: true; candidates: RolloutCandidate[] }
  | { dryRun: false; rollout: RolloutRow | null; candidates: RolloutCandidate[] };

/**
 * Starts a rollout (state running; the caller sends `rolloutAdvanceEvent`), or
 * with `dryRun` only says which instances it would cover. None to cover: no
 * rollout. Refused: an unknown or deprecated target, a `from` not older than
 * it, or another rollout still unfinished (one at a time).
 */
export async function startRollout(db: Db, o: StartRollout, now: Date): Promise<Outcome<StartResult>> {
  const to = await findVersion(db, o.to);
  if (!to) return { ok: false, problem: `No version ${o.to}: versions ls lists them.` };
  if (to.deprecatedAt) return { ok: false, problem: `${o.to} is deprecated: nothing moves to it.` };
  let from: VersionRow | null = null;
  if (o.from !== undefined) {
    from = await findVersion(db, o.from);
    if (!from) return { ok: false, problem: `No version ${o.from}: versions ls lists them.` };
    if (from.releasedAt >= to.releasedAt) return { ok: false, problem: `${o.from} is not older than ${o.to}: a rollout only moves instances forward.` };
  }
  const candidates = await rolloutCandidates(db, to, from);
  if (o.dryRun) return { ok: true, value: { dryRun: true, candidates } };
  const unfinished = await currentRollout(db);
  if (unfinished) return { ok: false, problem: busyProblem(unfinished) };
  if (candidates.length === 0) return { ok: true, value: { dryRun: false, rollout: null, candidates } };
  try {
    const row = await db.transaction(async (tx) => {
      const [r] = await tx
        .insert(rollout)
        .values({
          id: newId("rol", now.getTime()),
          toVersion: to.version,
          fromVersion: from?.version ?? null,
          batchSize: o.batchSize,
          maxFailures: o.maxFailures,
          state: "running",
          createdAt: now,
          updatedAt: now,
        })
        .returning();
      for (let i = 0; i < candidates.length; i += 500) {
        await tx
          .insert(rolloutInstance)
          .values(candidates.slice(i, i + 500).map((c) => ({ rolloutId: r!.id, instanceId: c.instance_id, fromVersion: c.version })));
      }
      return r!;
    });
    return { ok: true, value: { dryRun: false, rollout: row, candidates } };
  } catch (err) {
    // Another operator started one between our look and the insert (index rollout_one_unfinished).
    if (!isUniqueViolation(err)) throw err;
    const other = await currentRollout(db);
    return { ok: false, problem: other ? busyProblem(other) : "Another rollout was started at the same time." };
  }
}

function busyProblem(r: RolloutRow): string {
  return `Rollout ${r.id} (to ${r.toVersion}) is ${r.state}: resume it, or cancel it first (rollout cancel).`;
}

/** The rollout still unfinished (running, paused or halted), if any. */
export async function currentRollout(db: Queryable): Promise<RolloutRow | null> {
  const [row] = await db
    .select()
    .from(rollout)
    .where(inArray(rollout.state, ROLLOUT_ACTIONS.cancel.from))
    .limit(1);
  return row ?? null;
}

/** A rollout by id, or the latest one. */
export async function findRollout(db: Queryable, id?: string): Promise<RolloutRow | null> {
  const [row] = await db
    .select()
    .from(rollout)
    .where(id ? eq(rollout.id, id) : undefined)
    .orderBy(desc(rollout.id))
    .limit(1);
  return row ?? null;
}

/** Where a rollout's instances stand (ROLLOUT_ITEM_STATES), derived from its records and their operations. */
export async function rolloutCounts(db: Queryable, rolloutId: string): Promise<RolloutCounts> {
  const opStatus = operation.status;
  const [row] = await db
    .select({
      total: sql<number>`count(*)::int`,
      skipped: sql<number>`(count(*) filter (where ${rolloutInstance.skipped} is not null))::int`,
      pending: sql<number>`(count(*) filter (where ${rolloutInstance.skipped} is null and ${rolloutInstance.operationId} is null))::int`,
      upgrading: sql<number>`(count(*) filter (where ${inArray(opStatus, UNFINISHED)}))::int`,
      upgraded: sql<number>`(count(*) filter (where ${opStatus} = 'succeeded'))::int`,
      failed: sql<number>`(count(*) filter (where ${opStatus} = 'failed'))::int`,
    })
    .from(rolloutInstance)
    .leftJoin(operation, eq(operation.id, rolloutInstance.operationId))
    .where(eq(rolloutInstance.rolloutId, rolloutId));
  const n = (v: unknown) => Number(v ?? 0);
  return {
    total: n(row?.total),
    pending: n(row?.pending),
    upgrading: n(row?.upgrading),
    upgraded: n(row?.upgraded),
    failed: n(row?.failed),
    skipped: n(row?.skipped),
  };
}

export async function rolloutStatus(db: Queryable, r: RolloutRow): Promise<RolloutStatus> {
  const counts = await rolloutCounts(db, r.id);
  return {
    id: r.id,
    state: r.state,
    to_version: r.toVersion,
    from_version: r.fromVersion,
    batch_size: r.batchSize,
    max_failures: r.maxFailures,
    failures_counted: Math.max(0, counts.failed - r.failureBase),
    batches: r.batches,
    counts,
    reason: r.reason,
    created_at: r.createdAt.toISOString(),
    updated_at: r.updatedAt.toISOString(),
    finished_at: r.finishedAt?.toISOString() ?? null,
  };
}

/**
 * An operator's pause, resume or cancel of the unfinished rollout (ROLLOUT_ACTIONS
 * says from which states). Resuming a halted rollout counts failures afresh:
 * it halts again after `max_failures` more (or the new `maxFailures`). The
 * caller of a resume sends `rolloutAdvanceEvent`.
 */
export async function changeRollout(db: Db, action: RolloutAction, now: Date, o: { maxFailures?: number } = {}): Promise<Outcome<RolloutRow>> {
  const current = await currentRollout(db);
  if (!current) return { ok: false, problem: "No rollout is running, paused or halted." };
  const rule = ROLLOUT_ACTIONS[action];
  if (!(rule.from as readonly RolloutState[]).includes(current.state)) {
    return { ok: false, problem: `Rollout ${current.id} is ${current.state}; ${action} applies to a rollout that is ${rule.from.join(" or ")}.` };
  }
  const counts = action === "resume" ? await rolloutCounts(db, current.id) : null;
  const [row] = await db
    .update(rollout)
    .set({
      state: rule.to,
      updatedAt: now,
      reason: action === "cancel" ? "cancelled by the operator" : null,
      ...(action === "cancel" ? { finishedAt: now } : {}),
      ...(counts ? { failureBase: counts.failed } : {}),
      ...(o.maxFailures !== undefined ? { maxFailures: o.maxFailures } : {}),
    })
    // Only from the state it was read in: the function may have halted or finished it meanwhile.
    .where(and(eq(rollout.id, current.id), eq(rollout.state, current.state)))
    .returning();
  if (!row) return changeRollout(db, action, now, o);
  return { ok: true, value: row };
}

/** What one advance did, as run-rollout's step result. */
export interface Advance {
  state: RolloutState | "missing";
  /** Upgrades started by this advance. */
  started: number;
  /** Instances whose turn came but which were busy with another operation (tried again later). */
  busy: number;
  reason?: string;
}

/**
 * One step of a rollout: settles what can be settled and starts what may start.
 * While it runs: halts when failures since the last (re)start reach
 * max_failures; waits while a batch has upgrades under way; finishes when no
 * instance is left pending; otherwise starts the next batch of up to
 * batch_size upgrades, each in its own transaction (the instance's row locked,
 * as a request would), sending each operation's event once it has committed.
 * An instance busy with another operation stays pending: when that operation
 * finishes, run-operation advances the rollout again. Safe to repeat.
 */
export async function advanceRollout(db: Db, send: (events: OutgoingEvent[]) => Promise<void>, rolloutId: string, now: Date): Promise<Advance> {
  for (;;) {
    const r = await findRollout(db, rolloutId);
    if (!r) return { state: "missing", started: 0, busy: 0 };
    if (r.state !== "running") return { state: r.state, started: 0, busy: 0 };
    const target = await findVersion(db, r.toVersion);
    if (!target || target.deprecatedAt) return settle(db, r, "halted", `${r.toVersion} was deprecated while the rollout ran.`, now);
    const counts = await rolloutCounts(db, r.id);
    const failures = counts.failed - r.failureBase;
    if (failures >= r.maxFailures) {
      return settle(db, r, "halted", `${failures} upgrade${failures === 1 ? "" : "s"} failed (--max-failures ${r.maxFailures}).`, now);
    }
    if (counts.upgrading > 0) return { state: "running", started: 0, busy: 0 };
    if (counts.pending === 0) return settle(db, r, "done", null, now);

    const batch = r.batches + 1;
    let started = 0;
    let busy = 0;
    let skipped = 0;
    for (const item of await pendingItems(db, r.id)) {
      if (started >= r.batchSize) break;
      const result = await db.transaction((tx) => startItem(tx, r, target, item.instanceId, batch));
      if (result.kind === "started") {
        started++;
        await send([operationRequestedEvent(result.op)]);
      } else if (result.kind === "busy") busy++;
      else skipped++;
    }
    if (started > 0) {
      await db.update(rollout).set({ batches: batch, updatedAt: now }).where(and(eq(rollout.id, r.id), eq(rollout.batches, r.batches)));
      return { state: "running", started, busy };
    }
    // Every instance whose turn came was left out: look again (perhaps it is done).
    if (skipped > 0) continue;
    return { state: "running", started: 0, busy };
  }
}

async function settle(db: Db, r: RolloutRow, state: "halted" | "done", reason: string | null, now: Date): Promise<Advance> {
  await db
    .update(rollout)
    .set({ state, reason, updatedAt: now, ...(state === "done" ? { finishedAt: now } : {}) })
    .where(and(eq(rollout.id, r.id), eq(rollout.state, "running")));
  return { state, started: 0, busy: 0, ...(reason ? { reason } : {}) };
}

async function pendingItems(db: Queryable, rolloutId: string) {
  return db
    .select({ instanceId: rolloutInstance.instanceId })
    .from(rolloutInstance)
    .where(and(eq(rolloutInstance.rolloutId, rolloutId), isNull(rolloutInstance.operationId), isNull(rolloutInstance.skipped)))
    .orderBy(asc(rolloutInstance.instanceId));
}

type ItemResult = { kind: "started"; op: typeof operation.$inferSelect } | { kind: "busy" } | { kind: "skipped"; reason: string };

/**
 * One instance's turn, in the caller's transaction: its upgrade begun (as
 * beginOperation does for a request), or it left pending because another
 * operation runs on it, or it left out for good, with the reason recorded.
 */
async function startItem(tx: Queryable, r: RolloutRow, target: VersionRow, instanceId: string, batch: number): Promise<ItemResult> {
  const [inst] = await tx.select().from(instance).where(eq(instance.id, instanceId)).for("update");
  const [active] = inst
    ? await tx.select({ id: operation.id }).from(operation).where(and(eq(operation.instanceId, inst.id), inArray(operation.status, UNFINISHED))).limit(1)
    : [];
  const current = inst ? await findVersion(tx, inst.version) : null;
  let reason: string | null = null;
  if (!inst || inst.deletedAt) reason = "deleted";
  else if (!inst.autoUpgrade) reason = "auto_upgrade turned off";
  else if (inst.version === target.version || (current && current.releasedAt >= target.releasedAt)) reason = `already on ${inst.version}`;
  else if (active) return { kind: "busy" };
  else if (!canBegin("instance.upgrade", inst.status)) reason = `${inst.status}: an upgrade cannot begin`;
  if (reason !== null || !inst) {
    await tx
      .update(rolloutInstance)
      .set({ skipped: reason ?? "deleted" })
      .where(and(eq(rolloutInstance.rolloutId, r.id), eq(rolloutInstance.instanceId, instanceId)));
    return { kind: "skipped", reason: reason ?? "deleted" };
  }
  let op;
  try {
    op = await recordOperation(tx, inst, "instance.upgrade", { target_version: target.version, from_version: inst.version, rollout_id: r.id });
  } catch (err) {
    if (err instanceof ApiError && err.code === "operation_in_progress") return { kind: "busy" };
    throw err;
  }
  await tx
    .update(rolloutInstance)
    .set({ operationId: op.id, batch })
    .where(and(eq(rolloutInstance.rolloutId, r.id), eq(rolloutInstance.instanceId, instanceId)));
  return { kind: "started", op };
}

/**
 * The events that advance the running rollouts covering an instance, once an
 * operation on it (`operationId`) has finished: one of their upgrades ended,
 * or an instance they found busy is free.
 */
export async function rolloutEventsAfter(db: Queryable, instanceId: string, operationId: string): Promise<OutgoingEvent[]> {
  const rows = await db
    .select({ id: rollout.id })
    .from(rolloutInstance)
    .innerJoin(rollout, eq(rollout.id, rolloutInstance.rolloutId))
    .where(and(eq(rolloutInstance.instanceId, instanceId), eq(rollout.state, "running")));
  return rows.map((r) => rolloutAdvanceEvent(r.id, `operation ${operationId} finished`, `after-${operationId}`));
}

/** The running rollouts, for the reconciler and embedded start-up to advance (a lost event only delays them). */
export async function runningRollouts(db: Queryable): Promise<string[]> {
  const rows = await db.select({ id: rollout.id }).from(rollout).where(eq(rollout.state, "running"));
  return rows.map((r) => r.id);
}
