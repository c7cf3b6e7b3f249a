import { randomBytes } from "node:crypto";
import { and, eq, inArray } from "drizzle-orm";
import type { Db, Queryable } from "@/db/client";
import { instance, operation } from "@/db/schema";
import type { MachineRef } from "../compute/types";
import { open, seal } from "../crypto";
import { healthFromEvidence, type OperationEvidence } from "../operations/health";
import { settlesAs, UNFINISHED } from "../operations/lifecycle";
import { healthChangeEvent, statusChangeEvent } from "./instance-events";
import { commitAppliedConfig } from "./instance-config";
import { previousStatusOf, toOperationResource, type OperationRow } from "./operations";
import { recordWebhookEvents } from "./outbox";
import { commitUpgrade } from "./versions";

/**
 * The operation runner's writes. Each is one short transaction and safe to
 * repeat (a retried step calls it again).
 */

export async function loadOperation(db: Queryable, id: string) {
  const [op] = await db.select().from(operation).where(eq(operation.id, id)).limit(1);
  if (!op) return null;
  const [inst] = await db.select().from(instance).where(eq(instance.id, op.instanceId)).limit(1);
  return { op, inst: inst! };
}

/** pending -> running; answers false when the operation has already finished (a duplicate run). */
export async function markRunning(db: Db, id: string): Promise<boolean> {
  const [op] = await db.select({ status: operation.status }).from(operation).where(eq(operation.id, id));
  if (!op || !UNFINISHED.includes(op.status)) return false;
  await db
    .update(operation)
    .set({ status: "running", startedAt: new Date() })
    .where(and(eq(operation.id, id), eq(operation.status, "pending")));
  return true;
}

/** The instance's OPENCLAW_GATEWAY_TOKEN, opened; null when it has none yet (made when its create provisions). */
export async function gatewayToken(db: Queryable, instanceId: string): Promise<string | null> {
  const [row] = await db.select({ enc: instance.gatewayTokenEnc }).from(instance).where(eq(instance.id, instanceId));
  return row?.enc ? open(row.enc) : null;
}

/**
 * The instance's gateway token, made on first call and kept sealed on its row,
 * so a retried provision uses the same one. A secret: never return it from a step.
 */
export async function ensureGatewayToken(db: Queryable, instanceId: string): Promise<string> {
  const existing = await gatewayToken(db, instanceId);
  if (existing) return existing;
  const token = randomBytes(32).toString("base64url");
  await db.update(instance).set({ gatewayTokenEnc: seal(token) }).where(eq(instance.id, instanceId));
  return token;
}

/** Where the instance's machine is; `backupRetentionDays`, the snapshot retention its volume was made with. */
export async function recordMachine(db: Db, instanceId: string, ref: MachineRef, backupRetentionDays?: number): Promise<void> {
  await db
    .update(instance)
    .set({ appName: ref.appName, machineId: ref.machineId, volumeId: ref.volumeId, backupRetentionDays, updatedAt: new Date() })
    .where(eq(instance.id, instanceId));
}

export type FinishOutcome = (
  | { ok: true }
  /**
   * `rolledBack`: the steps put back what they had changed (a configure restored the previous configuration),
   * so the instance settles as its lifecycle row says for a failure; otherwise it is marked failed.
   */
  | { ok: false; code: string; message: string; rolledBack?: boolean }
) & {
  /** What the steps last saw of the machine (a wait for "stopped", a health check): the instance's health from now on. */
  evidence?: OperationEvidence | null;
};

/**
 * Finishes an operation and settles its instance, and records the webhook
 * events in the same transaction (operation.succeeded or .failed, and
 * instance.status_changed and .health_changed for what changed), so no
 * completion is ever lost. The instance's health follows the steps' own
 * evidence when they give one. An operation that carried config documents
 * records them as applied in the same transaction, only when it succeeded; an
 * upgrade that succeeded records the instance's new version the same way.
 */
export async function finishOperation(db: Db, id: string, outcome: FinishOutcome): Promise<OperationRow | null> {
  return db.transaction(async (tx) => {
    const [op] = await tx
      .select()
      .from(operation)
      .where(and(eq(operation.id, id), inArray(operation.status, UNFINISHED)))
      .for("update");
    if (!op) return null; // already finished: a repeated call changes nothing
    const now = new Date();
    const [done] = await tx
      .update(operation)
      .set({
        status: outcome.ok ? "succeeded" : "failed",
        error: outcome.ok ? null : { code: outcome.code, message: outcome.message },
        startedAt: op.startedAt ?? now,
        completedAt: now,
      })
      .where(eq(operation.id, id))
      .returning();
    const ending = outcome.ok ? "succeeded" : outcome.rolledBack ? "rolled_back" : "failed";
    const settle = settlesAs(op.type, ending, previousStatusOf(op));
    if (outcome.ok) {
      await commitAppliedConfig(tx, op);
      await commitUpgrade(tx, op);
    }
    const [inst] = await tx.select().from(instance).where(eq(instance.id, op.instanceId)).for("update");
    const why = { cause: "operation", operationId: op.id } as const;
    if (settle === "deleted") {
      await tx.update(instance).set({ deletedAt: now, updatedAt: now }).where(eq(instance.id, op.instanceId));
    } else {
      const health = outcome.evidence && settle !== "failed" ? healthFromEvidence(outcome.evidence, now) : null;
      await tx
        .update(instance)
        .set({
          status: settle,
          updatedAt: now,
          ...(health ? { healthStatus: health.status, healthDetail: health.detail, healthCheckedAt: health.checkedAt } : {}),
        })
        .where(eq(instance.id, op.instanceId));
      if (inst) {
        await recordWebhookEvents(tx, [
          ...statusChangeEvent(inst, inst.status, settle, why, now),
          ...(health ? healthChangeEvent(inst, inst.healthStatus, health, why, now) : []),
        ]);
      }
    }
    await recordWebhookEvents(tx, [
      { accountId: op.accountId, type: outcome.ok ? "operation.succeeded" : "operation.failed", data: toOperationResource(done!), at: now },
    ]);
    return done!;
  });
}

export function machineRef(inst: typeof instance.$inferSelect): MachineRef | null {
  if (!inst.appName || !inst.machineId) return null;
  return { appName: inst.appName, machineId: inst.machineId, volumeId: inst.volumeId, region: inst.flyRegion };
}
