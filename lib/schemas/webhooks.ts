import { z } from "zod";
// The events an endpoint can subscribe to are listed once, in lib/webhooks/events.ts.
import { WEBHOOK_EVENT_TYPES } from "../webhooks/events";
import { anyOf, pageQuery, text, timestamp } from "./common";

export const DELIVERY_STATUSES = ["pending", "succeeded", "failed"] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

const url = z
  .url({ message: "Not a valid URL." })
  .max(2048)
  .meta({
    description:
      "Where deliveries are POSTed: https, never to a private, loopback or link-local address (the embedded server also accepts http:// loopback URLs)",
    example: "https://example.com/hooks/openclaw",
  });

const events = z
  .array(z.enum(WEBHOOK_EVENT_TYPES))
  .min(1, "Subscribe to at least one event.")
  .max(10)
  .meta({ description: "The events to deliver", example: ["operation.succeeded", "operation.failed"] });

const description = text().trim().max(500).meta({ description: "A note to tell endpoints apart", example: "Deploy bot" });

export const createWebhookBody = z
  .strictObject({
    url,
    events,
    description: description.nullable().optional(),
  })
  .meta({ id: "CreateWebhookEndpointRequest" });

export const updateWebhookBody = z
  .strictObject({
    url: url.optional(),
    events: events.optional(),
    description: description.nullable().optional().meta({ description: "null clears it" }),
    enabled: z.boolean().optional().meta({ description: "false pauses deliveries; true resumes them and clears `disabled_reason`" }),
  })
  .meta({ id: "UpdateWebhookEndpointRequest" });

export const webhookEndpointResource = z
  .object({
    id: z.string().meta({ example: "wh_01jd3z6v7a8b9c0d1e2f3g4h5j" }),
    url: z.string(),
    events: z.array(z.enum(WEBHOOK_EVENT_TYPES)),
    description: z.string().nullable(),
    enabled: z.boolean(),
    disabled_reason: z
      .string()
      .optional()
      .meta({ description: "Present when the endpoint is disabled: why (by request, a 410 answer, or days of failed deliveries)" }),
    created_at: timestamp,
  })
  .meta({ id: "WebhookEndpoint" });

export const createdWebhookEndpointResource = webhookEndpointResource
  .extend({
    secret: z.string().meta({
      description: "The signing secret (Standard Webhooks). Shown this once: store it now.",
      example: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    }),
  })
  .meta({ id: "CreatedWebhookEndpoint" });

export const webhookSecretResource = z
  .object({
    secret: z.string().meta({
      description: "The new signing secret, shown this once. The previous one keeps signing alongside it for 24 hours.",
      example: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    }),
  })
  .meta({ id: "WebhookSecret" });

export const deliveryAttempt = z
  .object({
    at: timestamp,
    response_status: z.number().int().nullable().meta({ description: "The endpoint's HTTP status; null when none came (timeout, refused connection)" }),
    duration_ms: z.number().int(),
    error: z.string().nullable().meta({ description: "Why the attempt failed; null when it succeeded" }),
  })
  .meta({ id: "WebhookDeliveryAttempt" });

export const deliveryResource = z
  .object({
    id: z.string().meta({ example: "dlv_01jd3z6v7a8b9c0d1e2f3g4h5j" }),
    event_type: z.enum(WEBHOOK_EVENT_TYPES),
    message_id: z.string().meta({ description: "The `webhook-id` header of every attempt", example: "msg_01jd3z6v7a8b9c0d1e2f3g4h5j" }),
    status: z.enum(DELIVERY_STATUSES),
    attempts: z.array(deliveryAttempt).meta({ description: "Every attempt, oldest first" }),
    next_attempt_at: timestamp.nullable().meta({ description: "When the next attempt is due while pending; null once settled" }),
  })
  .meta({ id: "WebhookDelivery" });

export const listDeliveriesQuery = pageQuery("dlv").extend({
  status: anyOf(z.enum(DELIVERY_STATUSES), "Only deliveries in this status"),
});

export type CreateWebhookInput = z.output<typeof createWebhookBody>;
export type UpdateWebhookInput = z.output<typeof updateWebhookBody>;
export type WebhookEndpointResource = z.output<typeof webhookEndpointResource>;
export type DeliveryResource = z.output<typeof deliveryResource>;
