import { z } from "zod";
import type { operation } from "@/db/schema";
import { defineEvent, type EventData, type OutgoingEvent } from "../types";

/** An operation was recorded and waits to be carried out (by run-operation). */
export const operationRequested = defineEvent(
  "instance/operation.requested",
  z.object({
    operation_id: z.string(),
    instance_id: z.string(),
    account_id: z.string(),
    type: z.string(),
  }),
);

/**
 * The event that hands a recorded operation to the runner. Its id is the
 * operation's, so a re-send (by the reconciler, or start-up resuming it) is
 * ignored while the first is known.
 */
export function operationRequestedEvent(op: typeof operation.$inferSelect): OutgoingEvent<EventData<typeof operationRequested>> & { id: string } {
  return {
    name: operationRequested.name,
    id: op.id,
    data: { operation_id: op.id, instance_id: op.instanceId, account_id: op.accountId, type: op.type },
  };
}
