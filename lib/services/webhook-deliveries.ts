import { and, asc, eq, inArray, isNull, lt, sql } from "drizzle-orm";
import type { Db } from "@/db/client";
import { webhookDelivery, webhookEndpoint, webhookMessage } from "@/db/schema";
import { ApiError, notFound } from "../errors";
import type { ServiceContext } from "../context";
import { newId } from "../ids";
import { deliveryRequestedEvent, messagesPendingEvent } from "../jobs/events";
import type { OutgoingEvent } from "../jobs/types";
import { iso } from "../schemas/common";
import type { DeliveryResource, DeliveryStatus } from "../schemas/webhooks";
import type { WebhookEventType } from "../webhooks/events";
import { nextAttemptDelay } from "../webhooks/schedule";
import { paginate, type PageQuery } from "./pagination";
import { findEndpoint, signingSecrets, type EndpointRow } from "./webhooks";

/**
 * Deliveries: the API's view of them (list, redeliver) and the durable
 * functions' writes (fan-out, one attempt's record). Each job write is one
 * short transaction, safe to repeat.
 */

type DeliveryRow = typeof webhookDelivery.$inferSelect;
export type AttemptRecord = DeliveryRow["attempts"][number];

/** An endpoint whose deliveries have failed this long is disabled when another delivery fails for good. */
export const DISABLE_AFTER_FAILING_MS = 5 * 24 * 60 * 60 * 1000;
/** A pending delivery this far past its due time has lost its run (a restart of the embedded runner, a lost event). */
export const STALLED_AFTER_MS = 10 * 60 * 1000;
const FAN_OUT_BATCH = 50;

export function toDeliveryResource(row: DeliveryRow): DeliveryResource {
  return {
    id: row.id,
    event_type: row.eventType as WebhookEventType,
    message_id: row.messageId,
    status: row.status as DeliveryStatus,
    attempts: row.attempts.map((a) => ({ at: a.at, response_status: a.response_status, duration_ms: a.duration_ms, error: a.error })),
    next_attempt_at: iso(row.nextAttemptAt),
  };
}

// ---------------------------------------------------------------------------
// The API

export async function listDeliveries(ctx: ServiceContext, endpointId: string, q: PageQuery & { status?: DeliveryStatus[] }) {
  const endpoint = await findEndpoint(ctx, endpointId);
  return paginate(
    q,
    { column: webhookDelivery.id, order: "desc" },
    (p) =>
      ctx.db
        .select()
        .from(webhookDelivery)
        .where(and(eq(webhookDelivery.endpointId, endpoint.id), q.status ? inArray(webhookDelivery.status, q.status) : undefined, p.after))
        .orderBy(p.orderBy)
        .limit(p.limit),
    toDeliveryResource,
  );
}

/**
 * Sends a delivery again: a new round with the whole retry schedule ahead of
 * it, same message (so the same `webhook-id`), its attempts appended to the
 * same record. A run of an earlier round still waiting to retry stops.
 */
export async function redeliver(ctx: ServiceContext, endpointId: string, deliveryId: string): Promise<DeliveryResource> {
  const endpoint = await findEndpoint(ctx, endpointId);
  const [row] = await ctx.db
    .select()
    .from(webhookDelivery)
    .where(and(eq(webhookDelivery.endpointId, endpoint.id), eq(webhookDelivery.id, deliveryId)))
    .for("update");
  if (!row) throw notFound("delivery", deliveryId);
  if (!endpoint.enabled) {
    throw new ApiError(
      "webhook_endpoint_disabled",
      `Webhook endpoint ${endpoint.id} is disabled (${endpoint.disabledReason ?? "disabled"}). Re-enable it with PATCH {"enabled": true}, then redeliver.`,
    );
  }
  const [updated] = await ctx.db
    .update(webhookDelivery)
    .set({ round: row.round + 1, roundAttempts: 0, status: "pending", nextAttemptAt: new Date() })
    .where(eq(webhookDelivery.id, row.id))
    .returning();
  ctx.sendAfterCommit([deliveryRequestedEvent(updated!)]);
  return toDeliveryResource(updated!);
}

// ---------------------------------------------------------------------------
// The durable functions' side

export interface FanOutResult {
  messages: number;
  deliveries: { id: string; endpointId: string; round: number; roundAttempts: number }[];
}

/**
 * Fans out up to one batch of undispatched messages: one delivery per message
 * and enabled endpoint of its account subscribed to its type, and the message
 * marked dispatched, in one transaction. SKIP LOCKED lets two dispatchers
 * (there should be one) share the work instead of queueing.
 */
export async function fanOutMessages(db: Db, now: Date, limit = FAN_OUT_BATCH): Promise<FanOutResult> {
  return db.transaction(async (tx) => {
    const messages = await tx
      .select({ id: webhookMessage.id, accountId: webhookMessage.accountId, eventType: webhookMessage.eventType })
      .from(webhookMessage)
      .where(isNull(webhookMessage.dispatchedAt))
      .orderBy(asc(webhookMessage.createdAt), asc(webhookMessage.id))
      .limit(limit)
      .for("update", { skipLocked: true });
    if (messages.length === 0) return { messages: 0, deliveries: [] };
    const endpoints = await tx
      .select({ id: webhookEndpoint.id, accountId: webhookEndpoint.accountId, events: webhookEndpoint.events })
      .from(webhookEndpoint)
      .where(and(inArray(webhookEndpoint.accountId, [...new Set(messages.map((m) => m.accountId))]), eq(webhookEndpoint.enabled, true)));
    const values = messages.flatMap((m) =>
      endpoints
        .filter((e) => e.accountId === m.accountId && e.events.includes(m.eventType))
        .map((e) => ({
          id: newId("dlv"),
          endpointId: e.id,
          messageId: m.id,
          eventType: m.eventType,
          status: "pending",
          nextAttemptAt: now,
          createdAt: now,
        })),
    );
    const created = values.length
      ? await tx
          .insert(webhookDelivery)
          .values(values)
          .onConflictDoNothing({ target: [webhookDelivery.messageId, webhookDelivery.endpointId] })
          .returning({ id: webhookDelivery.id, endpointId: webhookDelivery.endpointId, round: webhookDelivery.round, roundAttempts: webhookDelivery.roundAttempts })
      : [];
    await tx
      .update(webhookMessage)
      .set({ dispatchedAt: now })
      .where(inArray(webhookMessage.id, messages.map((m) => m.id)));
    return { messages: messages.length, deliveries: created };
  });
}

/**
 * The request body: the stored `{type, timestamp, data}` in that order (jsonb
 * keeps its own key order), the same bytes on every attempt.
 */
function payloadBody(payload: Record<string, unknown>): string {
  const { type, timestamp, data, ...rest } = payload;
  return JSON.stringify({ type, timestamp, data, ...rest });
}

export type DeliveryTarget =
  | { stop: "gone" | "settled" | "superseded" | "endpoint_disabled" }
  | { stop?: undefined; attempt: number; url: string; body: string; messageId: string; secrets: string[] };

/**
 * What the next attempt of a delivery's round sends, and where; or why there
 * is nothing to send. Holds the secrets in the clear: never return it from a step.
 */
export async function deliveryTarget(db: Db, deliveryId: string, round: number, now: Date): Promise<DeliveryTarget> {
  const [found] = await db
    .select({ delivery: webhookDelivery, endpoint: webhookEndpoint, payload: webhookMessage.payload })
    .from(webhookDelivery)
    .innerJoin(webhookEndpoint, eq(webhookEndpoint.id, webhookDelivery.endpointId))
    .innerJoin(webhookMessage, eq(webhookMessage.id, webhookDelivery.messageId))
    .where(eq(webhookDelivery.id, deliveryId))
    .limit(1);
  if (!found) return { stop: "gone" };
  const { delivery, endpoint } = found;
  if (delivery.round !== round) return { stop: "superseded" };
  if (delivery.status !== "pending") return { stop: "settled" };
  if (!endpoint.enabled) return { stop: "endpoint_disabled" };
  return {
    attempt: delivery.roundAttempts + 1,
    url: endpoint.url,
    body: payloadBody(found.payload),
    messageId: delivery.messageId,
    secrets: signingSecrets(endpoint, now),
  };
}

export type RecordOutcome =
  | { done: true; status: DeliveryStatus | "superseded"; endpointDisabled: boolean }
  | { done: false; status: "pending"; delayMs: number };

/**
 * Records attempt number `attempt` of a round, and what follows from it: the
 * delivery settles or waits for the next attempt on the schedule; the
 * endpoint's run of failures starts or ends; a 410, or failures going on for
 * days, disable the endpoint. Recorded only if the round still stands where
 * the attempt found it, so a repeated step never records twice.
 */
export async function recordAttempt(
  db: Db,
  input: { deliveryId: string; round: number; attempt: number; result: AttemptRecord & { ok: boolean; disable: boolean }; now: Date },
): Promise<RecordOutcome> {
  const { deliveryId, round, attempt, result, now } = input;
  return db.transaction(async (tx) => {
    const [delivery] = await tx.select().from(webhookDelivery).where(eq(webhookDelivery.id, deliveryId)).for("update");
    if (!delivery || delivery.round !== round || delivery.roundAttempts !== attempt - 1 || delivery.status !== "pending") {
      return { done: true, status: "superseded", endpointDisabled: false };
    }
    const [endpoint] = await tx.select().from(webhookEndpoint).where(eq(webhookEndpoint.id, delivery.endpointId)).for("update");
    const entry: AttemptRecord = { at: result.at, response_status: result.response_status, duration_ms: result.duration_ms, error: result.error };

    let status: DeliveryStatus;
    let delayMs: number | null = null;
    let endpointChanges: Partial<EndpointRow> = {};
    if (result.ok) {
      status = "succeeded";
      if (endpoint?.failingSince) endpointChanges = { failingSince: null };
    } else if (result.disable) {
      status = "failed";
      endpointChanges = {
        enabled: false,
        disabledReason: `The endpoint answered 410 Gone on ${result.at}, asking for no more deliveries. Re-enable it with PATCH {"enabled": true} to receive them again.`,
      };
    } else {
      delayMs = nextAttemptDelay(attempt);
      status = delayMs === null ? "failed" : "pending";
      const failingSince = endpoint?.failingSince ?? now;
      if (!endpoint?.failingSince) endpointChanges = { failingSince };
      if (status === "failed" && now.getTime() - failingSince.getTime() >= DISABLE_AFTER_FAILING_MS) {
        const days = Math.floor((now.getTime() - failingSince.getTime()) / 86_400_000);
        endpointChanges = {
          enabled: false,
          disabledReason: `Deliveries have been failing since ${failingSince.toISOString()} (${days} days). Fix the endpoint, then re-enable it with PATCH {"enabled": true}.`,
        };
      }
    }

    await tx
      .update(webhookDelivery)
      .set({
        attempts: sql`${webhookDelivery.attempts} || ${JSON.stringify([entry])}::jsonb`,
        roundAttempts: attempt,
        status,
        nextAttemptAt: delayMs === null ? null : new Date(now.getTime() + delayMs),
      })
      .where(eq(webhookDelivery.id, delivery.id));
    if (endpoint && Object.keys(endpointChanges).length > 0) {
      await tx
        .update(webhookEndpoint)
        .set({ ...endpointChanges, updatedAt: now })
        .where(eq(webhookEndpoint.id, endpoint.id));
    }
    if (delayMs !== null) return { done: false, status: "pending", delayMs };
    return { done: true, status, endpointDisabled: endpointChanges.enabled === false };
  });
}

/** Settles a delivery without another attempt (its endpoint was disabled, or its run failed for good). */
export async function abandonDelivery(db: Db, deliveryId: string, round: number): Promise<void> {
  await db
    .update(webhookDelivery)
    .set({ status: "failed", nextAttemptAt: null })
    .where(and(eq(webhookDelivery.id, deliveryId), eq(webhookDelivery.round, round), eq(webhookDelivery.status, "pending")));
}

/**
 * For the reconciler: events that get stuck work moving again. A message still
 * undispatched (its event was lost, or delivery was down when its operation
 * finished) gets the dispatcher going; a pending delivery long past its due
 * time (its run was lost) is started again from where its record stands.
 */
export async function webhookBacklogEvents(db: Db, now: Date): Promise<OutgoingEvent[]> {
  const events: OutgoingEvent[] = [];
  const [undispatched] = await db.select({ id: webhookMessage.id }).from(webhookMessage).where(isNull(webhookMessage.dispatchedAt)).limit(1);
  if (undispatched) events.push(messagesPendingEvent("reconcile"));
  const stalled = await db
    .select({ id: webhookDelivery.id, endpointId: webhookDelivery.endpointId, round: webhookDelivery.round, roundAttempts: webhookDelivery.roundAttempts })
    .from(webhookDelivery)
    .where(and(eq(webhookDelivery.status, "pending"), lt(webhookDelivery.nextAttemptAt, new Date(now.getTime() - STALLED_AFTER_MS))))
    .orderBy(asc(webhookDelivery.nextAttemptAt))
    .limit(100);
  for (const d of stalled) events.push(deliveryRequestedEvent(d));
  return events;
}
