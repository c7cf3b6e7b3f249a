import type { Queryable } from "@/db/client";
import { webhookMessage } from "@/db/schema";
import { newId } from "../ids";
import type { WebhookEventData, WebhookEventType } from "../webhooks/events";

/** One event to record: its account, type, data (the schema of its row in WEBHOOK_EVENTS) and time. */
export type OutboxEvent = {
  [T in WebhookEventType]: { accountId: string; type: T; data: WebhookEventData<T>; at: Date };
}[WebhookEventType];

/**
 * Records webhook events in the outbox (`webhook_message`), in the caller's
 * transaction: each event is written with the change it reports, or not at
 * all, so none is lost when delivery is down. The payload is Standard
 * Webhooks' `{type, timestamp, data}`; dispatch-webhooks fans it out later.
 * The row is also the event GET /events lists (same id as the deliveries'
 * `message_id`), filed under the instance its data names. Several events go
 * in one statement.
 */
export async function recordWebhookEvents(tx: Queryable, events: readonly OutboxEvent[]): Promise<void> {
  if (events.length === 0) return;
  await tx.insert(webhookMessage).values(
    events.map((e) => ({
      id: newId("msg"),
      accountId: e.accountId,
      eventType: e.type,
      instanceId: instanceIdOf(e.data),
      payload: { type: e.type, timestamp: e.at.toISOString(), data: e.data },
      createdAt: e.at,
    })),
  );
}

/** One event; see recordWebhookEvents. */
export async function recordWebhookEvent<T extends WebhookEventType>(
  tx: Queryable,
  accountId: string,
  type: T,
  data: WebhookEventData<T>,
  at: Date,
): Promise<void> {
  await recordWebhookEvents(tx, [{ accountId, type, data, at } as OutboxEvent]);
}

function instanceIdOf(data: unknown): string | null {
  const id = (data as { instance_id?: unknown } | null)?.instance_id;
  return typeof id === "string" ? id : null;
}
