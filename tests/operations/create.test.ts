import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import { instance } from "@/db/schema";
import { makeRunOperation } from "@/inngest/functions/run-operation";
import { LocalRunner } from "@/lib/jobs/local-runner";
import { finishOperation } from "@/lib/services/operation-progress";
import { ComputeError, type MachineRef } from "@/lib/compute/types";
import { open } from "@/lib/crypto";
import {
  createOp,
  expectRunningOnFly,
  insertInstance,
  insertOperation,
  instantRunner,
  instRow,
  localProvider,
  newAccount,
  openDatabaseFirst,
  opRow,
  outboxFor,
  type ProviderCall,
  recording,
  requestedEvent,
  runOnInngest,
  silent,
  testDeps,
  useFlyFake,
} from "../support/operation-harness";

// instance.create (inngest/functions/operations/create.ts): provisions the
// machine with the documents given at creation, waits for it to start and
// answer healthy; on the local provider and on the Fly fake (msw), on
// Inngest's engine and on the LocalRunner.

openDatabaseFirst();

const fly = useFlyFake();

describe("instance.create", () => {
  it("goes pending -> running -> succeeded, records the machine and a sealed token, and writes the outbox row in the finishing transaction", async () => {
    const p = localProvider();
    const accountId = await newAccount();
    const inst = await insertInstance(accountId, { status: "provisioning" });
    const op = await insertOperation(inst, "instance.create");
    expect((await opRow(op.id)).status).toBe("pending");

    // What the database looked like while the machine was being provisioned.
    const during: { op?: string; startedAt?: Date | null; inst?: string }[] = [];
    let token: string | undefined;
    const rec = recording(p.local, async (call: ProviderCall) => {
      if (call.method !== "provision") return;
      token = (call.args[0] as { gatewayToken: string }).gatewayToken;
      const o = await opRow(op.id);
      during.push({ op: o.status, startedAt: o.startedAt, inst: (await instRow(inst.id)).status });
    });
    const { deps, sent } = testDeps(rec.provider);

    const run = await runOnInngest(makeRunOperation(deps), requestedEvent(op));

    expect(run.error).toBeUndefined();
    expect(run.result).toEqual({ status: "succeeded" });
    expect(during).toEqual([{ op: "running", startedAt: expect.any(Date), inst: "provisioning" }]);

    const done = await opRow(op.id);
    expect(done).toMatchObject({ status: "succeeded", error: null });
    expect(done.completedAt).toBeInstanceOf(Date);
    expect(done.startedAt!.getTime()).toBeLessThanOrEqual(done.completedAt!.getTime());

    const after = await instRow(inst.id);
    expect(after.status).toBe("running");
    expect(after.deletedAt).toBeNull();
    const ref = rec.calls.find((c) => c.method === "waitForState")!.args[0] as MachineRef;
    expect({ appName: after.appName, machineId: after.machineId, volumeId: after.volumeId }).toEqual({
      appName: ref.appName,
      machineId: ref.machineId,
      volumeId: ref.volumeId,
    });
    expect(after.machineId).toMatch(/^[0-9a-f]{14}$/);
    // The machine really runs on the provider, and answers healthy.
    expect(await p.local.getState(ref)).toBe("started");
    expect(await p.local.checkHealth(ref)).toMatchObject({ healthy: true });

    // The gateway token the machine got is stored sealed, never in plaintext, and never as a step result.
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(after.gatewayTokenEnc).toBeTruthy();
    expect(after.gatewayTokenEnc).not.toContain(token!);
    expect(open(after.gatewayTokenEnc!)).toBe(token);
    expect(await run.storedState()).not.toContain(token!);

    // The outbox row, written with the same clock reading as the completion (one transaction).
    const outbox = await outboxFor(op);
    expect(outbox).toHaveLength(1);
    expect(outbox[0]).toMatchObject({ eventType: "operation.succeeded", dispatchedAt: null });
    expect(outbox[0]!.createdAt.getTime()).toBe(done.completedAt!.getTime());
    expect(outbox[0]!.payload).toMatchObject({
      type: "operation.succeeded",
      timestamp: done.completedAt!.toISOString(),
      data: { id: op.id, type: "instance.create", status: "succeeded", instance_id: inst.id, error: null },
    });
    // Delivery is nudged once the run is done.
    expect(sent).toEqual([{ name: "webhook/messages.pending", data: { reason: op.id } }]);
  });

  it("finishes the operation and writes its outbox row atomically: when the outbox insert fails, the operation stays unfinished; a re-run completes it with the same machine", async () => {
    const p = localProvider();
    const accountId = await newAccount();
    const inst = await insertInstance(accountId, { status: "provisioning" });
    const op = await insertOperation(inst, "instance.create");
    const db = await getDb();
    // The outbox refuses this operation's row (a database-side failure inside finishOperation's transaction).
    await db.execute(sql.raw(`
      create or replace function refuse_outbox() returns trigger language plpgsql as $$
      begin
        if new.payload->'data'->>'id' = '${op.id}' then raise exception 'outbox refused'; end if;
        return new;
      end $$
    `));
    await db.execute(sql.raw(`create trigger refuse_outbox before insert on webhook_message for each row execute function refuse_outbox()`));
    try {
      const rec = recording(p.local);
      const first = await runOnInngest(makeRunOperation(testDeps(rec.provider).deps), requestedEvent(op));
      expect(first.error?.message).toMatch(/outbox refused|Failed query/);
      // Nothing of the finish stuck: neither the operation's completion nor the instance's status.
      expect(await opRow(op.id)).toMatchObject({ status: "running", completedAt: null });
      expect((await instRow(inst.id)).status).toBe("provisioning");
      expect(await outboxFor(op)).toEqual([]);
    } finally {
      await db.execute(sql.raw(`drop trigger if exists refuse_outbox on webhook_message`));
      await db.execute(sql.raw(`drop function if exists refuse_outbox()`));
    }
    const machineId = (await instRow(inst.id)).machineId;
    expect(machineId).toBeTruthy();

    // The retry (here: the event again) finishes it, reusing the machine the first attempt made.
    const rec = recording(p.local);
    const second = await runOnInngest(makeRunOperation(testDeps(rec.provider).deps), requestedEvent(op));
    expect(second.error).toBeUndefined();
    expect(second.result).toEqual({ status: "succeeded" });
    expect(await opRow(op.id)).toMatchObject({ status: "succeeded" });
    expect(await instRow(inst.id)).toMatchObject({ status: "running", machineId });
    expect((await outboxFor(op)).map((m) => m.eventType)).toEqual(["operation.succeeded"]);
  });

  it("a create whose provision step fails transiently provisions one machine, not two", async () => {
    const p = localProvider();
    // The wait after provisioning times out once: the provision step is not run again.
    p.local.failNext("waitForState", new ComputeError("local_wait_timeout", "not yet", { retryable: true }), 1);
    const rec = recording(p.local);
    const inst = await insertInstance(await newAccount(), { status: "provisioning" });
    const op = await insertOperation(inst, "instance.create");
    const { runner } = instantRunner([makeRunOperation(testDeps(rec.provider).deps)]);
    await runner.send(requestedEvent(op));
    await runner.idle();
    expect(runner.runs()[0]!.status).toBe("succeeded");
    expect(rec.count("provision")).toBe(1);
    expect(rec.count("waitForState")).toBe(2);
    expect((await instRow(inst.id)).status).toBe("running");
  });

  it("a create timed out by the reconciler does not provision once the instance has been deleted", async () => {
    const p = localProvider();
    p.local.failNext("provision", new ComputeError("local_busy", "no capacity right now", { retryable: true }), 1);
    const rec = recording(p.local);
    const inst = await insertInstance(await newAccount(), { status: "provisioning" });
    const op = await insertOperation(inst, "instance.create");
    const deps = testDeps(rec.provider).deps;
    const db = await getDb();
    let deleted = false;
    // While the create waits out its backoff: its deadline passes (the reconciler fails it,
    // as failStuckOperations does), and the user deletes the failed instance.
    const runner = new LocalRunner([makeRunOperation(deps)], {
      logger: silent,
      backoffMs: () => 60_000,
      sleep: async () => {
        if (deleted) return;
        deleted = true;
        await finishOperation(db, op.id, { ok: false, code: "operation_timeout", message: "did not finish before its deadline" });
        await db.update(instance).set({ status: "deleting" }).where(eq(instance.id, inst.id));
        const del = await insertOperation(await instRow(inst.id), "instance.delete");
        const removal = await runOnInngest(makeRunOperation(deps), requestedEvent(del));
        expect(removal.result).toEqual({ status: "succeeded" });
      },
    });
    await runner.send(requestedEvent(op));
    await runner.idle();

    expect(deleted).toBe(true);
    expect((await instRow(inst.id)).deletedAt).toBeInstanceOf(Date);
    expect(await opRow(op.id)).toMatchObject({ status: "failed", error: { code: "operation_timeout" } });
    // No machine may be left running for a deleted instance (it would be billed, and nothing would ever remove it).
    p.clock.advance(60_000);
    const made = rec.calls.filter((c) => c.method === "provision" && c.result).map((c) => c.result as MachineRef);
    for (const ref of made) expect(await p.local.getState(ref)).toBeNull();
    expect((await instRow(inst.id)).machineId).toBeNull();
  });
});

describe("instance.create on Fly (msw fake of the Machines API)", () => {
  it("on Inngest: create provisions app, volume and machine on Fly and ends running", async () => {
    const { fake, provider } = fly();
    const { inst, op } = await createOp();
    const run = await runOnInngest(makeRunOperation(testDeps(provider).deps), requestedEvent(op));
    expect(run.error).toBeUndefined();
    expect(run.result).toEqual({ status: "succeeded" });
    const after = await expectRunningOnFly(fake, inst.id);
    expect(fake.state.apps.has(after.appName!)).toBe(true);
    expect(fake.state.certificates.map((c) => c.hostname)).toEqual([`${inst.subdomain}.myopenclaw.app`]);
    expect(await opRow(op.id)).toMatchObject({ status: "succeeded" });
    expect(fake.requestsTo("healthz").length).toBeGreaterThanOrEqual(1);
  });

  it("on the LocalRunner: a 5xx from Fly is retried, and the retry makes no second app, volume or machine", async () => {
    const { fake, provider } = fly();
    fake.inject("createMachine", { kind: "status", status: 503 });
    const { inst, op } = await createOp();
    const { runner, sleeps } = instantRunner([makeRunOperation(testDeps(provider).deps)]);
    await runner.send(requestedEvent(op));
    await runner.idle();
    expect(runner.runs()[0]).toMatchObject({ status: "succeeded" });
    expect(fake.requestsTo("createMachine")).toHaveLength(2);
    expect(fake.requestsTo("createApp")).toHaveLength(1);
    expect(fake.requestsTo("createVolume")).toHaveLength(1);
    expect(sleeps).toEqual([1000]);
    await expectRunningOnFly(fake, inst.id);
    expect(await opRow(op.id)).toMatchObject({ status: "succeeded", error: null });
  });

  it("a capacity error is retryable: on Inngest the step fails without NonRetriableError, and the LocalRunner retries it to success", async () => {
    // On Inngest's engine: the failed step is one Inngest would retry.
    {
      const { fake, provider } = fly();
      fake.inject("createMachine", { kind: "capacity", variant: "volume_host" });
      const { inst, op } = await createOp();
      const run = await runOnInngest(makeRunOperation(testDeps(provider).deps), requestedEvent(op));
      expect(run.error?.name).not.toBe("NonRetriableError");
      expect(run.error?.message).toMatch(/^\[fly_capacity\] .*insufficient resources/);
      expect((await opRow(op.id)).status).toBe("running");
      expect((await instRow(inst.id)).status).toBe("provisioning");
    }
    // On the LocalRunner: retried until Fly has room.
    {
      const { fake, provider } = fly();
      fake.inject("createMachine", { kind: "capacity", variant: "memory" }, 2);
      const { inst, op } = await createOp();
      const { runner, sleeps } = instantRunner([makeRunOperation(testDeps(provider).deps)]);
      await runner.send(requestedEvent(op));
      await runner.idle();
      expect(runner.runs()[0]).toMatchObject({ status: "succeeded" });
      expect(fake.requestsTo("createMachine")).toHaveLength(3);
      expect(sleeps).toEqual([1000, 2000]);
      await expectRunningOnFly(fake, inst.id);
    }
  });

  it("a 429 from Fly is retried no sooner than its Retry-After", async () => {
    const { fake, provider } = fly();
    fake.inject("createMachine", { kind: "rate_limit", retryAfterSeconds: 30 });
    const { inst, op } = await createOp();
    const { runner, sleeps } = instantRunner([makeRunOperation(testDeps(provider).deps)]);
    await runner.send(requestedEvent(op));
    await runner.idle();
    expect(runner.runs()[0]).toMatchObject({ status: "succeeded" });
    expect(fake.requestsTo("createMachine")).toHaveLength(2);
    await expectRunningOnFly(fake, inst.id);
    // Fly said to come back in 30 s: the retry waited that long, not the default backoff (1 s here).
    expect(sleeps).toHaveLength(1);
    expect(sleeps[0]).toBeGreaterThanOrEqual(30_000);
  });

  it("a permanent Fly error (app name held by another org) fails the create with its code", async () => {
    const { fake, provider } = fly();
    const { inst, op } = await createOp();
    const { instanceAppName } = await import("@/lib/compute/naming");
    fake.addForeignApp(instanceAppName(inst.id));
    const { runner, sleeps } = instantRunner([makeRunOperation(testDeps(provider).deps)]);
    await runner.send(requestedEvent(op));
    await runner.idle();
    expect(runner.runs()[0]).toMatchObject({ status: "failed", error: { name: "NonRetriableError" } });
    expect(sleeps).toEqual([]);
    expect(await opRow(op.id)).toMatchObject({ status: "failed", error: { code: "fly_app_name_taken" } });
    expect((await instRow(inst.id)).status).toBe("failed");
    expect(fake.requestsTo("createMachine")).toHaveLength(0);
  });
});
