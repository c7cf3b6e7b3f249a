import { eq } from "drizzle-orm";
import { describe, expect, it, vi } from "vitest";
import { getDb } from "@/db/client";
import { backup, instance } from "@/db/schema";
import { makeScheduleBackupSync, makeSyncInstanceBackups } from "@/inngest/functions/sync-backups";
import { backupSyncRequestedEvent } from "@/lib/jobs/events";
import { LocalRunner } from "@/lib/jobs/local-runner";
import { newId } from "@/lib/ids";
import { parseCommandArgs } from "@/lib/operator/command";
import { findCommand } from "@/lib/operator/commands";
import { listBackups } from "@/lib/services/backups";
import { lifecycle } from "@/lib/services/instances";
import { useFlyServices } from "../support/fly-services";
import { insertOperation, instRow, silent } from "../support/operation-harness";

// The backup sync (inngest/functions/sync-backups.ts, lib/services/backup-records.ts)
// on the Fly fake: Fly's daily snapshots become `scheduled` backups, expired ones
// go, and each volume's snapshot retention follows its account's plan, for
// volumes made before backups existed and after a plan change.

const fly = useFlyServices();
const DAY_MS = 86_400_000;

/** One instance's sync, as the hourly pass starts it: its event, on a runner whose sleeps take no time. */
async function sync(instanceId: string) {
  const runner = new LocalRunner([makeSyncInstanceBackups(fly.deps)], { sleep: async (ms) => fly.fake.clock.advance(ms), backoffMs: () => 1000, logger: silent });
  await runner.send(backupSyncRequestedEvent(instanceId));
  await runner.idle();
  const [run] = runner.runs();
  expect(run!.status).toBe("succeeded");
}

/** An operator command as `npm run admin` (or POST /api/operator/run) runs it, with this file's Fly provider. */
async function operator(words: string[], args: Record<string, unknown>) {
  const found = findCommand(words)!;
  const deps = { db: await getDb(), compute: () => fly.provider, now: () => new Date(), send: async () => undefined };
  return found.command.run(deps, parseCommandArgs(found.command, args));
}

const listed = async (id: string) => (await fly.call((ctx) => listBackups(ctx, id, { limit: 100 }))).items;

describe("the backup sync on Fly", () => {
  it("records Fly's daily snapshots as scheduled backups, newest first, and drops those Fly expired", async () => {
    const id = await fly.runningInstance();
    const volumeId = (await fly.instanceRow(id)).volumeId!;
    const [first] = fly.fake.dailySnapshots();
    await sync(id);
    expect(await listed(id)).toEqual([expect.objectContaining({ kind: "scheduled", status: "creating", size_bytes: first!.size })]);
    expect((await fly.instanceRow(id)).lastBackupAt).toBeNull();

    fly.fake.clock.advance(fly.fake.timings.snapshotMs);
    await sync(id);
    const [ready] = await listed(id);
    expect(ready).toMatchObject({ kind: "scheduled", status: "ready", created_at: new Date(first!.createdAt).toISOString() });
    expect(Date.parse(ready!.expires_at!) - Date.parse(ready!.created_at)).toBe(7 * DAY_MS);
    expect((await fly.instanceRow(id)).lastBackupAt!.toISOString()).toBe(ready!.created_at);

    fly.fake.clock.advance(DAY_MS);
    const [second] = fly.fake.dailySnapshots();
    fly.fake.clock.advance(fly.fake.timings.snapshotMs);
    await sync(id);
    expect((await listed(id)).map((b) => b.created_at)).toEqual([new Date(second!.createdAt).toISOString(), ready!.created_at]);
    // A sync again changes nothing.
    const rows = await fly.backupRows(id);
    await sync(id);
    expect(await fly.backupRows(id)).toEqual(rows);

    // Seven days after the first was taken Fly deletes it, and the sync follows.
    fly.fake.clock.advance(6 * DAY_MS);
    expect(fly.fake.snapshotsOf(volumeId).map((s) => s.id)).toEqual([second!.id]);
    await sync(id);
    expect((await fly.backupRows(id)).map((b) => b.snapshotId)).toEqual([second!.id]);
    // last_backup_at says when the newest was taken.
    expect((await fly.instanceRow(id)).lastBackupAt!.getTime()).toBe(second!.createdAt);
  });

  it("sets the plan's retention on a volume made before backups existed (once), and follows a plan change", async () => {
    const id = await fly.runningInstance();
    const volumeId = (await fly.instanceRow(id)).volumeId!;
    // As a volume made before this release: Fly's default retention, none recorded.
    fly.fake.state.volumes.get(volumeId)!.snapshotRetention = 5;
    await (await getDb()).update(instance).set({ backupRetentionDays: null }).where(eq(instance.id, id));

    await sync(id);
    expect(fly.fake.requestsTo("updateVolume").map((r) => [r.path, r.body])).toEqual([[`/v1/apps/${(await fly.instanceRow(id)).appName}/volumes/${volumeId}`, { snapshot_retention: 7 }]]);
    expect(fly.fake.state.volumes.get(volumeId)!.snapshotRetention).toBe(7);
    expect((await fly.instanceRow(id)).backupRetentionDays).toBe(7);
    await sync(id);
    expect(fly.fake.requestsTo("updateVolume")).toHaveLength(1);

    // The account moves to Business: its volumes keep snapshots 30 days from now on.
    const moved = await operator(["set-plan"], { email: fly.account.email, plan: "business" });
    expect(moved.text).toContain("is now on the business plan");
    expect(moved.text).toContain("retention set on 1 (30 days)");
    expect(fly.fake.state.volumes.get(volumeId)!.snapshotRetention).toBe(30);
    expect((await fly.instanceRow(id)).backupRetentionDays).toBe(30);
    const [snap] = fly.fake.dailySnapshots();
    expect(snap!.retentionDays).toBe(30);
  });

  it("a retention Fly cannot set now is reported, and set by a later sync", async () => {
    const id = await fly.runningInstance();
    fly.fake.inject("updateVolume", { kind: "status", status: 503, body: { error: "flaps unavailable" } });
    const moved = await operator(["set-plan"], { email: fly.account.email, plan: "business" });
    expect(moved.text).toContain("1 could not be synced (the hourly pass retries)");
    expect((await fly.instanceRow(id)).backupRetentionDays).toBe(7);
    const synced = await operator(["sync-backups"], { instance: id });
    expect(synced.json).toMatchObject({ synced: [{ instance_id: id, retention_set: 30 }], failed: [] });
    expect((await fly.instanceRow(id)).backupRetentionDays).toBe(30);
  });

  it("keeps the backups of a volume Fly no longer knows until they expire", async () => {
    const id = await fly.runningInstance();
    const row = await fly.instanceRow(id);
    const at = new Date(fly.fake.clock.now() - DAY_MS);
    await (await getDb()).insert(backup).values({
      id: newId("bkp", at.getTime()), accountId: row.accountId, instanceId: id, volumeId: "vol_gone0000000000", snapshotId: "vs_gone",
      kind: "scheduled", status: "ready", sizeBytes: 10, createdAt: at, expiresAt: new Date(at.getTime() + 7 * DAY_MS),
    });
    await sync(id);
    expect((await fly.backupRows(id)).map((b) => b.snapshotId)).toEqual(["vs_gone"]);
  });

  it("the hourly pass (at minute 17) starts a sync of every live instance with a volume, not of one with an operation running", async () => {
    const idle = await fly.runningInstance();
    const busy = await fly.runningInstance();
    await insertOperation(await instRow(busy), "instance.restart", { status: "running" });
    const stopped = await fly.runningInstance();
    expect((await fly.run(await fly.call((ctx) => lifecycle(ctx, stopped, "stop")))).status).toBe("succeeded");

    // The runner's cron clock: each sleep moves it on; past 00:18 the test stops it.
    let clock = Date.parse("2026-03-01T00:16:30Z");
    const end = Date.parse("2026-03-01T00:18:00Z");
    const runner: LocalRunner = new LocalRunner([makeScheduleBackupSync(fly.deps), makeSyncInstanceBackups(fly.deps)], {
      now: () => clock,
      sleep: async (ms) => {
        clock += ms;
        if (clock >= end) runner.stop();
      },
      logger: silent,
    });
    runner.startCrons();
    await vi.waitFor(() => expect(clock).toBeGreaterThanOrEqual(end));
    await runner.idle();
    expect(runner.runs().filter((r) => r.functionId === "schedule-backup-sync").map((r) => new Date(r.event.ts).toISOString())).toEqual(["2026-03-01T00:17:00.000Z"]);
    const synced = runner.runs().filter((r) => r.functionId === "sync-instance-backups");
    const ids = synced.map((r) => (r.event.data as { instance_id: string }).instance_id);
    expect(ids).toEqual(expect.arrayContaining([idle, stopped]));
    expect(ids).not.toContain(busy);
    expect(synced.filter((r) => [idle, stopped].includes((r.event.data as { instance_id: string }).instance_id)).map((r) => r.status)).toEqual(["succeeded", "succeeded"]);
  });
});
