import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import { backup, instance, webhookMessage } from "@/db/schema";
import { ComputeError } from "@/lib/compute/types";
import { LocalProvider } from "@/lib/compute/local";
import { resetConfig } from "@/lib/config";
import { installedDeps } from "@/lib/deps";
import { newId } from "@/lib/ids";
import { operatorToken } from "@/lib/operator/access";
import { ANTHROPIC_KEY } from "../config/fixtures";
import { client, createAccount, createRunningInstance, uniqueSubdomain, waitForOperation, type TestAccount } from "../support/fixtures";
import { describeSecurity, useApiServer } from "../support/security";

// Backups and restores over HTTP in embedded mode: the simulated machines'
// volumes are real folders (LocalProvider), so a restore really brings back
// the files the backup copied.

const server = useApiServer();
const DAY_MS = 86_400_000;

/** The process's simulated machines (the API server's runtime). */
function machines(): LocalProvider {
  const compute = installedDeps().compute();
  if (!(compute instanceof LocalProvider)) throw new Error("these tests run on the simulated machines");
  return compute;
}

async function instanceRow(id: string) {
  const [row] = await (await getDb()).select().from(instance).where(eq(instance.id, id));
  return row!;
}

/** The folder the instance's machine has mounted at /data now. */
async function dataFolder(id: string): Promise<string> {
  return machines().volumeFolder((await instanceRow(id)).volumeId!);
}

async function newUser() {
  const me = await createAccount({ plan: "pro", limits: { heavy: 100 } });
  return { me, api: client(server.url, me.token) };
}

/** Takes a backup over HTTP and answers it as the list shows it. */
async function backUp(api: ReturnType<typeof client>, id: string) {
  const res = await api.post(`/api/v1/instances/${id}/backups`);
  expect(res.status, res.text).toBe(202);
  const op = await waitForOperation(api, res.body.id);
  expect(op.body, op.text).toMatchObject({ type: "instance.backup", status: "succeeded", error: null });
  const list = await api.get(`/api/v1/instances/${id}/backups`);
  return list.body[0] as { id: string; kind: string; status: string; size_bytes: number; created_at: string; expires_at: string };
}

describe("back up and restore through the API", () => {
  it("backs up, lists, and restores: the instance's data folder is the older one, and the operations, backups and instance say so", async () => {
    const { api } = await newUser();
    const { id } = await createRunningInstance(api, uniqueSubdomain("bkp"));
    const before = await dataFolder(id);
    // What the assistant keeps on its volume: its memory, say.
    fs.mkdirSync(path.join(before, "memory"), { recursive: true });
    fs.writeFileSync(path.join(before, "memory", "notes.md"), "the user likes tea\n");

    const accepted = await api.post(`/api/v1/instances/${id}/backups`);
    expect(accepted.status).toBe(202);
    expect(accepted.body).toMatchObject({ type: "instance.backup", status: "pending", instance_id: id });
    expect(accepted.headers.get("operation-location")).toBe(`${server.url}/api/v1/operations/${accepted.body.id}`);
    expect(accepted.headers.get("location")).toBe(`${server.url}/api/v1/operations/${accepted.body.id}`);
    expect((await waitForOperation(api, accepted.body.id)).body).toMatchObject({ status: "succeeded", error: null });

    const list = await api.get(`/api/v1/instances/${id}/backups`);
    expect(list.status).toBe(200);
    expect(list.body).toHaveLength(1);
    const taken = list.body[0];
    expect(Object.keys(taken).sort()).toEqual(["created_at", "expires_at", "id", "kind", "size_bytes", "status"]);
    expect(taken).toMatchObject({ kind: "on_demand", status: "ready" });
    expect(taken.id).toMatch(/^bkp_[0-9a-z]{26}$/);
    // The copy holds the memory file (and the config files the machine boots with).
    expect(taken.size_bytes).toBeGreaterThan("the user likes tea\n".length);
    // Kept for the Pro plan's 7 days.
    expect(Date.parse(taken.expires_at) - Date.parse(taken.created_at)).toBe(7 * DAY_MS);
    const shown = await api.get(`/api/v1/instances/${id}`);
    expect(shown.body).toMatchObject({ status: "running", last_backup_at: taken.created_at });

    // Then the memory goes wrong, and the configuration changes.
    fs.writeFileSync(path.join(before, "memory", "notes.md"), "corrupted\n");
    fs.writeFileSync(path.join(before, "memory", "later.md"), "written after the backup\n");
    const configure = await api.put(`/api/v1/instances/${id}/provider`, { provider: "anthropic", model: "claude-sonnet-4-5", api_key: ANTHROPIC_KEY });
    expect(configure.status).toBe(202);
    expect((await waitForOperation(api, configure.body.id)).body.status).toBe("succeeded");

    const restore = await api.post(`/api/v1/instances/${id}/restore`, { backup_id: taken.id });
    expect(restore.status, restore.text).toBe(202);
    expect(restore.body).toMatchObject({ type: "instance.restore", status: "pending", instance_id: id });
    expect(restore.headers.get("operation-location")).toBe(`${server.url}/api/v1/operations/${restore.body.id}`);
    const restored = await waitForOperation(api, restore.body.id);
    expect(restored.body, restored.text).toMatchObject({ status: "succeeded", error: null });

    // The machine runs on a new volume holding the backup's files; the old volume is gone.
    const after = await dataFolder(id);
    expect(after).not.toBe(before);
    expect(fs.existsSync(before)).toBe(false);
    expect(fs.readFileSync(path.join(after, "memory", "notes.md"), "utf8")).toBe("the user likes tea\n");
    expect(fs.existsSync(path.join(after, "memory", "later.md"))).toBe(false);
    // The configuration is not part of a backup: the machine booted with the current one, written onto the restored volume.
    expect(JSON.parse(fs.readFileSync(path.join(after, "openclaw.json"), "utf8")).agents.defaults.model.primary).toBe("anthropic/claude-sonnet-4-5");
    expect((await api.get(`/api/v1/instances/${id}/provider`)).body).toMatchObject({ provider: "anthropic", model: "claude-sonnet-4-5" });

    // The operations, the backups and the instance all say what happened.
    const ops = await api.get(`/api/v1/operations?instance_id=${id}`);
    expect(ops.body.map((o: { type: string; status: string }) => `${o.type} ${o.status}`)).toEqual([
      "instance.restore succeeded",
      "instance.configure succeeded",
      "instance.backup succeeded",
      "instance.create succeeded",
    ]);
    expect((await api.get(`/api/v1/instances/${id}/backups`)).body).toEqual([taken]);
    expect((await api.get(`/api/v1/instances/${id}`)).body).toMatchObject({ status: "running", last_backup_at: taken.created_at });

    // The backup outlives the volume it was taken of: restoring it again works.
    const again = await api.post(`/api/v1/instances/${id}/restore`, { backup_id: taken.id });
    expect((await waitForOperation(api, again.body.id)).body.status).toBe("succeeded");
    expect(fs.readFileSync(path.join(await dataFolder(id), "memory", "notes.md"), "utf8")).toBe("the user likes tea\n");

    // Each finished operation was written to the webhook outbox (operation.succeeded), the new types included.
    const messages = await (await getDb()).select().from(webhookMessage).where(eq(webhookMessage.accountId, (await instanceRow(id)).accountId));
    const announced = messages.map((m) => `${m.eventType} ${(m.payload as { data: { type: string } }).data.type}`);
    expect(announced).toEqual(expect.arrayContaining(["operation.succeeded instance.backup", "operation.succeeded instance.restore"]));
  });

  it("a restore that fails puts the machine back on its volume: operation failed with restore_failed, nothing left behind, operation.failed recorded", async () => {
    const { api, me } = await newUser();
    const { id } = await createRunningInstance(api, uniqueSubdomain("rbk"));
    const folder = await dataFolder(id);
    fs.writeFileSync(path.join(folder, "notes.md"), "before\n");
    const taken = await backUp(api, id);
    fs.writeFileSync(path.join(folder, "notes.md"), "after\n");
    const volumesBefore = fs.readdirSync(path.dirname(folder)).sort();

    // The machine does not come up on the new volume.
    machines().failNext("mountVolume", new ComputeError("local_machine_unavailable", "machine crashed on boot", { retryable: false }));
    const restore = await api.post(`/api/v1/instances/${id}/restore`, { backup_id: taken.id });
    const op = await waitForOperation(api, restore.body.id);
    expect(op.body.status).toBe("failed");
    expect(op.body.error.code).toBe("restore_failed");
    expect(op.body.error.message).toContain("machine crashed on boot");
    expect(op.body.error.message).toContain("back on its previous volume");

    expect((await api.get(`/api/v1/instances/${id}`)).body.status).toBe("running");
    expect(await dataFolder(id)).toBe(folder);
    expect(fs.readFileSync(path.join(folder, "notes.md"), "utf8")).toBe("after\n");
    // The volume made from the backup was destroyed.
    expect(fs.readdirSync(path.dirname(folder)).sort()).toEqual(volumesBefore);
    const failed = await (await getDb()).select().from(webhookMessage).where(eq(webhookMessage.accountId, me.accountId));
    expect(failed.filter((m) => m.eventType === "operation.failed").map((m) => (m.payload as { data: { id: string } }).data.id)).toEqual([restore.body.id]);
  });

  it("a stopped instance can be backed up and stays stopped", async () => {
    const { api } = await newUser();
    const { id } = await createRunningInstance(api, uniqueSubdomain("stp"));
    const stop = await api.post(`/api/v1/instances/${id}/stop`);
    expect((await waitForOperation(api, stop.body.id)).body.status).toBe("succeeded");
    const taken = await backUp(api, id);
    expect(taken).toMatchObject({ kind: "on_demand", status: "ready" });
    expect((await api.get(`/api/v1/instances/${id}`)).body.status).toBe("stopped");
  });
});

describe("what a restore refuses", () => {
  it("another account's backup, another instance's, an unknown or malformed id", async () => {
    const mine = await newUser();
    const theirs = await newUser();
    const { id } = await createRunningInstance(mine.api, uniqueSubdomain("own"));
    const { id: other } = await createRunningInstance(theirs.api, uniqueSubdomain("oth"));
    const { id: sibling } = await createRunningInstance(mine.api, uniqueSubdomain("sib"));
    const theirBackup = await backUp(theirs.api, other);
    const siblingBackup = await backUp(mine.api, sibling);

    for (const backupId of [theirBackup.id, siblingBackup.id, newId("bkp")]) {
      const res = await mine.api.post(`/api/v1/instances/${id}/restore`, { backup_id: backupId });
      expect(res.status, backupId).toBe(404);
      expect(res.body.code).toBe("not_found");
      expect(res.body.detail).toContain(backupId);
    }
    // Nor can they restore theirs onto my instance, or list my instance's backups.
    expect((await theirs.api.post(`/api/v1/instances/${id}/restore`, { backup_id: theirBackup.id })).status).toBe(404);
    expect((await theirs.api.get(`/api/v1/instances/${id}/backups`)).status).toBe(404);

    const bad = await mine.api.post(`/api/v1/instances/${id}/restore`, { backup_id: "vs_123" });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { path: string }) => e.path)).toEqual(["backup_id"]);
    expect((await mine.api.post(`/api/v1/instances/${id}/restore`, {})).status).toBe(400);
    // Nothing was started.
    const ops = await mine.api.get(`/api/v1/operations?instance_id=${id}`);
    expect(ops.body.map((o: { type: string }) => o.type)).toEqual(["instance.create"]);
  });

  it("while another operation runs on the instance: 409 operation_in_progress", async () => {
    const { api } = await newUser();
    const { id } = await createRunningInstance(api, uniqueSubdomain("busy"));
    const taken = await backUp(api, id);
    // The next snapshot fails once, retryably: the backup stays in progress for a backoff.
    machines().failNext("createSnapshot", new ComputeError("local_busy", "try again", { retryable: true }));
    const second = await api.post(`/api/v1/instances/${id}/backups`);
    expect(second.status).toBe(202);
    const res = await api.post(`/api/v1/instances/${id}/restore`, { backup_id: taken.id });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ code: "operation_in_progress", operation_id: second.body.id });
    expect((await api.post(`/api/v1/instances/${id}/backups`)).body.code).toBe("operation_in_progress");
    expect((await waitForOperation(api, second.body.id)).body.status).toBe("succeeded");
    // Newest first: the second backup, then the first.
    expect((await api.get(`/api/v1/instances/${id}/backups`)).body.map((b: { id: string }) => b.id)).toEqual([expect.any(String), taken.id]);
  });

  it("a backup that is not ready yet: 409 backup_not_ready", async () => {
    const { api, me } = await newUser();
    const { id } = await createRunningInstance(api, uniqueSubdomain("nry"));
    const row = await instanceRow(id);
    const creating = newId("bkp");
    await (await getDb()).insert(backup).values({
      id: creating, accountId: me.accountId, instanceId: id, volumeId: row.volumeId!, snapshotId: null, kind: "on_demand", status: "creating", createdAt: new Date(),
    });
    const res = await api.post(`/api/v1/instances/${id}/restore`, { backup_id: creating });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ code: "backup_not_ready", backup_status: "creating" });
  });
});

describe("Idempotency-Key on backups and restores", () => {
  it("a repeated backup request replays the first answer and takes no second backup; a key reused for another restore is 422", async () => {
    const { api } = await newUser();
    const { id } = await createRunningInstance(api, uniqueSubdomain("idb"));
    const headers = { "idempotency-key": `nightly-2026-11-30-${id}` };
    const first = await api.post(`/api/v1/instances/${id}/backups`, undefined, { headers });
    expect(first.status).toBe(202);
    expect((await waitForOperation(api, first.body.id)).body.status).toBe("succeeded");
    const again = await api.post(`/api/v1/instances/${id}/backups`, undefined, { headers });
    expect(again.status).toBe(202);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body).toEqual(first.body);
    const backups = (await api.get(`/api/v1/instances/${id}/backups`)).body as { id: string }[];
    expect(backups).toHaveLength(1);
    expect((await api.get(`/api/v1/operations?instance_id=${id}&type=instance.backup`)).body).toHaveLength(1);

    // A restore retried with its key runs once; the same key for a different backup is refused.
    const restoreKey = { "idempotency-key": `undo-${id}` };
    const restore = await api.post(`/api/v1/instances/${id}/restore`, { backup_id: backups[0]!.id }, { headers: restoreKey });
    expect(restore.status).toBe(202);
    expect((await waitForOperation(api, restore.body.id)).body.status).toBe("succeeded");
    const retried = await api.post(`/api/v1/instances/${id}/restore`, { backup_id: backups[0]!.id }, { headers: restoreKey });
    expect(retried.headers.get("idempotent-replayed")).toBe("true");
    expect(retried.body.id).toBe(restore.body.id);
    const other = await api.post(`/api/v1/instances/${id}/restore`, { backup_id: newId("bkp") }, { headers: restoreKey });
    expect(other.status).toBe(422);
    expect(other.body.code).toBe("idempotency_key_reused");
    expect((await api.get(`/api/v1/operations?instance_id=${id}&type=instance.restore`)).body).toHaveLength(1);
  });
});

describe("GET /api/v1/instances/{id}/backups", () => {
  it("pages newest first with a Link to the next page, and leaves out expired backups", async () => {
    const { api, me } = await newUser();
    const { id } = await createRunningInstance(api, uniqueSubdomain("pg"));
    const row = await instanceRow(id);
    const now = Date.now();
    const rows = [1, 2, 3, 4].map((daysAgo) => {
      const at = new Date(now - daysAgo * DAY_MS);
      return {
        id: newId("bkp", at.getTime()), accountId: me.accountId, instanceId: id, volumeId: row.volumeId!, snapshotId: `vs_test_${daysAgo}`,
        kind: "scheduled" as const, status: "ready" as const, sizeBytes: 1000, createdAt: at, expiresAt: new Date(at.getTime() + 7 * DAY_MS),
      };
    });
    const expired = new Date(now - 9 * DAY_MS);
    rows.push({ ...rows[0]!, id: newId("bkp", expired.getTime()), snapshotId: "vs_test_old", createdAt: expired, expiresAt: new Date(expired.getTime() + 7 * DAY_MS) });
    await (await getDb()).insert(backup).values(rows);

    const first = await api.get(`/api/v1/instances/${id}/backups?limit=3`);
    expect(first.status).toBe(200);
    expect(first.body.map((b: { id: string }) => b.id)).toEqual([rows[0]!.id, rows[1]!.id, rows[2]!.id]);
    const link = first.headers.get("link");
    expect(link).toMatch(/rel="next"/);
    const next = /<([^>]+)>/.exec(link!)![1]!;
    const second = await api.get(next.replace(server.url, ""));
    expect(second.body.map((b: { id: string }) => b.id)).toEqual([rows[3]!.id]);
    expect(second.headers.get("link")).toBeNull();
    expect(first.body[0]).toEqual({ id: rows[0]!.id, kind: "scheduled", status: "ready", size_bytes: 1000, created_at: rows[0]!.createdAt.toISOString(), expires_at: rows[0]!.expiresAt.toISOString() });

    expect((await api.get(`/api/v1/instances/${id}/backups?cursor=nope`)).body.code).toBe("invalid_cursor");
    expect((await api.get(`/api/v1/instances/${id}/backups?limit=0`)).status).toBe(400);
    expect((await api.get(`/api/v1/instances/inst_01jd3z6v7a8b9c0d1e2f3g4h5j/backups`)).status).toBe(404);
  });
});

describe("backup retention follows the plan (operator commands, run by the server)", () => {
  // The operator endpoint as production has it, whatever the leg's database
  // (a Postgres server means production rules: no generated embedded token).
  const saved = process.env.OPERATOR_TOKEN;
  beforeAll(() => {
    process.env.OPERATOR_TOKEN = randomBytes(32).toString("base64url");
    resetConfig();
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.OPERATOR_TOKEN;
    else process.env.OPERATOR_TOKEN = saved;
    resetConfig();
  });
  const operator = async (command: string, args: Record<string, unknown>) => {
    const res = await fetch(new URL("/api/operator/run", server.url), {
      method: "POST",
      headers: { authorization: `Bearer ${operatorToken()}`, "content-type": "application/json" },
      body: JSON.stringify({ command, args }),
    });
    expect(res.status).toBe(200);
    return (await res.json()) as { text: string; json: Record<string, unknown> };
  };

  it("sync-backups sets the plan's retention on a volume that has none recorded; set-plan moves it; new backups are kept as long", async () => {
    const { api, me } = await newUser();
    const { id } = await createRunningInstance(api, uniqueSubdomain("ret"));
    expect((await instanceRow(id)).backupRetentionDays).toBe(7);
    // As an instance made before backups existed.
    await (await getDb()).update(instance).set({ backupRetentionDays: null }).where(eq(instance.id, id));
    const synced = await operator("sync-backups", { instance: id });
    expect(synced.json).toEqual({ synced: [{ instance_id: id, retention_set: 7, added: 0, removed: 0 }], failed: [] });
    expect((await instanceRow(id)).backupRetentionDays).toBe(7);

    const moved = await operator("set-plan", { email: me.email, plan: "business" });
    expect(moved.text).toContain("retention set on 1 (30 days)");
    expect((await instanceRow(id)).backupRetentionDays).toBe(30);
    const taken = await backUp(api, id);
    expect(Date.parse(taken.expires_at) - Date.parse(taken.created_at)).toBe(30 * DAY_MS);
  });
});

const withInstance = async (o: TestAccount) => (await createRunningInstance(client(server.url, o.token), uniqueSubdomain("sec"))).id;

describeSecurity("GET /api/v1/instances/{id}/backups", server, {
  method: "GET",
  scope: "backups:read",
  ownsResource: true,
  path: async (o) => `/api/v1/instances/${await withInstance(o)}/backups`,
});
describeSecurity("POST /api/v1/instances/{id}/backups", server, {
  method: "POST",
  scope: "backups:write",
  ownsResource: true,
  path: async (o) => `/api/v1/instances/${await withInstance(o)}/backups`,
});
describeSecurity("POST /api/v1/instances/{id}/restore", server, {
  method: "POST",
  scope: "backups:write",
  ownsResource: true,
  path: async (o) => `/api/v1/instances/${await withInstance(o)}/restore`,
  body: { backup_id: newId("bkp") },
});

