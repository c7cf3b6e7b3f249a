import { config } from "@/lib/config";
import { defineFunction } from "@/lib/jobs/types";
import { deleteExpiredIdempotencyKeys, failStuckOperations, pendingOperations } from "@/lib/services/maintenance";
import {
  pruneDeletedInstances,
  pruneDeliveries,
  pruneMessages,
  pruneOperations,
  retentionCutoffs,
  RETENTION_BATCH,
} from "@/lib/services/retention";
import { webhookBacklogEvents } from "@/lib/services/webhook-deliveries";
import type { Deps } from "@/lib/deps";
import { operationRequestedEvent, rolloutAdvanceEvent } from "@/lib/jobs/events";
import { runningRollouts } from "@/lib/services/rollouts";

/** A pending operation this old has probably lost its event. */
const RESEND_AFTER_MS = 60_000;
/** Retention batches per table per run: a backlog of any size is worked off over the minutes, a bounded delete at a time. */
const PRUNE_BATCHES = 5;

export interface ReconcileOptions {
  operationRetentionDays?: number;
  /** Rows per retention delete (tests make it small). */
  pruneBatch?: number;
}

/**
 * Every minute: re-sends operations whose event was lost, fails operations
 * stuck past their deadline, forgets expired idempotency keys, restarts stuck
 * webhook deliveries, advances running rollouts (whose events may have been
 * lost), and prunes what is past its retention (events and deliveries after 30
 * days, finished operations after OPERATION_RETENTION_DAYS), in bounded
 * batches. Drift between an instance and its machine is the observation's
 * (observe-instances, observe-batch).
 */
export function makeReconcile(deps: Deps, opts: ReconcileOptions = {}) {
  const retentionDays = opts.operationRetentionDays ?? config().operationRetentionDays;
  const pruneBatch = opts.pruneBatch ?? RETENTION_BATCH;
  /** Up to PRUNE_BATCHES deletes of `pruneBatch` rows, stopping at the first that finds fewer. */
  const prune = async (fn: (before: Date) => Promise<number>, before: Date) => {
    let total = 0;
    for (let i = 0; i < PRUNE_BATCHES; i++) {
      const n = await fn(before);
      total += n;
      if (n < pruneBatch) break;
    }
    return total;
  };
  return defineFunction({
    id: "reconcile",
    trigger: { cron: "* * * * *" },
    concurrency: { limit: 1 },
    retries: 1,
    async handler({ step }) {
      const resent = await step.run("resend-pending", async () => {
        const ops = await pendingOperations(await deps.db(), deps.now(), RESEND_AFTER_MS);
        await deps.send(ops.map(operationRequestedEvent));
        return ops.map((o) => o.id);
      });
      const failed = await step.run("fail-stuck", async () => failStuckOperations(await deps.db(), deps.now()));
      const expired = await step.run("expire-idempotency-keys", async () => deleteExpiredIdempotencyKeys(await deps.db(), deps.now()));
      // The webhook outbox drains even when an event was lost: a completion while delivery was down is delivered now.
      const webhooks = await step.run("drain-webhook-outbox", async () => {
        const events = await webhookBacklogEvents(await deps.db(), deps.now());
        await deps.send(events);
        return events.length;
      });
      const rollouts = await step.run("advance-rollouts", async () => {
        const ids = await runningRollouts(await deps.db());
        await deps.send(ids.map((id) => rolloutAdvanceEvent(id, "reconcile")));
        return ids;
      });
      const pruned = await step.run("prune", async () => {
        const db = await deps.db();
        const cutoff = retentionCutoffs(deps.now(), retentionDays);
        // Deliveries before their messages: a message's delete then cascades to little.
        const deliveries = await prune((b) => pruneDeliveries(db, b, pruneBatch), cutoff.events);
        const events = await prune((b) => pruneMessages(db, b, pruneBatch), cutoff.events);
        const operations = await prune((b) => pruneOperations(db, b, pruneBatch), cutoff.operations);
        const instances = await prune((b) => pruneDeletedInstances(db, b, pruneBatch), cutoff.operations);
        return { deliveries, events, operations, instances };
      });
      return { resent, failed, expired, webhooks, rollouts, pruned };
    },
  });
}
