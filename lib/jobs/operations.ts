import { operationRequested } from "@/inngest/events/operation-requested";
import type { operation } from "@/db/schema";
import { sendEvents } from "./send";
import type { OutgoingEvent } from "./types";

/**
 * Hands a recorded operation to the runner. If this fails (Inngest down), the
 * operation stays pending and the reconciler sends it again; the event id is
 * the operation id, so a duplicate is ignored.
 */
export async function requestOperation(op: typeof operation.$inferSelect): Promise<void> {
  await sendEvents([operationEvent(op)]);
}

/** The event that hands an operation to the runner; its id is the operation's, so a re-send is ignored. */
export function operationEvent(op: typeof operation.$inferSelect): OutgoingEvent {
  return {
    name: operationRequested.name,
    id: op.id,
    data: { operation_id: op.id, instance_id: op.instanceId, account_id: op.accountId, type: op.type },
  };
}
