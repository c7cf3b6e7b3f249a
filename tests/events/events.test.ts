import { eq } from "drizzle-orm";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import { instance, webhookMessage } from "@/db/schema";
import type { LocalProvider } from "@/lib/compute";
import { newId } from "@/lib/ids";
import { observeRequestedEvent } from "@/lib/jobs/events";
import { resetConfig } from "@/lib/config";
import { operatorToken } from "@/lib/operator/access";
import { machineRef } from "@/lib/services/operation-progress";
import { client, createAccount, createRunningInstance, uniqueSubdomain, waitForOperation } from "../support/fixtures";
import { describeSecurity, useApiServer } from "../support/security";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver";
import { jobs } from "../webhooks/harness";

// instance.status_changed and instance.health_changed end to end: recorded where the change
// happens (an operation beginning and finishing, an observation), delivered through the outbox
// with the same signing as every webhook (checked with the standardwebhooks library), and
// listed by GET /events under the same ids. On a shared Postgres, every assertion is about
// the test's own account.

const server = useApiServer();
type Api = ReturnType<typeof client>;
const INSTANCE_EVENTS = ["instance.status_changed", "instance.health_changed"];

const receivers: WebhookReceiver[] = [];
// Opening the database takes seconds: not inside the first test's time limit.
beforeAll(async () => void (await getDb()), 60_000);
beforeEach(() => jobs.reset());
afterEach(async () => {
  await jobs.idle();
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

/** An account with a running instance, and an endpoint (subscribed to `events`) on a receiver that verifies every request. */
async function setup(events = INSTANCE_EVENTS) {
  const me = await createAccount({ limits: { heavy: 100, write: 100 } });
  const api = client(server.url, me.token);
  const subdomain = uniqueSubdomain("evt");
  const inst = await createRunningInstance(api, subdomain);
  await jobs.idle();
  const secrets: string[] = [];
  const rx = await startWebhookReceiver({ secrets });
  receivers.push(rx);
  const res = await api.post("/api/v1/webhooks", { url: rx.url, events });
  expect(res.status, res.text).toBe(201);
  secrets.push(res.body.secret);
  return { me, api, rx, instanceId: inst.id, subdomain, endpointId: res.body.id as string };
}

/** The delivered requests' bodies, in order, each checked with the standardwebhooks verifier first. */
function delivered(rx: WebhookReceiver) {
  return rx.requests.map((req) => {
    expect(req.verifications.map((v) => v.ok)).toEqual([true]);
    return { id: req.headers["webhook-id"] as string, ...(JSON.parse(req.body) as { type: string; timestamp: string; data: Record<string, unknown> }) };
  });
}

/** The instance's machine changes behind the platform's back, and one observation of it runs. */
async function simulateAndObserve(instanceId: string, what: "crash" | "unhealthy" | "recover") {
  const [row] = await (await getDb()).select().from(instance).where(eq(instance.id, instanceId));
  (jobs.deps.compute() as LocalProvider).simulate(machineRef(row!)!, what);
  await jobs.runner.send(observeRequestedEvent(new Date(), 0, [instanceId]));
  await jobs.idle();
}

async function events(api: Api, query = "") {
  const res = await api.get(`/api/v1/events${query}`);
  expect(res.status, res.text).toBe(200);
  return res;
}

describe("instance events, delivered", () => {
  it("an operation's status changes, and the health its steps saw, arrive signed, with cause operation and the operation's id", async () => {
    const { api, rx, instanceId, subdomain } = await setup();
    const stop = await api.post(`/api/v1/instances/${instanceId}/stop`);
    expect(stop.status).toBe(202);
    await waitForOperation(api, stop.body.id);
    await jobs.idle();

    // Deliveries are separate posts that may arrive in any order; the events' ids are monotonic, so they give the order.
    const got = delivered(rx).sort((a, b) => a.id.localeCompare(b.id));
    expect(got.map((e) => [e.type, e.data.from, e.data.to])).toEqual([
      ["instance.status_changed", "running", "stopping"],
      ["instance.status_changed", "stopping", "stopped"],
      ["instance.health_changed", "passing", "critical"],
    ]);
    for (const e of got) expect(e.data).toMatchObject({ instance_id: instanceId, subdomain, cause: "operation", operation_id: stop.body.id });
    expect(got[2]!.data).toMatchObject({ detail: expect.stringContaining("stopped"), checked_at: expect.any(String) });
    // The instance says the same.
    const inst = (await api.get(`/api/v1/instances/${instanceId}`)).body;
    expect(inst).toMatchObject({ status: "stopped", health: { status: "critical", detail: expect.stringContaining("stopped") } });

    // GET /events lists the same events under the ids the receiver saw (newest first), with the delivered payloads.
    const listed = (await events(api, `?instance_id=${instanceId}&limit=100`)).body as { id: string; type: string }[];
    const mine = listed.filter((e) => INSTANCE_EVENTS.includes(e.type)).slice(0, 3).reverse();
    expect(mine).toEqual(got);
  });

  it("a crash the observation notices: status_changed and health_changed with cause observed, then back on recover", async () => {
    const { api, rx, instanceId } = await setup();
    await simulateAndObserve(instanceId, "crash");
    // Both recorded in one transaction, delivered concurrently: in either order.
    expect(delivered(rx).map((e) => [e.type, e.data.from, e.data.to, e.data.cause, e.data.operation_id]).sort(byType)).toEqual([
      ["instance.health_changed", "passing", "critical", "observed", null],
      ["instance.status_changed", "running", "stopped", "observed", null],
    ]);
    const inst = (await api.get(`/api/v1/instances/${instanceId}`)).body;
    expect(inst).toMatchObject({ status: "stopped", health: { status: "critical" }, observed_at: expect.any(String) });

    rx.requests.length = 0;
    await simulateAndObserve(instanceId, "recover");
    // The recovered machine starts (delay 0 here): running again, and its check passes.
    expect(delivered(rx).map((e) => [e.type, e.data.to]).sort(byType)).toEqual([
      ["instance.health_changed", "passing"],
      ["instance.status_changed", "running"],
    ]);
  });

  it("an unhealthy gateway: health_changed only, the instance stays running", async () => {
    const { api, rx, instanceId } = await setup();
    await simulateAndObserve(instanceId, "unhealthy");
    const got = delivered(rx);
    expect(got.map((e) => [e.type, e.data.from, e.data.to])).toEqual([["instance.health_changed", "passing", "critical"]]);
    expect(got[0]!.data.detail).toMatch(/servicecheck-00-http-3000: .*503/);
    expect((await api.get(`/api/v1/instances/${instanceId}`)).body).toMatchObject({ status: "running", health: { status: "critical" } });
  });

  it("simulate, run in the server as `npm run admin -- simulate` runs it: the status, the webhooks, the event and the metric", async () => {
    const { api, rx, instanceId, subdomain } = await setup();
    // Embedded (PGlite), the server has an operator endpoint of its own; with a database server (production
    // rules) it has one only when OPERATOR_TOKEN is set, so the server legs set one for the test server.
    process.env.OPERATOR_TOKEN ??= "test-operator-token-0123456789abcdef0123";
    resetConfig();
    const simulate = (args: Record<string, string>) =>
      fetch(new URL("/api/operator/run", server.url), {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${operatorToken()}` },
        body: JSON.stringify({ command: "simulate", args }),
      });
    const res = await simulate({ instance: subdomain, what: "crash" });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { json: unknown }).json).toMatchObject({ instance_id: instanceId, subdomain, simulated: "crash" });
    // The next regular observation (its batch, as the minute's pass plans it).
    await jobs.runner.send(observeRequestedEvent(new Date(), 0, [instanceId]));
    await jobs.idle();

    expect((await api.get(`/api/v1/instances/${instanceId}`)).body).toMatchObject({ status: "stopped", health: { status: "critical" } });
    const got = delivered(rx);
    expect(got.map((e) => e.type).sort()).toEqual(INSTANCE_EVENTS.slice().sort());
    const listed = (await events(api, `?instance_id=${instanceId}&limit=2`)).body as { id: string }[];
    expect(listed.map((e) => e.id).sort()).toEqual(got.map((e) => e.id).sort());
    const metrics = await api.get("/api/v1/metrics");
    expect(metrics.text).toMatch(new RegExp(`^moc_instance_up\\{instance_id="${instanceId}",subdomain="${subdomain}",region="[a-z]+"\\} 0$`, "m"));

    // An instance the server does not have, or a simulation it does not know: a 400 naming it, nothing simulated.
    const unknown = await simulate({ instance: "no-such-instance", what: "crash" });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { detail: string }).detail).toContain("no-such-instance");
    expect((await simulate({ instance: subdomain, what: "explode" })).status).toBe(400);
  });

  it("an endpoint subscribed to operation events only gets none of these", async () => {
    const { api, rx, instanceId } = await setup(["operation.succeeded"]);
    const res = await api.post(`/api/v1/instances/${instanceId}/restart`);
    await waitForOperation(api, res.body.id);
    await jobs.idle();
    expect(delivered(rx).map((e) => e.type)).toEqual(["operation.succeeded"]);
  });
});

describe("GET /api/v1/events", () => {
  it("lists the account's events newest first, in cursor pages with Link", async () => {
    const { api, instanceId } = await setup();
    const stop = await api.post(`/api/v1/instances/${instanceId}/stop`);
    await waitForOperation(api, stop.body.id);
    await jobs.idle();
    const all = (await events(api, "?limit=100")).body as { id: string; type: string; timestamp: string }[];
    // The create (provisioning -> running, unknown -> passing), the stop (running -> stopping -> stopped,
    // passing -> critical), and each one's operation.succeeded.
    expect(all.map((e) => e.type).reverse()).toEqual([
      "instance.status_changed",
      "instance.health_changed",
      "operation.succeeded",
      "instance.status_changed",
      "instance.status_changed",
      "instance.health_changed",
      "operation.succeeded",
    ]);
    expect(all.map((e) => e.id)).toEqual([...all.map((e) => e.id)].sort().reverse());

    const first = await events(api, "?limit=3");
    expect(first.body.map((e: { id: string }) => e.id)).toEqual(all.slice(0, 3).map((e) => e.id));
    const link = first.headers.get("link")!;
    expect(link).toMatch(/^<http:\/\/127\.0\.0\.1:\d+\/api\/v1\/events\?limit=3&cursor=msg_[0-9a-z]+>; rel="next"$/);
    const nextUrl = new URL(/^<([^>]+)>/.exec(link)![1]!);
    const next = await api.get(nextUrl.pathname + nextUrl.search);
    expect(next.body.map((e: { id: string }) => e.id)).toEqual(all.slice(3, 6).map((e) => e.id));
    const last = await events(api, `?limit=3&cursor=${all[5]!.id}`);
    expect(last.body.map((e: { id: string }) => e.id)).toEqual(all.slice(6).map((e) => e.id));
    expect(last.headers.get("link")).toBeNull();
  });

  it("filters by type and by instance (its id or subdomain), and shows no other account's events", async () => {
    const a = await setup();
    const b = await setup();
    const other = await createRunningInstance(a.api, uniqueSubdomain("evt"));
    await jobs.idle();

    const statusOnly = (await events(a.api, "?type=instance.status_changed&limit=100")).body as { type: string }[];
    expect(statusOnly.length).toBeGreaterThan(0);
    expect(new Set(statusOnly.map((e) => e.type))).toEqual(new Set(["instance.status_changed"]));

    for (const which of [a.instanceId, a.subdomain]) {
      const mine = (await events(a.api, `?instance_id=${which}&limit=100`)).body as { data: { instance_id?: string; id?: string } }[];
      expect(mine).toHaveLength(3); // its create: provisioning -> running, unknown -> passing, operation.succeeded
      for (const e of mine) expect(e.data.instance_id).toBe(a.instanceId);
    }
    const both = (await events(a.api, `?instance_id=${other.id}&type=instance.health_changed`)).body;
    expect(both).toHaveLength(1);
    // Repeated, a filter takes several values, any of which matches.
    const twoTypes = (await events(a.api, `?instance_id=${a.instanceId}&type=instance.health_changed&type=operation.succeeded`)).body as { type: string }[];
    expect(twoTypes.map((e) => e.type).sort()).toEqual(["instance.health_changed", "operation.succeeded"]);
    const twoInstances = (await events(a.api, `?instance_id=${a.instanceId}&instance_id=${other.id}&type=instance.status_changed`)).body as { data: { instance_id: string } }[];
    expect(new Set(twoInstances.map((e) => e.data.instance_id))).toEqual(new Set([a.instanceId, other.id]));

    // B's instance, asked for by A: nothing (never a 403 or 404 that would confirm it exists).
    expect((await events(a.api, `?instance_id=${b.instanceId}`)).body).toEqual([]);
    expect((await events(a.api, `?instance_id=no-such-subdomain`)).body).toEqual([]);
    const bAll = (await events(b.api, "?limit=100")).body as { data: { instance_id?: string } }[];
    expect(bAll.every((e) => e.data.instance_id === b.instanceId)).toBe(true);
  });

  it("shows the last 30 days only", async () => {
    const me = await createAccount();
    const api = client(server.url, me.token);
    const db = await getDb();
    const at = (daysAgo: number) => new Date(Date.now() - daysAgo * 86_400_000);
    for (const days of [31, 29]) {
      await db.insert(webhookMessage).values({
        id: newId("msg", at(days).getTime()),
        accountId: me.accountId,
        eventType: "operation.succeeded",
        payload: { type: "operation.succeeded", timestamp: at(days).toISOString(), data: { id: `op_${days}` } },
        createdAt: at(days),
        dispatchedAt: at(days),
      });
    }
    const listed = (await events(api)).body as { data: { id: string } }[];
    expect(listed.map((e) => e.data.id)).toEqual(["op_29"]);
  });

  it("refuses a bad filter or cursor with a problem naming it", async () => {
    const me = await createAccount();
    const api = client(server.url, me.token);
    const badType = await api.get("/api/v1/events?type=instance.exploded");
    expect(badType.status).toBe(400);
    expect(badType.body).toMatchObject({ code: "validation_error", errors: [expect.objectContaining({ path: "query.type[0]" })] });
    expect((await api.get("/api/v1/events?cursor=op_123")).body.code).toBe("invalid_cursor");
    expect((await api.get("/api/v1/events?limit=0")).status).toBe(400);
    expect((await api.get("/api/v1/events?since=yesterday")).body.code).toBe("validation_error");
  });
});

describeSecurity("GET /api/v1/events", server, { method: "GET", scope: "webhooks:read", path: () => "/api/v1/events" });

function byType(a: unknown[], b: unknown[]) {
  return String(a[0]).localeCompare(String(b[0]));
}
