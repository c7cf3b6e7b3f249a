import type { Queryable } from "@/db/client";
import { webhookMessage } from "@/db/schema";
import { newId } from "../ids";
import type { WebhookEventData, WebhookEventType } from "../webhooks/events";

/**
 * Records a webhook event in the outbox (`webhook_message`), in the caller's
 * transaction: the event is written with the change it reports, or not at
 * all, so none is lost when delivery is down. The payload is Standard
 * Webhooks' `{type, timestamp, data}`; dispatch-webhooks fans it out later.
 * The row is also the event GET /events lists (same id as the deliveries'
 * `message_id`), filed under the instance its data names.
 */
export async function recordWebhookEvent<T extends WebhookEventType>(
  tx: Queryable,
  accountId: string,
  type: T,
  data: WebhookEventData<T>,
  at: Date,
): Promise<void> {
  await tx.insert(webhookMessage).values({
    id: newId("msg"),
    accountId,
    eventType: type,
    instanceId: instanceIdOf(data),
    payload: { type, timestamp: at.toISOString(), data },
    createdAt: at,
  });
}

function instanceIdOf(data: unknown): string | null {
  const id = (data as { instance_id?: unknown } | null)?.instance_id;
  return typeof id === "string" ? id : null;
}
