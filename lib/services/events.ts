import { and, eq, gte, inArray } from "drizzle-orm";
import { webhookMessage } from "@/db/schema";
import type { ServiceContext } from "../context";
import type { EventResource } from "../schemas/events";
import { EVENT_RETENTION_DAYS, type WebhookEventType } from "../webhooks/events";
import { resolveInstanceIds } from "./instance-lookup";
import { paginate, type PageQuery } from "./pagination";

type MessageRow = typeof webhookMessage.$inferSelect;

/** The stored webhook message as the event resource: its payload as delivered, with its id. */
export function toEventResource(row: MessageRow): EventResource {
  const { type, timestamp, data } = row.payload as { type: string; timestamp: string; data: unknown };
  return { id: row.id, type, timestamp, data } as EventResource;
}

/**
 * The account's events of the last EVENT_RETENTION_DAYS days, newest first,
 * in cursor pages: the webhook outbox itself, so an event's id is its
 * deliveries' `message_id`, and a consumer that missed a delivery (or has no
 * endpoint) finds the same payload here. Filters: event types and instances
 * (ids, or subdomains of live instances), each a list read as OR.
 */
export async function listEvents(ctx: ServiceContext, q: PageQuery & { type?: WebhookEventType[]; instance_id?: string[] }) {
  let instanceIds: string[] | undefined;
  if (q.instance_id) {
    instanceIds = await resolveInstanceIds(ctx.db, ctx.account.id, q.instance_id);
    if (instanceIds.length === 0) return { items: [], nextCursor: null };
  }
  // Retention prunes in batches, so a row past its age may linger a little: the window is exact all the same.
  const since = new Date(Date.now() - EVENT_RETENTION_DAYS * 86_400_000);
  return paginate(
    q,
    { column: webhookMessage.id, order: "desc" },
    (p) =>
      ctx.db
        .select()
        .from(webhookMessage)
        .where(
          and(
            eq(webhookMessage.accountId, ctx.account.id),
            gte(webhookMessage.createdAt, since),
            q.type ? inArray(webhookMessage.eventType, q.type) : undefined,
            instanceIds ? inArray(webhookMessage.instanceId, instanceIds) : undefined,
            p.after,
          ),
        )
        .orderBy(p.orderBy)
        .limit(p.limit),
    toEventResource,
  );
}
