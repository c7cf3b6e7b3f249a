import { InngestTestEngine } from "@inngest/test";
import { Inngest } from "inngest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import { webhookMessage } from "@/db/schema";
import { makeDeliverWebhook } from "@/inngest/functions/deliver-webhook";
import { makeDispatchWebhooks } from "@/inngest/functions/dispatch-webhooks";
import { webhookDeliveryRequested, webhookMessagesPending } from "@/lib/jobs/events";
import { toInngestFunction } from "@/lib/jobs/define";
import { newId } from "@/lib/ids";
import { client, createAccount } from "../support/fixtures";
import { useApiServer } from "../support/security";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver";
import { jobs } from "./harness";

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

    // An operation's completion, as finishOperation writes it to the outbox.
    const msgId = newId("msg");
    const payload = { type: "operation.succeeded", timestamp: new Date().toISOString(), data: { id: "op_test", status: "succeeded" } };
    await (await getDb()).insert(webhookMessage).values({ id: msgId, accountId: me.accountId, eventType: "operation.succeeded", payload });

    const dispatch = new InngestTestEngine({
      function: toInngestFunction(inngest, makeDispatchWebhooks(jobs.deps)),
      events: [{ name: webhookMessagesPending.name, data: { reason: "test" } }],
    });
    const dispatched = await dispatch.execute();
    expect(dispatched.error).toBeUndefined();
    // On a shared Postgres server, test files running beside this one may have messages in the outbox
    // too: the fan-out takes them all, so only this message's delivery is checked.
    expect((dispatched.result as { messages: number }).messages).toBeGreaterThanOrEqual(1);
    expect(dispatched.ctx.step.sendEvent).toHaveBeenCalledWith("deliver-0", expect.any(Array));
    const events = sentToInngest.splice(0).filter((e) => e.data.endpoint_id === ep.body.id);
    expect(events).toEqual([
      expect.objectContaining({ name: webhookDeliveryRequested.name, id: expect.stringMatching(/^dlv_.*-r1-a0$/), data: { delivery_id: expect.stringMatching(/^dlv_/), endpoint_id: ep.body.id, round: 1 } }),
    ]);

    rx.respondWith({ type: "status", status: 500 });
    const deliver = new InngestTestEngine({
      function: toInngestFunction(inngest, makeDeliverWebhook(jobs.deps)),
      events: [{ name: webhookDeliveryRequested.name, data: events[0]!.data }],
      // The first retry's wait: the receiver recovers meanwhile.
      steps: [{ id: "wait-0", handler: () => void rx.respondWith({ type: "status", status: 200 }) }],
    });
    const delivered = await deliver.execute();
    expect(delivered.error).toBeUndefined();
    expect(delivered.result).toEqual({ status: "succeeded", attempts: 2 });
    expect(delivered.ctx.step.sleep).toHaveBeenCalledWith("wait-0", 5_000);

    expect(rx.requests.map((r) => r.headers["webhook-id"])).toEqual([msgId, msgId]);
    for (const r of rx.requests) {
      expect(r.verifications[0]).toMatchObject({ ok: true, payload });
      expect(r.body).toBe(rx.requests[0]!.body);
      expect(r.body.startsWith('{"type":"operation.succeeded","timestamp":')).toBe(true); // {type, timestamp, data}, in that order
    }
    const list = await client(server.url, me.token).get(`/api/v1/webhooks/${ep.body.id}/deliveries`);
    expect(list.body[0]).toMatchObject({ message_id: msgId, status: "succeeded" });
    expect(list.body[0].attempts.map((a: { response_status: number }) => a.response_status)).toEqual([500, 200]);
  });
});
