import type { z } from "zod";
import { operationResource } from "../schemas/instances";

/**
 * The events a webhook endpoint can subscribe to (DESIGN 3.7), each with the
 * schema of its payload's `data`. The one list: the subscription enum
 * (lib/schemas/webhooks.ts) reads it, and recordWebhookEvent
 * (lib/services/outbox.ts) writes every one to the outbox.
 *
 * A new event kind is a row here and a recordWebhookEvent(tx, ...) in the
 * transaction that makes it happen; the outbox, fan-out, signing and retries
 * need nothing more.
 */
export const WEBHOOK_EVENTS = {
  /** An operation finished successfully: its instance is where the operation took it. */
  "operation.succeeded": { data: operationResource },
  /** An operation failed; `data.error` says why. */
  "operation.failed": { data: operationResource },
} as const satisfies Record<string, { data: z.ZodType }>;

export type WebhookEventType = keyof typeof WEBHOOK_EVENTS;
export const WEBHOOK_EVENT_TYPES = Object.keys(WEBHOOK_EVENTS) as [WebhookEventType, ...WebhookEventType[]];

/** The `data` of an event of this type. */
export type WebhookEventData<T extends WebhookEventType> = z.output<(typeof WEBHOOK_EVENTS)[T]["data"]>;
