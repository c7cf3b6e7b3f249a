import { operationRequested } from "@/inngest/events/operation-requested";
import type { operation } from "@/db/schema";
import { sendEvents } from "./send";

/**
 * Hands a recorded operation to the runner. If this fails (Inngest down), the
 * operation stays pending and the reconciler sends it again; the event id is
 * the operation id, so a duplicate is ignored.
 */
export async function requestOperation(op: typeof operation.$inferSelect): Promise<void> {
  await sendEvents([
    {
      name: operationRequested.name,
      id: op.id,
      data: { operation_id: op.id, instance_id: op.instanceId, account_id: op.accountId, type: op.type },
    },
  ]);
}
