import { and, asc, count, eq } from "drizzle-orm";
import { account, webhookEndpoint } from "@/db/schema";
import { config } from "../config";
import { open, seal } from "../crypto";
import { ApiError, notFound } from "../errors";
import type { ServiceContext } from "../context";
import { newId } from "../ids";
import type { CreateWebhookInput, UpdateWebhookInput, WebhookEndpointResource } from "../schemas/webhooks";
import type { WebhookEventType } from "../webhooks/events";
import { generateSecret } from "../webhooks/signing";
import { validateWebhookUrl, type WebhookUrlMode } from "../webhooks/ssrf";

/** Endpoints an account may register: enough for every real use, few enough that one event fans out cheaply. */
export const MAX_WEBHOOK_ENDPOINTS = 10;

/** How long a rotated-out secret keeps signing beside the new one (DESIGN 3.7). */
export const SECRET_GRACE_MS = 24 * 60 * 60 * 1000;

export type EndpointRow = typeof webhookEndpoint.$inferSelect;

/**
 * Which URLs are acceptable here: production takes https to public addresses
 * only; a process that is embedded in fact (or one that opts in with
 * ALLOW_LOOPBACK_WEBHOOKS=1) also takes http:// loopback URLs, so a newcomer
 * can watch deliveries on their own machine. Checked at registration and at
 * every delivery.
 */
export function webhookUrlMode(): WebhookUrlMode {
  return { allowLoopbackHttp: config().allowLoopbackWebhooks };
}

export function toEndpointResource(row: EndpointRow): WebhookEndpointResource {
  return {
    id: row.id,
    url: row.url,
    events: row.events as WebhookEventType[],
    description: row.description,
    enabled: row.enabled,
    ...(row.enabled ? {} : { disabled_reason: row.disabledReason ?? "Disabled." }),
    created_at: row.createdAt.toISOString(),
  };
}

/**
 * The secrets that sign a delivery made at `now`: the current one, plus the
 * rotated-out one while it is inside its grace period.
 */
export function signingSecrets(row: EndpointRow, now: Date): string[] {
  const secrets = [open(row.secretEnc)];
  if (row.previousSecretEnc && row.previousSecretExpiresAt && row.previousSecretExpiresAt.getTime() > now.getTime()) {
    secrets.push(open(row.previousSecretEnc));
  }
  return secrets;
}

/** A URL that passed the SSRF guard (resolved, every address allowed). */
export type CheckedWebhookUrl = string & { readonly __checked: unique symbol };

/**
 * Resolves and checks a URL (SSRF guard). Route files run it in `prepare`,
 * before the request's transaction opens: a DNS lookup must not hold its locks.
 */
export async function checkWebhookUrl(url: string): Promise<CheckedWebhookUrl> {
  const checked = await validateWebhookUrl(url, webhookUrlMode());
  if (!checked.ok) {
    throw new ApiError("webhook_url_not_allowed", `This URL cannot receive webhooks: ${checked.reason}.`, {
      extra: { errors: [{ path: "url", message: checked.reason }] },
    });
  }
  return url as CheckedWebhookUrl; // kept as given: every delivery parses and checks it again
}

const uniqueEvents = (events: readonly WebhookEventType[]) => [...new Set(events)];

export async function createEndpoint(ctx: ServiceContext, input: CreateWebhookInput, url: CheckedWebhookUrl) {
  // The account row lock serialises concurrent creations, so the limit holds: never one more.
  await ctx.db.select({ id: account.id }).from(account).where(eq(account.id, ctx.account.id)).for("update");
  const [{ n } = { n: 0 }] = await ctx.db.select({ n: count() }).from(webhookEndpoint).where(eq(webhookEndpoint.accountId, ctx.account.id));
  if (n >= MAX_WEBHOOK_ENDPOINTS) {
    throw new ApiError(
      "webhook_endpoint_limit_reached",
      `An account can have at most ${MAX_WEBHOOK_ENDPOINTS} webhook endpoints. Delete one, or subscribe an existing endpoint to more events.`,
      { extra: { limit: MAX_WEBHOOK_ENDPOINTS, usage: n } },
    );
  }
  const secret = generateSecret();
  const [row] = await ctx.db
    .insert(webhookEndpoint)
    .values({
      id: newId("wh"),
      accountId: ctx.account.id,
      url,
      events: uniqueEvents(input.events),
      description: input.description ?? null,
      secretEnc: seal(secret),
    })
    .returning();
  return { ...toEndpointResource(row!), secret };
}

export async function listEndpoints(ctx: ServiceContext): Promise<WebhookEndpointResource[]> {
  // At most MAX_WEBHOOK_ENDPOINTS rows: one page, no cursor.
  const rows = await ctx.db.select().from(webhookEndpoint).where(eq(webhookEndpoint.accountId, ctx.account.id)).orderBy(asc(webhookEndpoint.id));
  return rows.map(toEndpointResource);
}

/** The account's endpoint, locked for update inside a mutation's transaction. */
export async function findEndpoint(ctx: ServiceContext, id: string, opts: { lock?: boolean } = {}): Promise<EndpointRow> {
  const q = ctx.db
    .select()
    .from(webhookEndpoint)
    .where(and(eq(webhookEndpoint.accountId, ctx.account.id), eq(webhookEndpoint.id, id)))
    .limit(1);
  const [row] = opts.lock ? await q.for("update") : await q;
  if (!row) throw notFound("webhook endpoint", id);
  return row;
}

export async function getEndpoint(ctx: ServiceContext, id: string): Promise<WebhookEndpointResource> {
  return toEndpointResource(await findEndpoint(ctx, id));
}

export async function updateEndpoint(
  ctx: ServiceContext,
  id: string,
  input: UpdateWebhookInput,
  url: CheckedWebhookUrl | undefined,
): Promise<WebhookEndpointResource> {
  const row = await findEndpoint(ctx, id, { lock: true });
  const changes: Partial<typeof webhookEndpoint.$inferInsert> = {};
  if (url !== undefined) changes.url = url;
  if (input.events !== undefined) changes.events = uniqueEvents(input.events);
  if (input.description !== undefined) changes.description = input.description;
  if (input.enabled === true && !row.enabled) {
    // A fresh start: the old reason and the old run of failures no longer apply.
    Object.assign(changes, { enabled: true, disabledReason: null, failingSince: null });
  } else if (input.enabled === false && row.enabled) {
    Object.assign(changes, { enabled: false, disabledReason: "Disabled through the API." });
  }
  if (Object.keys(changes).length === 0) return toEndpointResource(row);
  const [updated] = await ctx.db
    .update(webhookEndpoint)
    .set({ ...changes, updatedAt: new Date() })
    .where(eq(webhookEndpoint.id, row.id))
    .returning();
  return toEndpointResource(updated!);
}

/** Deletes an endpoint with its deliveries; a delivery run in progress finds it gone and stops. */
export async function deleteEndpoint(ctx: ServiceContext, id: string): Promise<void> {
  const rows = await ctx.db
    .delete(webhookEndpoint)
    .where(and(eq(webhookEndpoint.accountId, ctx.account.id), eq(webhookEndpoint.id, id)))
    .returning({ id: webhookEndpoint.id });
  if (rows.length === 0) throw notFound("webhook endpoint", id);
}

/**
 * A new signing secret. The one it replaces keeps signing beside it for 24
 * hours, so receivers can switch without missing a delivery; a secret rotated
 * out earlier than that stops signing now (two secrets at most).
 */
export async function rotateSecret(ctx: ServiceContext, id: string): Promise<{ secret: string }> {
  const row = await findEndpoint(ctx, id, { lock: true });
  const secret = generateSecret();
  const now = new Date();
  await ctx.db
    .update(webhookEndpoint)
    .set({
      secretEnc: seal(secret),
      previousSecretEnc: row.secretEnc,
      previousSecretExpiresAt: new Date(now.getTime() + SECRET_GRACE_MS),
      updatedAt: now,
    })
    .where(eq(webhookEndpoint.id, row.id));
  return { secret };
}
