import { describe, expect, it } from "vitest";
import type { FakeVolume } from "../fakes/fly-api";
import { startBackup, startRestore } from "@/lib/services/backups";
import { getInstance, lifecycle } from "@/lib/services/instances";
import { useFlyServices } from "../support/fly-services";

// instance.restore (inngest/functions/operations/restore.ts) on the Fly fake:
// a volume from the snapshot, the machine moved onto it, started and healthy,
// then the old volume destroyed; and when any of those steps fails, the
// machine back on its old volume, running, the operation failed with
// restore_failed, and nothing of the restore left on Fly.

const fly = useFlyServices();

/** A running instance with a ready on-demand backup of its volume, whose data is then changed. */
async function backedUp() {
  const id = await fly.runningInstance();
  const before = await fly.instanceRow(id);
  const volume = () => fly.fake.state.volumes.get(before.volumeId!)!;
  volume().usedBytes = 1111;
  const op = await fly.run(await fly.call((ctx) => startBackup(ctx, id)));
  expect(op.status).toBe("succeeded");
  const [b] = await fly.backupRows(id);
  volume().usedBytes = 2222; // what happened after the backup
  return { id, before, backupId: b!.id, snapshotId: b!.snapshotId!, appName: before.appName! };
}

const restore = async (id: string, backupId: string) => fly.run(await fly.call((ctx) => startRestore(ctx, id, { backup_id: backupId })));
const liveVolumes = (app: string): FakeVolume[] => fly.fake.volumesOf(app);
const mountOf = (m: { config: Record<string, unknown> }) => (m.config.mounts as { volume: string; path: string }[]).map((x) => [x.volume, x.path]);

/** The instance runs on its old volume, as before the restore, and Fly holds nothing of the restore. */
async function expectAsBefore(x: Awaited<ReturnType<typeof backedUp>>, status = "running") {
  const machine = await fly.machineOf(x.id);
  expect(mountOf(machine)).toEqual([[x.before.volumeId, "/data"]]);
  expect(machine.state).toBe(status === "running" ? "started" : "stopped");
  expect(machine.lease).toBeNull();
  expect(liveVolumes(x.appName).map((v) => [v.id, v.usedBytes, v.attachedMachineId])).toEqual([[x.before.volumeId, 2222, machine.id]]);
  expect((await fly.instanceRow(x.id)).volumeId).toBe(x.before.volumeId);
  expect((await fly.call((ctx) => getInstance(ctx, x.id))).status).toBe(status);
}

describe("instance.restore on Fly", () => {
  it("restores: a new volume from the snapshot, the machine moved onto it under a lease and healthy, the old volume destroyed", async () => {
    const x = await backedUp();
    const op = await restore(x.id, x.backupId);
    expect(op).toMatchObject({ type: "instance.restore", status: "succeeded", error: null });

    const [created] = fly.fake.requestsTo("createVolume").slice(-1);
    expect(created!.body).toMatchObject({ snapshot_id: x.snapshotId, region: x.before.flyRegion, snapshot_retention: 7, size_gb: 1 });
    const after = await fly.instanceRow(x.id);
    expect(after.volumeId).not.toBe(x.before.volumeId);
    const [volume] = liveVolumes(x.appName);
    expect(volume).toMatchObject({ id: after.volumeId, restoredFrom: x.snapshotId, usedBytes: 1111, snapshotRetention: 7, state: "created" });
    // The old volume is gone; its snapshot stays for its retention (the backup can be restored again).
    expect(fly.fake.state.volumes.get(x.before.volumeId!)!.state).toBe("destroyed");
    expect(fly.fake.snapshotsOf(x.before.volumeId!).map((s) => s.id)).toEqual([x.snapshotId]);

    const machine = await fly.machineOf(x.id);
    expect(mountOf(machine)).toEqual([[after.volumeId, "/data"]]);
    expect(volume!.attachedMachineId).toBe(machine.id);
    expect(machine.state).toBe("started");
    const update = fly.fake.requestsTo("updateMachine").at(-1)!;
    expect(update.nonce).toMatch(/^[0-9a-f]{12}$/);
    expect(machine.lease).toBeNull();
    // Only then was the old volume destroyed: after the assistant answered healthy on the new one.
    const order = fly.fake.state.requests.map((r) => r.route);
    expect(order.lastIndexOf("deleteVolume")).toBeGreaterThan(order.lastIndexOf("healthz"));
    expect(order.lastIndexOf("healthz")).toBeGreaterThan(order.lastIndexOf("updateMachine"));
    expect((await fly.call((ctx) => getInstance(ctx, x.id))).status).toBe("running");
    expect((await fly.backupRows(x.id)).map((b) => b.id)).toEqual([x.backupId]);
  });

  it("the volume cannot be created (no room in the region, every retry): restore_failed, the instance running on its old volume, nothing made", async () => {
    const x = await backedUp();
    // Retryable, so tried again after backoffs (run-operation's 4 retries), and refused every time.
    fly.fake.inject("createVolume", { kind: "capacity", variant: "quota" }, 5);
    const op = await restore(x.id, x.backupId);
    expect(fly.fake.requestsTo("createVolume").filter((r) => (r.body as { snapshot_id?: string }).snapshot_id)).toHaveLength(5);
    expect(op.status).toBe("failed");
    expect(op.error!.code).toBe("restore_failed");
    expect(op.error!.message).toContain("over the allowed quota");
    expect(op.error!.message).toContain("back on its previous volume");
    await expectAsBefore(x);
    // The machine was never changed.
    expect(fly.fake.requestsTo("updateMachine")).toHaveLength(0);
  });

  it("Fly refuses the volume for good (422): restore_failed at once, not retried", async () => {
    const x = await backedUp();
    fly.fake.inject("createVolume", { kind: "status", status: 422, body: { error: "snapshot belongs to another organization" } });
    const op = await restore(x.id, x.backupId);
    expect(op).toMatchObject({ status: "failed", error: { code: "restore_failed" } });
    expect(op.error!.message).toContain("(fly_rejected)");
    expect(fly.fake.requestsTo("createVolume").filter((r) => (r.body as { snapshot_id?: string }).snapshot_id)).toHaveLength(1);
    await expectAsBefore(x);
  });

  it("the machine does not become healthy on the restored volume: moved back onto the old one, the new volume destroyed", async () => {
    const x = await backedUp();
    fly.fake.corruptSnapshot(x.snapshotId);
    const op = await restore(x.id, x.backupId);
    expect(op.status).toBe("failed");
    expect(op.error!.code).toBe("restore_failed");
    expect(op.error!.message).toContain("instance_unhealthy");
    expect(op.error!.message).toContain("did not become healthy");
    await expectAsBefore(x);
    // Moved there and back: two updates, and the volume made from the snapshot destroyed.
    expect(fly.fake.requestsTo("updateMachine")).toHaveLength(2);
    const restored = [...fly.fake.state.volumes.values()].filter((v) => v.restoredFrom === x.snapshotId);
    expect(restored.map((v) => v.state)).toEqual(["destroyed"]);
  });

  it("Fly refuses to move the machine: restore_failed, the new volume destroyed, the machine untouched", async () => {
    const x = await backedUp();
    fly.fake.inject("updateMachine", { kind: "status", status: 422, body: { error: "invalid mount" } });
    const op = await restore(x.id, x.backupId);
    expect(op).toMatchObject({ status: "failed", error: { code: "restore_failed" } });
    expect(op.error!.message).toContain("invalid mount");
    await expectAsBefore(x);
    expect([...fly.fake.state.volumes.values()].filter((v) => v.restoredFrom === x.snapshotId).map((v) => v.state)).toEqual(["destroyed"]);
  });

  it("a volume whose answer was lost is found by name, not made twice; a transient failure destroying the old one is retried", async () => {
    const x = await backedUp();
    fly.fake.inject("createVolume", { kind: "lost_response" });
    fly.fake.inject("deleteVolume", { kind: "status", status: 503, body: { error: "flaps unavailable" } });
    const op = await restore(x.id, x.backupId);
    expect(op.status).toBe("succeeded");
    expect([...fly.fake.state.volumes.values()].filter((v) => v.restoredFrom === x.snapshotId)).toHaveLength(1);
    expect(liveVolumes(x.appName).map((v) => v.id)).toEqual([(await fly.instanceRow(x.id)).volumeId]);
  });

  it("a stopped instance ends running on the restored volume; one whose restore fails is stopped again", async () => {
    const x = await backedUp();
    expect((await fly.run(await fly.call((ctx) => lifecycle(ctx, x.id, "stop")))).status).toBe("succeeded");
    fly.fake.corruptSnapshot(x.snapshotId);
    const failed = await restore(x.id, x.backupId);
    expect(failed).toMatchObject({ status: "failed", error: { code: "restore_failed" } });
    await expectAsBefore(x, "stopped");

    const y = await backedUp();
    expect((await fly.run(await fly.call((ctx) => lifecycle(ctx, y.id, "stop")))).status).toBe("succeeded");
    expect((await restore(y.id, y.backupId)).status).toBe("succeeded");
    expect((await fly.machineOf(y.id)).state).toBe("started");
    expect((await fly.call((ctx) => getInstance(ctx, y.id))).status).toBe("running");
  });
});
