import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import { instance, openclawVersion } from "@/db/schema";
import { makeRunOperation } from "@/inngest/functions/run-operation";
import { ComputeError } from "@/lib/compute/types";
import { seal } from "@/lib/crypto";
import { SEEDED_VERSION } from "@/lib/openclaw/versions";
import { toOperationResource } from "@/lib/services/operations";
import {
  existingMachine,
  insertInstance,
  insertOperation,
  instantRunner,
  instRow,
  localProvider,
  newAccount,
  openDatabaseFirst,
  opRow,
  outboxFor,
  recording,
  requestedEvent,
  runOnInngest,
  testDeps,
} from "../support/operation-harness";

// instance.upgrade (inngest/functions/operations/upgrade.ts): the machine moves to
// the target version's image and must come up healthy; if it does not, the previous
// image is put back and the operation fails with upgrade_rolled_back. The
// instance's version changes only when the upgrade succeeds.

openDatabaseFirst();

const FROM = SEEDED_VERSION;
let seq = 0;

/** A version only this test uses (the database may be shared). */
async function newVersion(o: { image?: string } = {}) {
  const version = `2099.${process.pid}.${++seq}-upgrade`;
  const image = o.image ?? `ghcr.io/openclaw/openclaw:${version}`;
  const db = await getDb();
  await db.insert(openclawVersion).values({ version, image, releasedAt: new Date() });
  return { version, image };
}

/** An instance running FROM on a machine of the test's provider, with a pending upgrade to `to`, as the API leaves it. */
async function upgradeSetup(machine: "started" | "stopped", to: { version: string }) {
  const p = localProvider();
  const inst = await insertInstance(await newAccount(), { status: "provisioning" });
  const ref = await existingMachine(p, inst.id, machine);
  const db = await getDb();
  const previous = machine === "started" ? "running" : "stopped";
  await db
    .update(instance)
    .set({ status: "upgrading", appName: ref.appName, machineId: ref.machineId, volumeId: ref.volumeId, gatewayTokenEnc: seal("gw-token-existing-0123456789") })
    .where(eq(instance.id, inst.id));
  const op = await insertOperation(inst, "instance.upgrade", {
    input: { target_version: to.version, from_version: FROM.version, previous_status: previous },
  });
  return { p, ref, inst, op };
}

/** Runs the operation on a LocalRunner whose sleeps (the health checks' pauses) take no time. */
async function runLocally(setup: Awaited<ReturnType<typeof upgradeSetup>>) {
  const rec = recording(setup.p.local);
  const { runner, sleeps } = instantRunner([makeRunOperation(testDeps(rec.provider).deps)]);
  await runner.send([requestedEvent(setup.op)]);
  await runner.idle();
  return { rec, sleeps, op: await opRow(setup.op.id), inst: await instRow(setup.inst.id) };
}

describe("instance.upgrade", () => {
  it("moves a running machine to the new image and records the new version once it is healthy", async () => {
    const to = await newVersion();
    const setup = await upgradeSetup("started", to);
    const rec = recording(setup.p.local);
    const run = await runOnInngest(makeRunOperation(testDeps(rec.provider).deps), requestedEvent(setup.op));
    expect(run.error).toBeUndefined();

    const op = await opRow(setup.op.id);
    expect(op).toMatchObject({ status: "succeeded", error: null });
    expect(toOperationResource(op).target_version).toBe(to.version);
    expect(await instRow(setup.inst.id)).toMatchObject({ status: "running", version: to.version });
    expect(setup.p.local.imageOf(setup.ref)).toBe(to.image);
    expect(await setup.p.local.getState(setup.ref)).toBe("started");
    expect(rec.calls.filter((c) => c.method === "changeImage").map((c) => c.args[1])).toEqual([to.image]);
    expect((await outboxFor(setup.op)).map((m) => m.eventType)).toEqual(["operation.succeeded"]);
  });

  it("upgrades a stopped instance and leaves it stopped", async () => {
    const to = await newVersion();
    const setup = await upgradeSetup("stopped", to);
    const { op, inst } = await runLocally(setup);
    expect(op).toMatchObject({ status: "succeeded", error: null });
    expect(inst).toMatchObject({ status: "stopped", version: to.version });
    expect(await setup.p.local.getState(setup.ref)).toBe("stopped");
    expect(setup.p.local.imageOf(setup.ref)).toBe(to.image);
  });

  it("puts the previous image back when the new one never answers healthy: upgrade_rolled_back, the old version still runs", async () => {
    const to = await newVersion();
    const setup = await upgradeSetup("started", to);
    setup.p.local.failImage(to.image, { as: "unhealthy" });
    const { rec, sleeps, op, inst } = await runLocally(setup);

    expect(op.status).toBe("failed");
    expect(op.error!.code).toBe("upgrade_rolled_back");
    expect(op.error!.message).toContain(`OpenClaw ${to.version} (${to.image}) did not come up`);
    expect(op.error!.message).toContain("does not answer /healthz");
    expect(op.error!.message).toContain(`put back on ${FROM.version}`);
    expect(inst).toMatchObject({ status: "running", version: FROM.version });
    expect(setup.p.local.imageOf(setup.ref)).toBe(FROM.image);
    expect(await setup.p.local.getState(setup.ref)).toBe("started");
    expect(rec.calls.filter((c) => c.method === "changeImage").map((c) => c.args[1])).toEqual([to.image, FROM.image]);
    // Ten health checks of the new image, 3 s apart, before giving up; then one of the old image, which answers.
    expect(rec.count("checkHealth")).toBe(11);
    expect(sleeps.filter((ms) => ms === 3000)).toHaveLength(9);
    expect((await outboxFor(setup.op)).map((m) => m.eventType)).toEqual(["operation.failed"]);
  });

  it("rolls back an image that crashes on boot, and stops a stopped instance again", async () => {
    const to = await newVersion();
    const setup = await upgradeSetup("stopped", to);
    setup.p.local.failImage(to.image, { as: "boot" });
    const { op, inst } = await runLocally(setup);
    expect(op.error!.code).toBe("upgrade_rolled_back");
    expect(op.error!.message).toContain("failed; it will not become started");
    expect(inst).toMatchObject({ status: "stopped", version: FROM.version });
    expect(setup.p.local.imageOf(setup.ref)).toBe(FROM.image);
    expect(await setup.p.local.getState(setup.ref)).toBe("stopped");
  });

  it("fails the instance, saying both reasons, when the previous image does not come back either", async () => {
    const to = await newVersion();
    const setup = await upgradeSetup("started", to);
    setup.p.local.failImage(to.image, { as: "boot" });
    setup.p.local.failImage(FROM.image, { as: "boot", machineId: setup.ref.machineId });
    const { op, inst } = await runLocally(setup);
    expect(op.status).toBe("failed");
    expect(op.error!.code).toBe("upgrade_failed");
    expect(op.error!.message).toMatch(new RegExp(`OpenClaw ${to.version} did not come up: .+ Putting ${FROM.version} back failed too: `));
    expect(inst).toMatchObject({ status: "failed", version: FROM.version });
  });

  it("changes nothing when the provider refuses the new image for good: the provider's reason, the old version", async () => {
    const to = await newVersion();
    const setup = await upgradeSetup("started", to);
    setup.p.local.failNext("changeImage", new ComputeError("local_rejected", "image not allowed here", { retryable: false }));
    const { rec, op, inst } = await runLocally(setup);
    expect(op.error).toEqual({ code: "local_rejected", message: `image not allowed here. The instance still runs ${FROM.version}.` });
    expect(inst).toMatchObject({ status: "running", version: FROM.version });
    expect(rec.count("changeImage")).toBe(1); // nothing to put back
    expect(setup.p.local.imageOf(setup.ref)).toBe(FROM.image);
  });

  it("fails without touching the machine when the operation names a version that is not offered", async () => {
    const setup = await upgradeSetup("started", { version: "no-such-version" });
    const { rec, op, inst } = await runLocally(setup);
    expect(op.error!.code).toBe("unsupported_version");
    expect(rec.count("changeImage")).toBe(0);
    expect(inst).toMatchObject({ status: "running", version: FROM.version });
    expect(await setup.p.local.getState(setup.ref)).toBe("started");
  });
});
