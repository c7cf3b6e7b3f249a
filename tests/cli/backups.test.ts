import fs from "node:fs";
import path from "node:path";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import { instance } from "@/db/schema";
import { LocalProvider } from "@/lib/compute/local";
import { installedDeps } from "@/lib/deps";
import { client, createAccount, createRunningInstance, uniqueSubdomain, type TestAccount } from "../support/fixtures";
import { useApiServer } from "../support/security";
import { buildCli, moc, removeTemporaryFolders, type MocOptions } from "./support";

/**
 * `moc instances backup | backups | restore` as a subprocess against the API in
 * embedded mode, whose simulated volumes are real folders: the restore brings
 * the backed-up file back.
 */
const server = useApiServer();
let me: TestAccount;
const run = (args: string[], opts: MocOptions = {}) => moc(args, { key: me.token, baseUrl: server.url, ...opts });

beforeAll(async () => {
  await buildCli();
  me = await createAccount({ limits: { read: 1000, write: 1000, heavy: 1000 } });
}, 120_000);
afterAll(removeTemporaryFolders);

async function dataFolder(id: string): Promise<string> {
  const [row] = await (await getDb()).select().from(instance).where(eq(instance.id, id));
  return (installedDeps().compute() as LocalProvider).volumeFolder(row!.volumeId!);
}

describe("moc instances backup, backups, restore", () => {
  it("backs up (--wait), lists the backups, and restores one with --yes; without --yes outside a terminal it refuses", async () => {
    const subdomain = uniqueSubdomain("clib");
    const { id } = await createRunningInstance(client(server.url, me.token), subdomain);
    fs.writeFileSync(path.join(await dataFolder(id), "notes.md"), "kept\n");

    const backup = await run(["instances", "backup", subdomain, "--wait", "--json"]);
    expect(backup.code, backup.stderr).toBe(0);
    expect(backup.json()).toMatchObject({ type: "instance.backup", status: "succeeded", instance_id: id });

    const table = await run(["instances", "backups", subdomain]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout.split("\n")[0]).toMatch(/^ID\s+KIND\s+STATUS\s+SIZE\s+TAKEN\s+EXPIRES$/);
    const listed = await run(["instances", "backups", id, "--json"]);
    const [b] = listed.json<{ id: string; kind: string; status: string }[]>();
    expect(b).toMatchObject({ kind: "on_demand", status: "ready" });
    expect(table.stdout).toContain(b!.id);

    fs.writeFileSync(path.join(await dataFolder(id), "notes.md"), "overwritten\n");
    const refused = await run(["instances", "restore", id, "--backup", b!.id]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("add --yes");

    const restored = await run(["instances", "restore", id, "--backup", b!.id, "--yes", "--wait"]);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toMatch(/^instance\.restore op_\S+ succeeded/);
    expect(fs.readFileSync(path.join(await dataFolder(id), "notes.md"), "utf8")).toBe("kept\n");

    // A backup that is not this instance's: not found (exit 4).
    const missing = await run(["instances", "restore", id, "--backup", "bkp_01jd3z6v7a8b9c0d1e2f3g4h5j", "--yes"]);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain("404 not_found");
    expect(missing.stderr).toContain('No backup "bkp_01jd3z6v7a8b9c0d1e2f3g4h5j" of instance');
  });
});
