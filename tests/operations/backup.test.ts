import { describe, expect, it } from "vitest";
import { startBackup } from "@/lib/services/backups";
import { getInstance } from "@/lib/services/instances";
import { useFlyServices } from "../support/fly-services";

// instance.backup (inngest/functions/operations/backup.ts) on the Fly fake:
// an on-demand snapshot of the instance's volume, recorded while Fly makes it,
// and what a lost answer, a refusal and a failed snapshot leave behind.

const fly = useFlyServices();
const DAY_MS = 86_400_000;

describe("instance.backup on Fly", () => {
  it("snapshots the volume: the backup is on_demand and ready, sized as Fly says, kept the plan's 7 days; last_backup_at moves", async () => {
    const id = await fly.runningInstance();
    const row = await fly.instanceRow(id);
    // The volume was made with the Pro plan's retention, and it is recorded.
    expect(fly.fake.requestsTo("createVolume")[0]!.body).toMatchObject({ snapshot_retention: 7 });
    expect(row.backupRetentionDays).toBe(7);
    fly.fake.state.volumes.get(row.volumeId!)!.usedBytes = 52_000_000;

    const op = await fly.run(await fly.call((ctx) => startBackup(ctx, id)));
    expect(op).toMatchObject({ type: "instance.backup", status: "succeeded", error: null });
    expect(fly.fake.requestsTo("createSnapshot")).toHaveLength(1);
    const [snap] = fly.fake.snapshotsOf(row.volumeId!);
    expect(snap).toMatchObject({ kind: "on_demand", status: "created", retentionDays: 7 });

    const [b] = await fly.backupRows(id);
    expect(b).toMatchObject({ kind: "on_demand", status: "ready", snapshotId: snap!.id, sizeBytes: 52_000_000, volumeId: row.volumeId, operationId: op.id });
    expect(b!.createdAt.getTime()).toBe(snap!.createdAt);
    expect(b!.expiresAt!.getTime() - b!.createdAt.getTime()).toBe(7 * DAY_MS);
    const shown = await fly.call((ctx) => getInstance(ctx, id));
    expect(shown).toMatchObject({ status: "running", last_backup_at: b!.createdAt.toISOString() });
    // The machine was not touched.
    expect(fly.fake.requestsTo("updateMachine")).toHaveLength(0);
  });

  it("a snapshot whose answer was lost is found by the retried step, not taken twice", async () => {
    const id = await fly.runningInstance();
    fly.fake.inject("createSnapshot", { kind: "lost_response" });
    const op = await fly.run(await fly.call((ctx) => startBackup(ctx, id)));
    expect(op.status).toBe("succeeded");
    expect(fly.fake.requestsTo("createSnapshot")).toHaveLength(1);
    const volumeId = (await fly.instanceRow(id)).volumeId!;
    expect(fly.fake.snapshotsOf(volumeId)).toHaveLength(1);
    expect((await fly.backupRows(id)).map((b) => [b.kind, b.status, b.snapshotId])).toEqual([["on_demand", "ready", fly.fake.snapshotsOf(volumeId)[0]!.id]]);
  });

  it("Fly refusing the snapshot fails the operation with backup_failed; the instance keeps running", async () => {
    const id = await fly.runningInstance();
    fly.fake.inject("createSnapshot", { kind: "status", status: 422, body: { error: "snapshots are disabled for this volume" } });
    const op = await fly.run(await fly.call((ctx) => startBackup(ctx, id)));
    expect(op.status).toBe("failed");
    expect(op.error!.code).toBe("backup_failed");
    expect(op.error!.message).toContain("snapshots are disabled for this volume");
    expect((await fly.call((ctx) => getInstance(ctx, id))).status).toBe("running");
    expect(await fly.backupRows(id)).toEqual([]);
  });

  it("a snapshot Fly fails to make: backup_failed, the backup shown failed, the instance as it was", async () => {
    const id = await fly.runningInstance();
    fly.fake.failSnapshots(1);
    const op = await fly.run(await fly.call((ctx) => startBackup(ctx, id)));
    expect(op).toMatchObject({ status: "failed", error: { code: "backup_failed" } });
    expect((await fly.backupRows(id)).map((b) => b.status)).toEqual(["failed"]);
    const shown = await fly.call((ctx) => getInstance(ctx, id));
    expect(shown).toMatchObject({ status: "running", last_backup_at: null });
  });
});
