import { and, eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import { idempotencyKey, instance, operation, webhookDelivery, webhookEndpoint, webhookMessage } from "@/db/schema";
import { insertKey } from "@/lib/services/keys";
import { operationRequested } from "@/lib/jobs/events";
import { makeReconcile, type ReconcileOptions } from "@/inngest/functions/reconcile";
import { newId } from "@/lib/ids";
import { pruneMessages } from "@/lib/services/retention";
import { makeRunOperation } from "@/inngest/functions/run-operation";
import { LocalProvider } from "@/lib/compute/local";
import type { ComputeProvider } from "@/lib/compute/types";
import {
  insertInstance,
  insertOperation,
  instantRunner,
  instRow,
  newAccount,
  opRow,
  outboxFor,
  runOnInngest,
  testDeps,
} from "../support/operation-harness";

// The reconciler (a cron function) on Inngest's own execution engine, against
// real PGlite rows: what it re-sends, fails, repairs and forgets. Other tests'
// rows share this file's database, so every assertion is about the test's own
// rows (membership, never exact lists of everything the run touched).

// Opening the file's database (PGlite from the migrated template) takes seconds: not inside the first test's time limit.
beforeAll(async () => {
  await getDb();
}, 60_000);

type ReconcileResult = {
  resent: string[];
  failed: string[];
  expired: number;
  webhooks: number;
  pruned: { deliveries: number; events: number; operations: number; instances: number };
};

async function reconcile(compute: ComputeProvider, now = () => new Date()) {
  const { deps, sent } = testDeps(compute, { now });
  const run = await runOnInngest(makeReconcile(deps), undefined);
  expect(run.error).toBeUndefined();
  return { result: run.result as unknown as ReconcileResult, sent };
}

const ago = (ms: number) => new Date(Date.now() - ms);

describe("reconcile: lost events", () => {
  it("re-sends a pending operation older than a minute, with the operation id as event id, and the event completes it", async () => {
    const local = new LocalProvider({ delayMs: 0 });
    const accountId = await newAccount();
    const lostInst = await insertInstance(accountId, { status: "provisioning" });
    const lost = await insertOperation(lostInst, "instance.create", { createdAt: ago(2 * 60_000) });
    const freshInst = await insertInstance(accountId, { status: "provisioning" });
    const fresh = await insertOperation(freshInst, "instance.create", { createdAt: ago(10_000) });
    const runningInst = await insertInstance(accountId, { status: "provisioning" });
    const running = await insertOperation(runningInst, "instance.create", { status: "running", createdAt: ago(5 * 60_000) });

    const { result, sent } = await reconcile(local);

    expect(result.resent).toContain(lost.id);
    expect(result.resent).not.toContain(fresh.id);
    expect(result.resent).not.toContain(running.id);
    const requested = sent.filter((e) => e.name === operationRequested.name);
    expect(requested).toContainEqual({
      name: operationRequested.name,
      id: lost.id,
      data: { operation_id: lost.id, instance_id: lostInst.id, account_id: accountId, type: "instance.create" },
    });
    expect(requested.map((e) => e.id)).not.toContain(fresh.id);
    expect(requested.map((e) => e.id)).not.toContain(running.id);
    // Re-sending changes no row by itself.
    expect((await opRow(lost.id)).status).toBe("pending");

    // The re-sent event is one run-operation accepts and carries out.
    const { runner } = instantRunner([makeRunOperation(testDeps(local).deps)]);
    await runner.send(requested.filter((e) => e.id === lost.id));
    await runner.idle();
    expect(await opRow(lost.id)).toMatchObject({ status: "succeeded" });
    expect((await instRow(lostInst.id)).status).toBe("running");
  });
});

describe("reconcile: stuck operations", () => {
  it("fails an operation past its deadline with operation_timeout and marks its instance failed", async () => {
    const local = new LocalProvider({ delayMs: 0 });
    const accountId = await newAccount();
    const stuckInst = await insertInstance(accountId, { status: "starting" });
    const stuck = await insertOperation(stuckInst, "instance.start", { status: "running", createdAt: ago(20 * 60_000), deadlineAt: ago(1000) });
    const slowInst = await insertInstance(accountId, { status: "starting" });
    const slow = await insertOperation(slowInst, "instance.start", { status: "running", createdAt: ago(20 * 60_000), deadlineAt: new Date(Date.now() + 60_000) });

    const { result } = await reconcile(local);

    expect(result.failed).toContain(stuck.id);
    expect(result.failed).not.toContain(slow.id);
    const done = await opRow(stuck.id);
    expect(done).toMatchObject({ status: "failed", error: { code: "operation_timeout", message: expect.stringContaining("deadline") } });
    expect(done.completedAt).toBeInstanceOf(Date);
    expect((await instRow(stuckInst.id)).status).toBe("failed");
    expect((await outboxFor(stuck)).map((m) => m.eventType)).toEqual(["operation.failed"]);
    // One still within its deadline is left to finish.
    expect((await opRow(slow.id)).status).toBe("running");
    expect((await instRow(slowInst.id)).status).toBe("starting");

    // A second pass finds nothing more to fail for it, and writes no second outbox row.
    const again = await reconcile(local);
    expect(again.result.failed).not.toContain(stuck.id);
    expect(await outboxFor(stuck)).toHaveLength(1);
  });

  it("judges deadlines by deps.now(), not the wall clock", async () => {
    const local = new LocalProvider({ delayMs: 0 });
    const inst = await insertInstance(await newAccount(), { status: "stopping" });
    const op = await insertOperation(inst, "instance.stop", { status: "running", deadlineAt: new Date(Date.now() + 10 * 60_000) });
    const { result } = await reconcile(local, () => new Date(Date.now() + 11 * 60_000));
    expect(result.failed).toContain(op.id);
    expect(await opRow(op.id)).toMatchObject({ status: "failed", error: { code: "operation_timeout" } });
    expect((await instRow(inst.id)).status).toBe("failed");
  });
});

describe("reconcile: idempotency keys", () => {
  it("deletes expired keys and keeps live ones", async () => {
    const accountId = await newAccount();
    const db = await getDb();
    const { id: apiKeyId } = await insertKey(db, accountId, { name: "idem", scopes: ["all"] });
    await db.insert(idempotencyKey).values([
      { accountId, apiKeyId, key: "expired-1", requestHash: "h1", responseStatus: 202, responseBody: "{}", expiresAt: ago(1000) },
      { accountId, apiKeyId, key: "expired-2", requestHash: "h2", expiresAt: ago(25 * 3600_000) },
      { accountId, apiKeyId, key: "live", requestHash: "h3", responseStatus: 202, responseBody: "{}", expiresAt: new Date(Date.now() + 3600_000) },
    ]);

    const { result } = await reconcile(new LocalProvider({ delayMs: 0 }));

    expect(result.expired).toBeGreaterThanOrEqual(2);
    const left = await db.select({ key: idempotencyKey.key }).from(idempotencyKey).where(eq(idempotencyKey.accountId, accountId));
    expect(left.map((r) => r.key)).toEqual(["live"]);
    const [live] = await db
      .select()
      .from(idempotencyKey)
      .where(and(eq(idempotencyKey.accountId, accountId), eq(idempotencyKey.key, "live")));
    expect(live).toMatchObject({ responseStatus: 202, responseBody: "{}" });
  });
});

describe("reconcile: retention, by the clock", () => {
  const DAY = 86_400_000;

  /** One message with a delivery to one endpoint, created `at`. */
  async function eventWithDelivery(accountId: string, at: Date) {
    const db = await getDb();
    const [endpoint] = await db
      .insert(webhookEndpoint)
      .values({ id: newId("wh"), accountId, url: "https://example.com/hook", events: ["operation.succeeded"], secretEnc: "x" })
      .returning();
    const [message] = await db
      .insert(webhookMessage)
      .values({ id: newId("msg"), accountId, eventType: "operation.succeeded", payload: { type: "operation.succeeded", timestamp: at.toISOString(), data: {} }, createdAt: at, dispatchedAt: at })
      .returning();
    const [delivery] = await db
      .insert(webhookDelivery)
      .values({ id: newId("dlv"), endpointId: endpoint!.id, messageId: message!.id, eventType: "operation.succeeded", status: "succeeded", createdAt: at })
      .returning();
    return { message: message!, delivery: delivery! };
  }

  const exists = async (table: typeof webhookMessage | typeof webhookDelivery | typeof operation | typeof instance, id: string) => {
    const db = await getDb();
    return (await db.select({ id: table.id }).from(table).where(eq(table.id, id))).length === 1;
  };

  async function reconcileAt(now: Date, opts: ReconcileOptions = {}) {
    const { deps } = testDeps(new LocalProvider({ delayMs: 0 }), { now: () => now });
    const run = await runOnInngest(makeReconcile(deps, opts), undefined);
    expect(run.error).toBeUndefined();
    return run.result as unknown as ReconcileResult;
  }

  it("keeps events and deliveries 30 days and finished operations OPERATION_RETENTION_DAYS, then prunes them; a deleted instance goes with its last operation", async () => {
    const accountId = await newAccount();
    const now = new Date();
    const { message, delivery } = await eventWithDelivery(accountId, now);
    const deleted = await insertInstance(accountId, { status: "deleting" });
    const db = await getDb();
    await db.update(instance).set({ deletedAt: now }).where(eq(instance.id, deleted.id));
    const done = await insertOperation(deleted, "instance.delete", { status: "succeeded", createdAt: now });
    const live = await insertInstance(accountId, { status: "starting" });
    const unfinished = await insertOperation(live, "instance.start", { status: "running", createdAt: now, deadlineAt: new Date(now.getTime() + 365 * DAY) });

    await reconcileAt(new Date(now.getTime() + 29 * DAY), { operationRetentionDays: 60 });
    expect(await exists(webhookMessage, message.id)).toBe(true);
    expect(await exists(webhookDelivery, delivery.id)).toBe(true);

    const at31 = await reconcileAt(new Date(now.getTime() + 31 * DAY), { operationRetentionDays: 60 });
    expect(await exists(webhookMessage, message.id)).toBe(false);
    expect(await exists(webhookDelivery, delivery.id)).toBe(false);
    expect(at31.pruned.events).toBeGreaterThanOrEqual(1);
    expect(at31.pruned.deliveries).toBeGreaterThanOrEqual(1);
    // Operations are kept longer, and the deleted instance with them.
    expect(await exists(operation, done.id)).toBe(true);
    expect(await exists(instance, deleted.id)).toBe(true);

    await reconcileAt(new Date(now.getTime() + 61 * DAY), { operationRetentionDays: 60 });
    expect(await exists(operation, done.id)).toBe(false);
    expect(await exists(instance, deleted.id)).toBe(false);
    // An unfinished operation is never pruned, nor a live instance.
    expect(await exists(operation, unfinished.id)).toBe(true);
    expect(await exists(instance, live.id)).toBe(true);
  });

  it("works a backlog off in bounded deletes, oldest first: never more than a few batches a run", async () => {
    const accountId = await newAccount();
    const db = await getDb();
    const base = Date.now() - 40 * DAY;
    const ids: string[] = [];
    for (let i = 0; i < 14; i++) {
      const at = new Date(base + i * 1000);
      const [m] = await db
        .insert(webhookMessage)
        .values({ id: newId("msg", at.getTime()), accountId, eventType: "operation.succeeded", payload: { type: "operation.succeeded", timestamp: at.toISOString(), data: {} }, createdAt: at, dispatchedAt: at })
        .returning();
      ids.push(m!.id);
    }
    // One delete takes the 3 oldest, and only those.
    expect(await pruneMessages(db, new Date(), 3)).toBe(3);
    const left = async () => (await db.select({ id: webhookMessage.id }).from(webhookMessage).where(eq(webhookMessage.accountId, accountId))).map((r) => r.id).sort();
    expect(await left()).toEqual(ids.slice(3));

    // A run makes at most 5 deletes of 2 rows: 10 of the 11 left, then the last one in the next run.
    const first = await reconcileAt(new Date(), { pruneBatch: 2 });
    expect(first.pruned.events).toBe(10);
    expect(await left()).toEqual(ids.slice(13));
    await reconcileAt(new Date(), { pruneBatch: 2 });
    expect(await left()).toEqual([]);
  });
});
