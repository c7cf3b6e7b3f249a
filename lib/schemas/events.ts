import { z } from "zod";
import { EVENT_RETENTION_DAYS, WEBHOOK_EVENT_TYPES, WEBHOOK_EVENTS, type WebhookEventType } from "../webhooks/events";
import { anyOf, instanceRef, pageQuery, timestamp } from "./common";

/**
 * The webhook events as the API shows them, from the one table
 * (lib/webhooks/events.ts): each type's delivered payload (Standard Webhooks'
 * `{type, timestamp, data}`, documented in the OpenAPI document's `webhooks`
 * section), and the event resource of GET /events, that payload with its id.
 */

const pascal = (type: string) =>
  type
    .split(/[._]/)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join("");

function payloadOf<T extends WebhookEventType>(type: T) {
  return z.object({
    type: z.literal(type),
    timestamp: timestamp.meta({ description: "When it happened" }),
    data: WEBHOOK_EVENTS[type].data,
  });
}

type Payload<T extends WebhookEventType> = ReturnType<typeof payloadOf<T>>;

/** The body POSTed to an endpoint for each event type; its `webhook-id` header is the event's id. */
export const WEBHOOK_PAYLOADS = Object.fromEntries(
  WEBHOOK_EVENT_TYPES.map((t) => [t, payloadOf(t).meta({ id: `${pascal(t)}Webhook`, description: WEBHOOK_EVENTS[t].description })]),
) as { [T in WebhookEventType]: Payload<T> };

const idField = z.string().meta({
  description: "The event's id: the `webhook-id` header of its deliveries and their `message_id`",
  example: "msg_01jd3z6v7a8b9c0d1e2f3g4h5j",
});

const eventOf = (t: WebhookEventType) => payloadOf(t).extend({ id: idField }).meta({ id: `${pascal(t)}Event`, description: WEBHOOK_EVENTS[t].description });
const eventVariants = WEBHOOK_EVENT_TYPES.map(eventOf) as [ReturnType<typeof eventOf>, ...ReturnType<typeof eventOf>[]];

export const eventResource = z.discriminatedUnion("type", eventVariants).meta({
  id: "Event",
  description: `Something that happened to the account's instances or operations, as its webhook endpoints receive it, kept ${EVENT_RETENTION_DAYS} days`,
});
export type EventResource = z.output<typeof eventResource>;

export const listEventsQuery = pageQuery("msg").extend({
  type: anyOf(z.enum(WEBHOOK_EVENT_TYPES), "Only events of this type"),
  instance_id: anyOf(instanceRef(), "Only events about this instance (its id, or the subdomain of a live one)"),
});
