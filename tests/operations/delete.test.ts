import { describe, expect, it } from "vitest";
import { makeRunOperation } from "@/inngest/functions/run-operation";
import {
  createOp,
  existingMachine,
  insertInstance,
  insertOperation,
  instantRunner,
  instRow,
  lifecycleSetup,
  localProvider,
  newAccount,
  openDatabaseFirst,
  opRow,
  outboxFor,
  requestedEvent,
  runOnInngest,
  testDeps,
  useFlyFake,
} from "../support/operation-harness";

// instance.delete (inngest/functions/operations/delete.ts): machine, volume
// and app are removed, whatever a failed create left; the instance's row is
// marked deleted and stays for its operations' history.

openDatabaseFirst();

const fly = useFlyFake();

describe("instance.delete", () => {
  it("delete: the machine is destroyed and the instance gets deleted_at (its row stays for the history)", async () => {
    const { p, ref, inst, op } = await lifecycleSetup("instance.delete", "started", "deleting");
    const run = await runOnInngest(makeRunOperation(testDeps(p.local).deps), requestedEvent(op));
    expect(run.error).toBeUndefined();
    expect(run.result).toEqual({ status: "succeeded" });
    p.clock.advance(10_000);
    expect(await p.local.getState(ref)).toBeNull();
    const after = await instRow(inst.id);
    expect(after.deletedAt).toBeInstanceOf(Date);
    expect(await opRow(op.id)).toMatchObject({ status: "succeeded" });
    expect((await outboxFor(op)).map((m) => m.eventType)).toEqual(["operation.succeeded"]);
  });

  it("delete of an instance whose creation never got a machine succeeds, and leaves other machines alone", async () => {
    const p = localProvider();
    const other = await existingMachine(p, "inst_someoneelse", "started");
    const inst = await insertInstance(await newAccount(), { status: "deleting" });
    const op = await insertOperation(inst, "instance.delete");
    const run = await runOnInngest(makeRunOperation(testDeps(p.local).deps), requestedEvent(op));
    expect(run.error).toBeUndefined();
    expect(run.result).toEqual({ status: "succeeded" });
    expect((await instRow(inst.id)).deletedAt).toBeInstanceOf(Date);
    expect((await opRow(op.id)).status).toBe("succeeded");
    p.clock.advance(10_000);
    expect(await p.local.getState(other)).toBe("started");
  });

  it("a stop, then a start, then a delete, one after another on the same instance", async () => {
    const { p, ref, inst, op: stop } = await lifecycleSetup("instance.stop", "started", "stopping");
    const deps = testDeps(p.local).deps;
    expect((await runOnInngest(makeRunOperation(deps), requestedEvent(stop))).error).toBeUndefined();
    expect([(await instRow(inst.id)).status, await p.local.getState(ref)]).toEqual(["stopped", "stopped"]);

    const start = await insertOperation(await instRow(inst.id), "instance.start");
    expect((await runOnInngest(makeRunOperation(deps), requestedEvent(start))).error).toBeUndefined();
    expect([(await instRow(inst.id)).status, await p.local.getState(ref)]).toEqual(["running", "started"]);

    const del = await insertOperation(await instRow(inst.id), "instance.delete");
    expect((await runOnInngest(makeRunOperation(deps), requestedEvent(del))).error).toBeUndefined();
    p.clock.advance(10_000);
    expect(await p.local.getState(ref)).toBeNull();
    expect((await instRow(inst.id)).deletedAt).toBeInstanceOf(Date);
    for (const o of [stop, start, del]) expect((await opRow(o.id)).status).toBe("succeeded");
  });
});

describe("instance.delete on Fly (msw fake of the Machines API)", () => {
  it("deleting an instance whose create failed half-way removes the app and volume the create left on Fly", async () => {
    const { fake, provider } = fly();
    // Fly refuses the machine for good after app, IPs, volume and certificate were made.
    fake.inject("createMachine", { kind: "status", status: 422, body: { error: "invalid machine config" } });
    const { inst, op } = await createOp();
    const deps = testDeps(provider).deps;
    const create = instantRunner([makeRunOperation(deps)]);
    await create.runner.send(requestedEvent(op));
    await create.runner.idle();
    expect(await opRow(op.id)).toMatchObject({ status: "failed", error: { code: "fly_rejected" } });
    const failed = await instRow(inst.id);
    expect(failed).toMatchObject({ status: "failed", machineId: null });
    const { instanceAppName } = await import("@/lib/compute/naming");
    const app = instanceAppName(inst.id);
    expect(fake.state.apps.has(app)).toBe(true);
    expect(fake.volumesOf(app)).toHaveLength(1);

    const del = await insertOperation(failed, "instance.delete");
    const removal = instantRunner([makeRunOperation(deps)]);
    await removal.runner.send(requestedEvent(del));
    await removal.runner.idle();
    expect(await opRow(del.id)).toMatchObject({ status: "succeeded" });
    expect((await instRow(inst.id)).deletedAt).toBeInstanceOf(Date);
    // Nothing of the instance is left on Fly (a volume is billed, and the app holds its name).
    expect(fake.volumesOf(app)).toEqual([]);
    expect(fake.state.apps.has(app)).toBe(false);
    expect(fake.state.certificates.filter((c) => c.app === app)).toEqual([]);
  });
});
