import { defineFunction } from "@/lib/jobs/types";
import { fanOutMessages } from "@/lib/services/webhook-deliveries";
import type { Deps } from "@/lib/deps";
import { deliveryRequestedEvent, messagesPendingEvent, webhookMessagesPending } from "@/lib/jobs/events";

/** Batches one run fans out before handing the rest to a fresh run (each batch is one step). */
const MAX_BATCHES = 20;

/**
 * Drains the webhook outbox: each undispatched message becomes one delivery
 * per subscribed endpoint, and each delivery its own `deliver-webhook` run.
 * One dispatcher at a time; any run drains everything, so a burst of events
 * costs a few empty runs, never a double fan-out (the unique index on
 * message and endpoint is the backstop).
 */
export function makeDispatchWebhooks(deps: Deps) {
  return defineFunction({
    id: "dispatch-webhooks",
    trigger: { event: webhookMessagesPending },
    concurrency: { limit: 1 },
    retries: 3,
    async handler({ step }) {
      let messages = 0;
      let deliveries = 0;
      for (let i = 0; i < MAX_BATCHES; i++) {
        const batch = await step.run(`fan-out-${i}`, async () => fanOutMessages(await deps.db(), deps.now()));
        messages += batch.messages;
        deliveries += batch.deliveries.length;
        if (batch.deliveries.length > 0) await step.sendEvent(`deliver-${i}`, batch.deliveries.map(deliveryRequestedEvent));
        if (batch.messages === 0) return { messages, deliveries };
      }
      // A backlog bigger than one run: carry on in a new run rather than one endless one.
      await step.sendEvent("continue", messagesPendingEvent("backlog"));
      return { messages, deliveries, continued: true };
    },
  });
}
