import { InngestTestEngine } from "@inngest/test";
import { eq } from "drizzle-orm";
import { Inngest } from "inngest";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { getDb } from "@/db/client";
import { webhookDelivery, webhookMessage } from "@/db/schema";
import { defaultDeps } from "@/inngest/deps";
import { webhookDeliveryRequested, webhookMessagesPending } from "@/inngest/events/webhooks";
import { makeDeliverWebhook } from "@/inngest/functions/deliver-webhook";
import { makeDispatchWebhooks } from "@/inngest/functions/dispatch-webhooks";
import { toInngestFunction } from "@/lib/jobs/define";
import { newId } from "@/lib/ids";
import { client, createAccount } from "../support/fixtures";
import { useApiServer } from "../support/security";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver";

vi.mock("@/inngest/local", async () => (await import("./webhooks-harness")).localRunnerModule);

// The webhook functions on Inngest's own execution engine (@inngest/test), the
// runtime production uses: same step ids, same outcome as on the local runner.

const silent = { info() {}, warn() {}, error() {}, debug() {} };
/** What the functions sent to Inngest's event API (step.sendEvent), caught at its fetch. */
type SentEvent = { name: string; id: string; data: Record<string, unknown> };
const sentToInngest: SentEvent[] = [];
const inngest = new Inngest({
  id: "webhooks-test",
  logger: silent,
  eventKey: "test-event-key",
  fetch: (async (_url: string, init: RequestInit) => {
    const events = JSON.parse(String(init.body)) as SentEvent[];
    sentToInngest.push(...events);
    return Response.json({ ids: events.map((e) => e.id), status: 200 });
  }) as typeof fetch,
});
const server = useApiServer();
const secrets: string[] = [];
let rx: WebhookReceiver;
beforeAll(async () => {
  rx = await startWebhookReceiver({ secrets });
});
afterAll(async () => {
  await rx.close();
});

describe("dispatch-webhooks and deliver-webhook on Inngest", () => {
  it("fans a message out to a delivery event, then delivers it, retrying after a failure with the same webhook-id", async () => {
    const me = await createAccount();
    const ep = await client(server.url, me.token).post("/api/v1/webhooks", { url: rx.url, events: ["operation.succeeded"] });
    expect(ep.status).toBe(201);
    secrets.push(ep.body.secret);

    // An operation's completion, as finishOperation writes it to the outbox. The dispatcher drains every
    // pending message in the database: on a shared Postgres server other test files (and earlier runs) have
    // theirs there too, and their own dispatchers may drain this one first. So this test looks only at its
    // own message, and makes another if a dispatcher elsewhere took it.
    const payload = { type: "operation.succeeded", timestamp: new Date().toISOString(), data: { id: "op_test", status: "succeeded" } };
    let mine: { msgId: string; event: SentEvent } | undefined;
    for (let attempt = 0; attempt < 5 && !mine; attempt++) {
      const msgId = newId("msg");
      await (await getDb()).insert(webhookMessage).values({ id: msgId, accountId: me.accountId, eventType: "operation.succeeded", payload });
      const dispatch = new InngestTestEngine({
        function: toInngestFunction(inngest, makeDispatchWebhooks(defaultDeps)),
        events: [{ name: webhookMessagesPending.name, data: { reason: "test" } }],
      });
      const dispatched = await dispatch.execute();
      expect(dispatched.error).toBeUndefined();
      const [delivery] = await (await getDb()).select().from(webhookDelivery).where(eq(webhookDelivery.messageId, msgId));
      expect(delivery, "the message was fanned out to its endpoint").toMatchObject({ endpointId: ep.body.id, status: "pending", round: 1 });
      const events = sentToInngest.splice(0).filter((e) => e.data.delivery_id === delivery!.id);
      if (events.length === 0) continue; // fanned out by a dispatcher in another process
      expect(dispatched.ctx.step.sendEvent).toHaveBeenCalledWith(expect.stringMatching(/^deliver-\d+$/), expect.any(Array));
      expect(events).toEqual([
        expect.objectContaining({ name: webhookDeliveryRequested.name, id: `${delivery!.id}-r1-a0`, data: { delivery_id: delivery!.id, endpoint_id: ep.body.id, round: 1 } }),
      ]);
      mine = { msgId, event: events[0]! };
    }
    expect(mine, "one of five messages was fanned out by this test's dispatcher").toBeDefined();
    const { msgId } = mine!;
    const received = () => rx.requests.filter((r) => r.headers["webhook-id"] === msgId);

    rx.respondWith({ type: "status", status: 500 });
    const deliver = new InngestTestEngine({
      function: toInngestFunction(inngest, makeDeliverWebhook(defaultDeps)),
      events: [{ name: webhookDeliveryRequested.name, data: mine!.event.data }],
      // The first retry's wait: the receiver recovers meanwhile.
      steps: [{ id: "wait-0", handler: () => void rx.respondWith({ type: "status", status: 200 }) }],
    });
    const delivered = await deliver.execute();
    expect(delivered.error).toBeUndefined();
    expect(delivered.result).toEqual({ status: "succeeded", attempts: 2 });
    expect(delivered.ctx.step.sleep).toHaveBeenCalledWith("wait-0", 5_000);

    expect(received()).toHaveLength(2);
    for (const r of received()) {
      expect(r.verifications[0]).toMatchObject({ ok: true, payload });
      expect(r.body).toBe(received()[0]!.body);
      expect(r.body.startsWith('{"type":"operation.succeeded","timestamp":')).toBe(true); // {type, timestamp, data}, in that order
    }
    const list = await client(server.url, me.token).get(`/api/v1/webhooks/${ep.body.id}/deliveries`);
    expect(list.body[0]).toMatchObject({ message_id: msgId, status: "succeeded" });
    expect(list.body[0].attempts.map((a: { response_status: number }) => a.response_status)).toEqual([500, 200]);
  });
});
