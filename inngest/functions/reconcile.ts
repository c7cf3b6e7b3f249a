import { defineFunction } from "@/lib/jobs/types";
import { statusForMachine } from "@/lib/operations/lifecycle";
import { deleteExpiredIdempotencyKeys, failStuckOperations, pendingOperations, repairStatus, restingInstances } from "@/lib/services/maintenance";
import { machineRef } from "@/lib/services/operation-progress";
import { webhookBacklogEvents } from "@/lib/services/webhook-deliveries";
import type { Deps } from "@/lib/deps";
import { operationRequestedEvent, rolloutAdvanceEvent } from "@/lib/jobs/events";
import { runningRollouts } from "@/lib/services/rollouts";

/** A pending operation this old has probably lost its event. */
const RESEND_AFTER_MS = 60_000;

/**
 * Every minute: re-sends operations whose event was lost, fails operations
 * stuck past their deadline, brings instance statuses back in line with their
 * machines when they drifted (a machine stopped or vanished behind our back),
 * forgets expired idempotency keys, restarts stuck webhook deliveries, and
 * advances running rollouts (whose events may have been lost).
 */
export function makeReconcile(deps: Deps) {
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
      const repaired = await step.run("repair-drift", async () => {
        const db = await deps.db();
        const out: { instance_id: string; from: string; to: string }[] = [];
        for (const inst of await restingInstances(db)) {
          const ref = machineRef(inst);
          if (!ref) continue;
          let state;
          // Taken before asking: a change to the instance after this makes the answer stale.
          const observedAt = new Date();
          try {
            state = await deps.compute().getState(ref);
          } catch {
            continue; // the provider is unreachable: no evidence of drift
          }
          const to = statusForMachine(inst.status, state);
          if (to && (await repairStatus(db, inst.id, inst.status, to, observedAt))) {
            out.push({ instance_id: inst.id, from: inst.status, to });
          }
        }
        return out;
      });
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
      return { resent, failed, repaired, expired, webhooks, rollouts };
    },
  });
}
