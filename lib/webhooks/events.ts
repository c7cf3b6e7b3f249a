import type { z } from "zod";
import { instanceHealthChange, instanceStatusChange, operationResource } from "../schemas/instances";

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
  "operation.succeeded": {
    description: "An operation finished successfully: its instance is where the operation took it. `data` is the operation.",
    data: operationResource,
  },
  "operation.failed": { description: "An operation failed; `data.error` says why. `data` is the operation.", data: operationResource },
  "instance.status_changed": {
    description:
      "An instance's `status` changed: an operation began or finished (`cause: operation`, with its `operation_id`), " +
      "or the platform saw its machine stop, start or vanish by itself (`cause: observed`).",
    data: instanceStatusChange,
  },
  "instance.health_changed": {
    description: "An instance's `health.status` changed (passing, critical, unknown), as its machine's `/healthz` check reported.",
    data: instanceHealthChange,
  },
} as const satisfies Record<string, { description: string; data: z.ZodType }>;

/** Events (webhook messages) are kept this long: GET /events lists them, and retention prunes older ones with their deliveries. */
export const EVENT_RETENTION_DAYS = 30;

export type WebhookEventType = keyof typeof WEBHOOK_EVENTS;
export const WEBHOOK_EVENT_TYPES = Object.keys(WEBHOOK_EVENTS) as [WebhookEventType, ...WebhookEventType[]];

/** The `data` of an event of this type. */
export type WebhookEventData<T extends WebhookEventType> = z.output<(typeof WEBHOOK_EVENTS)[T]["data"]>;
