import { defineFunction } from "@/lib/jobs/types";
import { abandonDelivery, deliveryTarget, recordAttempt } from "@/lib/services/webhook-deliveries";
import { webhookUrlMode } from "@/lib/services/webhooks";
import { attemptDelivery, ATTEMPT_TIMEOUT_MS } from "@/lib/webhooks/attempt";
import { MAX_ATTEMPTS } from "@/lib/webhooks/schedule";
import { signHeaders } from "@/lib/webhooks/signing";
import type { Deps } from "@/lib/deps";
import { webhookDeliveryRequested } from "@/lib/jobs/events";

export interface DeliverWebhookOptions {
  /** One attempt's deadline; tests shorten it to exercise timeouts quickly. */
  attemptTimeoutMs?: number;
}

/**
 * Delivers one message to one endpoint: an attempt at once and, while they
 * fail, more on the DESIGN schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h),
 * waiting with `step.sleep` so a waiting delivery holds no slot.
 *
 * Each attempt is two steps: `attempt-N` makes the POST (signed afresh, with the
 * message id as `webhook-id` every time) and returns only its outcome, never
 * the secrets; `record-N` writes it to the delivery, so a database hiccup
 * retries the write, not the POST. At most 5 attempts run at once per endpoint.
 */
export function makeDeliverWebhook(deps: Deps, options: DeliverWebhookOptions = {}) {
  const timeoutMs = options.attemptTimeoutMs ?? ATTEMPT_TIMEOUT_MS;
  return defineFunction({
    id: "deliver-webhook",
    trigger: { event: webhookDeliveryRequested },
    concurrency: { key: "event.data.endpoint_id", limit: 5 },
    retries: 3,
    async handler({ event, step }) {
      const { delivery_id: deliveryId, round } = event.data;
      // A run resumed by the reconciler starts mid-schedule: the record says where.
      for (let i = 0; i < MAX_ATTEMPTS; i++) {
        const attempt = await step.run(`attempt-${i}`, async () => {
          const db = await deps.db();
          const at = deps.now();
          const target = await deliveryTarget(db, deliveryId, round, at);
          if (target.stop) return { stop: target.stop };
          const headers = signHeaders({ secrets: target.secrets, msgId: target.messageId, timestamp: at, body: target.body });
          const r = await attemptDelivery({ url: target.url, body: target.body, headers, mode: webhookUrlMode(), timeoutMs });
          return {
            stop: null,
            number: target.attempt,
            result: { at: at.toISOString(), response_status: r.responseStatus, duration_ms: r.durationMs, error: r.error, ok: r.ok, disable: r.disable },
          };
        });
        if (attempt.stop) {
          if (attempt.stop === "endpoint_disabled") await step.run("abandon", async () => abandonDelivery(await deps.db(), deliveryId, round));
          return { stopped: attempt.stop };
        }
        const outcome = await step.run(`record-${i}`, async () =>
          recordAttempt(await deps.db(), { deliveryId, round, attempt: attempt.number, result: attempt.result, now: deps.now() }),
        );
        if (outcome.done) return { status: outcome.status, attempts: attempt.number };
        await step.sleep(`wait-${i}`, outcome.delayMs);
      }
      return { status: "pending" }; // unreachable: the schedule ends within MAX_ATTEMPTS
    },

    // The run failed for good (its steps kept throwing): settle the delivery so it is not left pending.
    async onFailure({ event }) {
      await abandonDelivery(await deps.db(), event.data.delivery_id, event.data.round);
    },
  });
}
