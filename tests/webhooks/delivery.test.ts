import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ComputeError, type LocalProvider } from "@/lib/compute";
import { RETRY_DELAYS_MS } from "@/lib/webhooks/schedule";
import { client, createAccount, createRunningInstance, uniqueSubdomain, waitForOperation } from "../support/fixtures";
import { useApiServer } from "../support/security";
import { startWebhookReceiver, type ReceivedRequest, type WebhookReceiver } from "../support/webhook-receiver";
import { jobs, TEST_ATTEMPT_TIMEOUT_MS, verifyAsSent } from "./harness";

const server = useApiServer();
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

type Api = ReturnType<typeof client>;
interface Delivery {
  id: string;
  event_type: string;
  message_id: string;
  status: "pending" | "succeeded" | "failed";
  attempts: { at: string; response_status: number | null; duration_ms: number; error: string | null }[];
  next_attempt_at: string | null;
}

/** Receivers started by a test, closed after it. */
const receivers: WebhookReceiver[] = [];
async function receiver(secrets: string[] = []) {
  const r = await startWebhookReceiver({ secrets });
  receivers.push(r);
  return r;
}
beforeEach(() => jobs.reset());
afterEach(async () => {
  jobs.reset();
  await jobs.idle();
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

/**
 * A user with an instance and an endpoint on a receiver that verifies with the
 * endpoint's secret. The instance's creation happens before the endpoint exists.
 */
async function setup(opts: { events?: string[]; respond?: Parameters<WebhookReceiver["respondWith"]>[0] } = {}) {
  const me = await createAccount({ limits: { heavy: 100, write: 100 } });
  const api = client(server.url, me.token);
  const inst = await createRunningInstance(api, uniqueSubdomain("hook"));
  await jobs.idle();
  const secrets: string[] = [];
  const rx = await receiver(secrets);
  if (opts.respond) rx.respondWith(opts.respond);
  const res = await api.post("/api/v1/webhooks", { url: rx.url, events: opts.events ?? ["operation.succeeded", "operation.failed"] });
  expect(res.status).toBe(201);
  secrets.push(res.body.secret); // the receiver reads this array on every request
  return { me, api, rx, secrets, endpoint: res.body as { id: string; secret: string }, instanceId: inst.id };
}

/** Runs one operation on the instance (stop if running, else start) and waits for it and for what it set going. */
async function operate(api: Api, instanceId: string) {
  const inst = await api.get(`/api/v1/instances/${instanceId}`);
  const action = inst.body.status === "running" ? "stop" : "start";
  const res = await api.post(`/api/v1/instances/${instanceId}/${action}`);
  expect(res.status, res.text).toBe(202);
  const op = await waitForOperation(api, res.body.id);
  await jobs.idle();
  return op.body as { id: string; status: string };
}

async function deliveries(api: Api, endpointId: string): Promise<Delivery[]> {
  const res = await api.get(`/api/v1/webhooks/${endpointId}/deliveries?limit=100`);
  expect(res.status, res.text).toBe(200);
  return res.body;
}

const header = (req: ReceivedRequest, name: string) => req.headers[name] as string;

describe("delivery of operation results", () => {
  it("delivers operation.succeeded, signed so the standardwebhooks verifier accepts it, with the operation as data", async () => {
    const { api, rx, endpoint, instanceId } = await setup();
    const op = await operate(api, instanceId);

    expect(rx.requests).toHaveLength(1);
    const req = rx.requests[0]!;
    expect(req.method).toBe("POST");
    expect(req.headers["content-type"]).toBe("application/json");
    expect(req.verifications).toEqual([{ secret: endpoint.secret, ok: true, error: null, payload: expect.anything() }]);
    const body = JSON.parse(req.body);
    expect(Object.keys(body).sort()).toEqual(["data", "timestamp", "type"]);
    expect(body.type).toBe("operation.succeeded");
    expect(body.data).toEqual((await api.get(`/api/v1/operations/${op.id}`)).body);
    expect(body.data).toMatchObject({ id: op.id, type: "instance.stop", status: "succeeded", instance_id: instanceId, error: null });
    expect(Date.parse(body.timestamp)).toBe(Date.parse(body.data.completed_at));
    expect(header(req, "webhook-id")).toMatch(/^msg_[0-9a-z]{26}$/);
    expect(header(req, "webhook-signature")).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(Math.abs(Number(header(req, "webhook-timestamp")) - Date.now() / 1000)).toBeLessThan(60);

    const [d] = await deliveries(api, endpoint.id);
    expect(d).toEqual({
      id: expect.stringMatching(/^dlv_/),
      event_type: "operation.succeeded",
      message_id: header(req, "webhook-id"),
      status: "succeeded",
      attempts: [{ at: expect.any(String), response_status: 200, duration_ms: expect.any(Number), error: null }],
      next_attempt_at: null,
    });
  });

  it("delivers operation.failed with the operation's error", async () => {
    const { api, rx, instanceId } = await setup();
    (jobs.deps.compute() as LocalProvider).failNext("stop", new ComputeError("machine_stuck", "The machine would not stop.", { retryable: false }));
    const op = await operate(api, instanceId);
    expect(op.status).toBe("failed");

    expect(rx.requests).toHaveLength(1);
    const req = rx.requests[0]!;
    expect(req.verifications[0]!.ok).toBe(true);
    const body = JSON.parse(req.body);
    expect(body.type).toBe("operation.failed");
    expect(body.data).toMatchObject({ id: op.id, status: "failed", error: { code: "machine_stuck", message: "The machine would not stop." } });
  });

  it("delivers only the events an endpoint subscribes to, to each subscribed endpoint of the account only", async () => {
    const { api, rx, instanceId } = await setup({ events: ["operation.failed"] });
    const both = await receiver();
    await api.post("/api/v1/webhooks", { url: both.url, events: ["operation.succeeded", "operation.failed"] });
    const paused = await receiver();
    const p = await api.post("/api/v1/webhooks", { url: paused.url, events: ["operation.succeeded"] });
    await api.patch(`/api/v1/webhooks/${p.body.id}`, { enabled: false });
    // Another account's endpoint hears nothing of this account's operations.
    const strangerRx = await receiver();
    await client(server.url, (await createAccount()).token).post("/api/v1/webhooks", { url: strangerRx.url, events: ["operation.succeeded"] });

    await operate(api, instanceId);
    expect(rx.requests).toHaveLength(0);
    expect(both.requests).toHaveLength(1);
    expect(paused.requests).toHaveLength(0);
    expect(strangerRx.requests).toHaveLength(0);

    (jobs.deps.compute() as LocalProvider).failNext("start", new ComputeError("no_capacity", "No capacity.", { retryable: false }));
    await operate(api, instanceId);
    expect(rx.requests.map((r) => JSON.parse(r.body).type)).toEqual(["operation.failed"]);
    expect(both.requests.map((r) => JSON.parse(r.body).type)).toEqual(["operation.succeeded", "operation.failed"]);
  });

  it("lists deliveries newest first in cursor pages, filtered by status", async () => {
    const { api, endpoint, instanceId } = await setup();
    for (let i = 0; i < 3; i++) await operate(api, instanceId);
    const all = await deliveries(api, endpoint.id);
    expect(all).toHaveLength(3);
    expect(all.map((d) => d.id)).toEqual([...all.map((d) => d.id)].sort().reverse());
    expect(new Set(all.map((d) => d.message_id)).size).toBe(3);

    const p1 = await api.get(`/api/v1/webhooks/${endpoint.id}/deliveries?limit=2`);
    expect(p1.body.map((d: Delivery) => d.id)).toEqual(all.slice(0, 2).map((d) => d.id));
    const link = p1.headers.get("link")!;
    expect(link).toMatch(/^<http:\/\/127\.0\.0\.1:\d+\/api\/v1\/webhooks\/wh_[0-9a-z]+\/deliveries\?limit=2&cursor=dlv_[0-9a-z]+>; rel="next"$/);
    const p2 = await api.get(link.slice(1, link.indexOf(">")));
    expect(p2.body.map((d: Delivery) => d.id)).toEqual([all[2]!.id]);
    expect(p2.headers.get("link")).toBeNull();

    expect((await api.get(`/api/v1/webhooks/${endpoint.id}/deliveries?status=succeeded`)).body).toHaveLength(3);
    expect((await api.get(`/api/v1/webhooks/${endpoint.id}/deliveries?status=failed`)).body).toEqual([]);
  });
});

describe("retries", () => {
  it("retries a failing endpoint on the DESIGN schedule with the same webhook-id, recording every attempt", async () => {
    const { api, rx, endpoint, instanceId } = await setup({ respond: { type: "status", status: 503, body: "down" } });
    await operate(api, instanceId);

    // The immediate attempt and one after each delay: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
    expect(jobs.sleeps.filter((ms) => ms > 1)).toEqual([...RETRY_DELAYS_MS]);
    expect(rx.requests).toHaveLength(8);
    const ids = new Set(rx.requests.map((r) => header(r, "webhook-id")));
    expect(ids.size).toBe(1);
    expect(new Set(rx.requests.map((r) => r.body)).size).toBe(1); // the same bytes every time
    for (const r of rx.requests) expect(r.verifications[0]!.ok).toBe(true);

    const [d] = await deliveries(api, endpoint.id);
    expect(d!.status).toBe("failed");
    expect(d!.message_id).toBe([...ids][0]);
    expect(d!.next_attempt_at).toBeNull();
    expect(d!.attempts).toHaveLength(8);
    for (const a of d!.attempts) expect(a).toMatchObject({ response_status: 503, error: "HTTP 503" });
    // Failing for hours is not yet failing for days: the endpoint stays enabled.
    expect((await api.get(`/api/v1/webhooks/${endpoint.id}`)).body).toMatchObject({ enabled: true });
  });

  it("waits between attempts with next_attempt_at set, then succeeds; each attempt has a fresh timestamp", async () => {
    const { api, rx, endpoint, instanceId } = await setup({ respond: { type: "status", status: 500 } });
    const hold = jobs.holdSleeps();
    const inst = await api.post(`/api/v1/instances/${instanceId}/stop`);
    await waitForOperation(api, inst.body.id);
    await vi.waitFor(async () => expect((await deliveries(api, endpoint.id))[0]?.attempts).toHaveLength(1));

    const [waiting] = await deliveries(api, endpoint.id);
    expect(waiting!.status).toBe("pending");
    expect(waiting!.attempts[0]).toMatchObject({ response_status: 500, error: "HTTP 500" });
    // The schedule's first retry (5 s after the attempt), not its second (5 min): the bound sits between them.
    const due = Date.parse(waiting!.next_attempt_at!) - Date.parse(waiting!.attempts[0]!.at);
    expect(due).toBeGreaterThanOrEqual(5_000);
    expect(due).toBeLessThan(60_000);

    rx.respondWith({ type: "status", status: 204 });
    jobs.advance(5_000); // the wait passes
    hold.release();
    await jobs.idle();

    const [done] = await deliveries(api, endpoint.id);
    expect(done).toMatchObject({ status: "succeeded", next_attempt_at: null });
    expect(done!.attempts.map((a) => a.response_status)).toEqual([500, 204]);
    expect(rx.requests).toHaveLength(2);
    const [first, second] = rx.requests;
    expect(header(second!, "webhook-id")).toBe(header(first!, "webhook-id"));
    expect(Number(header(second!, "webhook-timestamp")) - Number(header(first!, "webhook-timestamp"))).toBeGreaterThanOrEqual(5);
    expect(header(second!, "webhook-signature")).not.toBe(header(first!, "webhook-signature"));
    for (const r of rx.requests) expect(r.verifications[0]!.ok).toBe(true);
  });

  it("retries after a timeout with the same webhook-id", async () => {
    const { api, rx, endpoint, instanceId } = await setup({ respond: { type: "hang" } });
    const hold = jobs.holdSleeps();
    const inst = await api.post(`/api/v1/instances/${instanceId}/stop`);
    await waitForOperation(api, inst.body.id);
    await vi.waitFor(async () => expect((await deliveries(api, endpoint.id))[0]?.attempts).toHaveLength(1));
    rx.respondWith({ type: "status", status: 200 });
    hold.release();
    await jobs.idle();

    const [d] = await deliveries(api, endpoint.id);
    expect(d!.status).toBe("succeeded");
    expect(d!.attempts[0]).toMatchObject({ response_status: null, error: `ETIMEDOUT: timed out after ${TEST_ATTEMPT_TIMEOUT_MS} ms` });
    expect(d!.attempts[0]!.duration_ms).toBeGreaterThanOrEqual(TEST_ATTEMPT_TIMEOUT_MS - 5);
    expect(d!.attempts[1]).toMatchObject({ response_status: 200, error: null });
    expect(rx.requests).toHaveLength(2);
    expect(header(rx.requests[1]!, "webhook-id")).toBe(header(rx.requests[0]!, "webhook-id"));
    expect(header(rx.requests[0]!, "webhook-id")).toBe(d!.message_id);
  });

  it("never follows a redirect, not even to a private address", async () => {
    const target = await receiver();
    const { api, rx, endpoint, instanceId } = await setup({ respond: { type: "redirect", location: target.url, status: 307 } });
    await operate(api, instanceId);
    rx.respondWith({ type: "redirect", location: "http://169.254.169.254/latest/meta-data/", status: 302 });
    await operate(api, instanceId);

    const [metadata, local] = await deliveries(api, endpoint.id);
    expect(local!.status).toBe("failed");
    expect(local!.attempts[0]).toMatchObject({ response_status: 307, error: "HTTP 307: redirects are not followed" });
    expect(metadata!.attempts[0]).toMatchObject({ response_status: 302, error: "HTTP 302: redirects are not followed" });
    expect(target.connections).toBe(0);
  });

  it("reports an unreachable endpoint's connection error", async () => {
    const { api, rx, endpoint, instanceId } = await setup();
    await rx.close(); // nothing listens on its port any more
    await operate(api, instanceId);
    const [d] = await deliveries(api, endpoint.id);
    expect(d!.status).toBe("failed");
    expect(d!.attempts).toHaveLength(8);
    expect(d!.attempts[0]).toMatchObject({ response_status: null, error: expect.stringContaining("ECONNREFUSED") });
  });
});

describe("disabling failing endpoints", () => {
  it("disables an endpoint at once when it answers 410 Gone, and re-enabling resumes deliveries", async () => {
    const { api, rx, endpoint, instanceId } = await setup({ respond: { type: "status", status: 410 } });
    await operate(api, instanceId);
    expect(rx.requests).toHaveLength(1);
    const [d] = await deliveries(api, endpoint.id);
    expect(d).toMatchObject({ status: "failed", next_attempt_at: null });
    expect(d!.attempts).toEqual([expect.objectContaining({ response_status: 410 })]);
    const ep = (await api.get(`/api/v1/webhooks/${endpoint.id}`)).body;
    expect(ep).toMatchObject({ enabled: false, disabled_reason: expect.stringContaining("410") });

    // Disabled: nothing is delivered, and nothing can be redelivered.
    await operate(api, instanceId);
    expect(rx.requests).toHaveLength(1);
    expect(await deliveries(api, endpoint.id)).toHaveLength(1);
    const refused = await api.post(`/api/v1/webhooks/${endpoint.id}/deliveries/${d!.id}/redeliver`);
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe("webhook_endpoint_disabled");

    rx.respondWith({ type: "status", status: 200 });
    const on = await api.patch(`/api/v1/webhooks/${endpoint.id}`, { enabled: true });
    expect(on.body).not.toHaveProperty("disabled_reason");
    await operate(api, instanceId);
    expect(rx.requests).toHaveLength(2);
    expect((await deliveries(api, endpoint.id))[0]!.status).toBe("succeeded");
  });

  it("disables an endpoint whose deliveries have failed for more than 5 days; a success in between starts the count again", async () => {
    const { api, rx, endpoint, instanceId } = await setup({ respond: { type: "status", status: 500 } });
    const enabled = async () => (await api.get(`/api/v1/webhooks/${endpoint.id}`)).body;

    await operate(api, instanceId); // fails for good: failing since now
    jobs.advance(6 * DAY);
    rx.respondWith({ type: "status", status: 200 });
    await operate(api, instanceId); // a success: no longer failing
    rx.respondWith({ type: "status", status: 500 });
    await operate(api, instanceId); // fails for good: failing since day 6
    expect(await enabled()).toMatchObject({ enabled: true });

    jobs.advance(3 * DAY);
    await operate(api, instanceId); // failing for 3 days
    expect(await enabled()).toMatchObject({ enabled: true });

    jobs.advance(3 * DAY);
    await operate(api, instanceId); // failing for 6 days: disabled
    const ep = await enabled();
    expect(ep).toMatchObject({ enabled: false, disabled_reason: expect.stringMatching(/failing since .* \(6 days\)/) });

    const count = rx.requests.length;
    await operate(api, instanceId);
    expect(rx.requests.length).toBe(count);
  });
});

describe("secret rotation", () => {
  it("signs with both secrets for 24 hours after a rotation, then with the new one only", async () => {
    const { api, rx, secrets, endpoint, instanceId } = await setup();
    const [oldSecret] = secrets;

    await operate(api, instanceId);
    expect(header(rx.requests[0]!, "webhook-signature").split(" ")).toHaveLength(1);

    const rotated = await api.post(`/api/v1/webhooks/${endpoint.id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    const newSecret = rotated.body.secret as string;
    secrets.push(newSecret);

    // During the grace period a receiver holding either secret accepts the delivery.
    jobs.advance(23 * HOUR);
    await operate(api, instanceId);
    const during = rx.requests[1]!;
    expect(header(during, "webhook-signature").split(" ")).toHaveLength(2);
    expect(verifyAsSent(oldSecret!, during)).toMatchObject({ ok: true });
    expect(verifyAsSent(newSecret, during)).toMatchObject({ ok: true });

    // After it, only the new secret signs.
    jobs.advance(2 * HOUR);
    await operate(api, instanceId);
    const after = rx.requests[2]!;
    expect(header(after, "webhook-signature").split(" ")).toHaveLength(1);
    expect(verifyAsSent(newSecret, after)).toMatchObject({ ok: true });
    expect(verifyAsSent(oldSecret!, after)).toMatchObject({ ok: false, error: "No matching signature found" });
  });

  it("a second rotation within the grace period retires the oldest secret at once", async () => {
    const { api, rx, secrets, endpoint, instanceId } = await setup();
    const second = (await api.post(`/api/v1/webhooks/${endpoint.id}/rotate-secret`)).body.secret;
    const third = (await api.post(`/api/v1/webhooks/${endpoint.id}/rotate-secret`)).body.secret;
    secrets.push(second, third);
    await operate(api, instanceId);
    // Signed by the second and third secrets only: the first no longer verifies.
    expect(header(rx.requests[0]!, "webhook-signature").split(" ")).toHaveLength(2);
    expect(rx.requests[0]!.verifications.map((v) => v.ok)).toEqual([false, true, true]);
  });
});

describe("the outbox", () => {
  it("delivers a completion made while delivery was down, once the reconciler finds it", async () => {
    const { api, rx, endpoint, instanceId } = await setup();
    jobs.drop("webhook/messages.pending"); // the event that starts delivery is lost
    const op = await operate(api, instanceId);
    expect(rx.requests).toHaveLength(0);
    expect(await deliveries(api, endpoint.id)).toEqual([]);

    jobs.restore();
    const out = await jobs.reconcileOnce();
    // On a shared Postgres server, a test file running beside this one may fan the outbox out first
    // (it takes every undispatched message): then the reconciler has found nothing left to do.
    expect(out.webhooks).toBeLessThanOrEqual(1);
    await vi.waitFor(() => expect(rx.requests).toHaveLength(1), { timeout: 10_000 });
    expect(JSON.parse(rx.requests[0]!.body).data.id).toBe(op.id);
    expect(rx.requests[0]!.verifications[0]!.ok).toBe(true);
    await vi.waitFor(async () => expect((await deliveries(api, endpoint.id))[0]!.status).toBe("succeeded"));

    // Dispatched once: another pass delivers nothing more.
    await jobs.reconcileOnce();
    expect(rx.requests).toHaveLength(1);
    expect(await deliveries(api, endpoint.id)).toHaveLength(1);
  });

  it("resumes a delivery whose run was lost, from where its record stands", async () => {
    const { api, rx, endpoint, instanceId } = await setup({ respond: { type: "status", status: 500 } });
    const hold = jobs.holdSleeps();
    const inst = await api.post(`/api/v1/instances/${instanceId}/stop`);
    await waitForOperation(api, inst.body.id);
    await vi.waitFor(async () => expect((await deliveries(api, endpoint.id))[0]?.attempts).toHaveLength(1));
    // The run stays asleep (as if its process died); its next attempt is long overdue.
    jobs.advance(HOUR);
    rx.respondWith({ type: "status", status: 200 });
    const reconcile = jobs.reconcileOnce();
    await vi.waitFor(() => expect(rx.requests).toHaveLength(2));
    // The attempt is recorded in its own step, after the receiver has answered.
    await vi.waitFor(async () => expect((await deliveries(api, endpoint.id))[0]).toMatchObject({ status: "succeeded" }));
    const [d] = await deliveries(api, endpoint.id);
    expect(d!.attempts.map((a) => a.response_status)).toEqual([500, 200]);
    // The old run wakes up to a settled delivery and stops without another POST.
    hold.release();
    await reconcile;
    expect(rx.requests).toHaveLength(2);
    expect((await deliveries(api, endpoint.id))[0]!.attempts).toHaveLength(2);
  });
});

describe("POST /api/v1/webhooks/{id}/deliveries/{deliveryId}/redeliver", () => {
  it("sends a failed delivery again with the same webhook-id and a fresh schedule (202)", async () => {
    const { api, rx, endpoint, instanceId } = await setup({ respond: { type: "status", status: 502 } });
    await operate(api, instanceId);
    const [failed] = await deliveries(api, endpoint.id);
    expect(failed).toMatchObject({ status: "failed" });
    expect(failed!.attempts).toHaveLength(8);

    rx.respondWith({ type: "status", status: 200 });
    const res = await api.post(`/api/v1/webhooks/${endpoint.id}/deliveries/${failed!.id}/redeliver`);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ id: failed!.id, message_id: failed!.message_id, status: "pending" });
    expect(res.body.attempts).toHaveLength(8);
    expect(res.body.next_attempt_at).not.toBeNull();
    await jobs.idle();

    const [again] = await deliveries(api, endpoint.id);
    expect(again).toMatchObject({ id: failed!.id, status: "succeeded", next_attempt_at: null });
    expect(again!.attempts.map((a) => a.response_status)).toEqual([...Array(8).fill(502), 200]);
    expect(rx.requests).toHaveLength(9);
    expect(new Set(rx.requests.map((r) => header(r, "webhook-id")))).toEqual(new Set([failed!.message_id]));
    expect(rx.requests[8]!.verifications[0]!.ok).toBe(true);

    // A succeeded delivery can be sent again too (a receiver that lost it).
    expect((await api.post(`/api/v1/webhooks/${endpoint.id}/deliveries/${failed!.id}/redeliver`)).status).toBe(202);
    await jobs.idle();
    expect(rx.requests).toHaveLength(10);
  });

  it("takes over from a delivery still waiting to retry, without a second run racing it", async () => {
    const { api, rx, endpoint, instanceId } = await setup({ respond: { type: "status", status: 500 } });
    const hold = jobs.holdSleeps();
    const inst = await api.post(`/api/v1/instances/${instanceId}/stop`);
    await waitForOperation(api, inst.body.id);
    await vi.waitFor(async () => expect((await deliveries(api, endpoint.id))[0]?.attempts).toHaveLength(1));
    const [waiting] = await deliveries(api, endpoint.id);

    // The redelivery's own first attempt fails too: now two runs (rounds 1 and 2) wait to retry.
    expect((await api.post(`/api/v1/webhooks/${endpoint.id}/deliveries/${waiting!.id}/redeliver`)).status).toBe(202);
    await vi.waitFor(async () => expect((await deliveries(api, endpoint.id))[0]?.attempts).toHaveLength(2));
    rx.respondWith({ type: "status", status: 200 });
    hold.release();
    await jobs.idle();

    // Round 1's run wakes, sees a newer round and stops: one more POST, not two.
    expect(rx.requests).toHaveLength(3);
    const [d] = await deliveries(api, endpoint.id);
    expect(d).toMatchObject({ status: "succeeded", next_attempt_at: null });
    expect(d!.attempts.map((a) => a.response_status)).toEqual([500, 500, 200]);
  });

  it("answers 404 for an unknown delivery, or one of another endpoint", async () => {
    const { api, endpoint, instanceId } = await setup();
    await operate(api, instanceId);
    const [d] = await deliveries(api, endpoint.id);
    const other = await api.post("/api/v1/webhooks", { url: "http://127.0.0.1:9/other", events: ["operation.failed"] });
    for (const path of [
      `/api/v1/webhooks/${endpoint.id}/deliveries/dlv_01jd3z6v7a8b9c0d1e2f3g4h5j/redeliver`,
      `/api/v1/webhooks/${other.body.id}/deliveries/${d!.id}/redeliver`,
    ]) {
      const res = await api.post(path);
      expect(res.status, path).toBe(404);
      expect(res.body.code).toBe("not_found");
    }
  });
});
