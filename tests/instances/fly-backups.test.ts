import { beforeEach, describe, expect, it } from "vitest";
import type { FakeMachine, FakeVolume, FlyFake } from "../fakes/fly-api";
import { FLY_TOKEN, useFlyApi } from "../support/fly-http";

// Backups and restores as a user drives them over HTTP, with INSTANCE_PROVIDER=fly
// against the stateful Fly fake: the answers, and what Fly holds after. A restore
// whose step fails ends with the instance running on its old volume, the operation
// failed with restore_failed, and nothing of the restore left on Fly.

const fly = useFlyApi();
// Fly's clock and the server's agree, as they do in production: the backups list leaves out
// a backup past its expiry by the server's clock, and the fake dates snapshots by its own.
beforeEach(() => fly.fake.clock.advance(Math.max(0, Date.now() - fly.fake.clock.now())));

const mounts = (m: FakeMachine) => (m.config.mounts as { volume: string; path: string }[]).map((x) => [x.volume, x.path]);
const restoredFrom = (snapshotId: string): FakeVolume[] => [...fly.fake.state.volumes.values()].filter((v) => v.restoredFrom === snapshotId);

/** A running instance on Fly with one ready on-demand backup, taken over HTTP; its volume's data changes after. */
async function backedUp() {
  const { api, id } = await fly.runningInstance();
  const app = await fly.appOf(id);
  const [volume] = fly.fake.volumesOf(app);
  volume!.usedBytes = 1111;
  const accepted = await api.post(`/api/v1/instances/${id}/backups`);
  expect(accepted.body).toMatchObject({ type: "instance.backup", status: "pending", instance_id: id });
  const op = await fly.finished(api, accepted);
  expect(op.body, op.text).toMatchObject({ status: "succeeded", error: null });
  const list = await api.get(`/api/v1/instances/${id}/backups`);
  expect(list.body).toEqual([expect.objectContaining({ kind: "on_demand", status: "ready", size_bytes: 1111 })]);
  const [snapshot] = fly.fake.snapshotsOf(volume!.id);
  volume!.usedBytes = 2222; // what the assistant wrote after the backup
  return { api, id, app, volume: volume!, backup: list.body[0] as { id: string; created_at: string }, snapshotId: snapshot!.id };
}

/** The instance runs on its old volume as before the restore; Fly holds nothing of the restore. */
async function expectAsBefore(x: Awaited<ReturnType<typeof backedUp>>) {
  const machine = await fly.machineOf(x.id);
  expect(mounts(machine)).toEqual([[x.volume.id, "/data"]]);
  expect(machine.state).toBe("started");
  expect(machine.lease).toBeNull();
  expect(fly.fake.volumesOf(x.app).map((v) => [v.id, v.usedBytes])).toEqual([[x.volume.id, 2222]]);
  expect(restoredFrom(x.snapshotId).map((v) => v.state)).toEqual(expect.not.arrayContaining(["created", "creating", "hydrating"]));
  const inst = await x.api.get(`/api/v1/instances/${x.id}`);
  expect(inst.body).toMatchObject({ status: "running", last_backup_at: x.backup.created_at });
  expect((await x.api.get(`/api/v1/instances/${x.id}/backups`)).body.map((b: { id: string }) => b.id)).toEqual([x.backup.id]);
}

describe("backup and restore over HTTP on Fly", () => {
  it("restores: a volume from the snapshot, the machine moved onto it and healthy, then the old volume destroyed", async () => {
    const x = await backedUp();
    const accepted = await x.api.post(`/api/v1/instances/${x.id}/restore`, { backup_id: x.backup.id });
    expect(accepted.body).toMatchObject({ type: "instance.restore", status: "pending", instance_id: x.id });
    const op = await fly.finished(x.api, accepted);
    expect(op.body, op.text).toMatchObject({ status: "succeeded", error: null });

    const machine = await fly.machineOf(x.id);
    const [volume] = fly.fake.volumesOf(x.app);
    expect(volume).toMatchObject({ restoredFrom: x.snapshotId, usedBytes: 1111, region: x.volume.region, state: "created" });
    expect(mounts(machine)).toEqual([[volume!.id, "/data"]]);
    expect(machine.state).toBe("started");
    expect(machine.lease).toBeNull();
    expect(fly.fake.state.volumes.get(x.volume.id)!.state).toBe("destroyed");
    // The old volume went only after the assistant answered healthy on the new one.
    const order = fly.fake.state.requests.map((r) => r.route);
    expect(order.lastIndexOf("deleteVolume")).toBeGreaterThan(order.lastIndexOf("healthz"));

    expect((await x.api.get(`/api/v1/instances/${x.id}`)).body).toMatchObject({ status: "running", last_backup_at: x.backup.created_at });
    const ops = await x.api.get(`/api/v1/operations?instance_id=${x.id}`);
    expect(ops.body.map((o: { type: string; status: string }) => `${o.type} ${o.status}`)).toEqual([
      "instance.restore succeeded",
      "instance.backup succeeded",
      "instance.create succeeded",
    ]);
  });

  const FAULTS: [string, (fake: FlyFake, snapshotId: string) => void, string][] = [
    ["Fly cannot make the volume (422 on createVolume)", (fake) => fake.inject("createVolume", { kind: "status", status: 422, body: { error: "snapshot unavailable" } }), "snapshot unavailable"],
    ["the machine does not become healthy on the restored volume", (fake, snap) => fake.corruptSnapshot(snap), "did not become healthy"],
    ["Fly refuses to move the machine (422 on updateMachine)", (fake) => fake.inject("updateMachine", { kind: "status", status: 422, body: { error: "invalid mount" } }), "invalid mount"],
  ];

  it.each(FAULTS)("%s: restore_failed, the instance running on its old volume, nothing left behind", async (_, inject, reason) => {
    const x = await backedUp();
    inject(fly.fake, x.snapshotId);
    const op = await fly.finished(x.api, await x.api.post(`/api/v1/instances/${x.id}/restore`, { backup_id: x.backup.id }));
    expect(op.body.status).toBe("failed");
    expect(op.body.error.code).toBe("restore_failed");
    expect(op.body.error.message).toContain(reason);
    expect(op.body.error.message).toContain("back on its previous volume");
    expect(op.text).not.toContain(FLY_TOKEN);
    await expectAsBefore(x);
  });

  it("Fly refusing the snapshot: backup_failed, no backup listed, the instance running", async () => {
    const { api, id } = await fly.runningInstance();
    fly.fake.inject("createSnapshot", { kind: "status", status: 422, body: { error: "snapshots are disabled for this volume" } });
    const op = await fly.finished(api, await api.post(`/api/v1/instances/${id}/backups`));
    expect(op.body.status).toBe("failed");
    expect(op.body.error.code).toBe("backup_failed");
    expect(op.body.error.message).toContain("snapshots are disabled for this volume");
    expect((await api.get(`/api/v1/instances/${id}`)).body).toMatchObject({ status: "running", last_backup_at: null });
    expect((await api.get(`/api/v1/instances/${id}/backups`)).body).toEqual([]);
  });
});

