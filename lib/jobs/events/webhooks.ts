import { z } from "zod";
import { defineEvent, type EventData, type OutgoingEvent } from "../types";

/**
 * The outbox has messages to fan out. Sent after an operation finishes (and by
 * the reconciler while undispatched messages remain), so a lost event only
 * delays deliveries; `reason` says who sent it, for the run history.
 */
export const webhookMessagesPending = defineEvent("webhook/messages.pending", z.object({ reason: z.string() }));

/** The event that gets the dispatcher going; `reason`: an operation id, "reconcile" or "backlog". */
export function messagesPendingEvent(reason: string): OutgoingEvent<EventData<typeof webhookMessagesPending>> {
  return { name: webhookMessagesPending.name, data: { reason } };
}

/** One delivery (a message for one endpoint) to attempt, in the given round (1, then +1 per redelivery). */
export const webhookDeliveryRequested = defineEvent(
  "webhook/delivery.requested",
  z.object({
    delivery_id: z.string(),
    endpoint_id: z.string(),
    round: z.number().int().min(1),
  }),
);

/**
 * The event that starts (or resumes) a delivery run. Its id names the delivery's
 * round and how many attempts it had made, so a re-send for the same state is
 * ignored while one for a run that was lost later on is not.
 */
export function deliveryRequestedEvent(d: {
  id: string;
  endpointId: string;
  round: number;
  roundAttempts: number;
}): OutgoingEvent<EventData<typeof webhookDeliveryRequested>> & { id: string } {
  return {
    name: webhookDeliveryRequested.name,
    id: `${d.id}-r${d.round}-a${d.roundAttempts}`,
    data: { delivery_id: d.id, endpoint_id: d.endpointId, round: d.round },
  };
}
