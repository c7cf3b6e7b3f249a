import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startNeonRelay, type NeonRelay } from "./support/neon-relay";

/**
 * Before any test file: when the suite runs against a Postgres server
 * (DATABASE_URL, or TEST_POSTGRES_URL for the concurrency suites), apply the
 * migrations once; with DATABASE_DRIVER=neon, start the WebSocket relay that
 * lets Neon's driver reach the local server, and hand its address to the
 * workers through the environment.
 */
let relay: NeonRelay | undefined;
let templateFile: string | undefined;

export async function setup() {
  if (!process.env.DATABASE_URL || process.env.DATABASE_URL === "memory://") {
    // initdb in WebAssembly takes seconds: do it once, migrated, and let each test file's PGlite start from the dump.
    const { openDatabase } = await import("@/db/client");
    const d = await openDatabase({ kind: "pglite", dataDir: null });
    await d.migrate();
    const dump = await d.dump!();
    const file = path.join(os.tmpdir(), `moc-pglite-template-${process.pid}.tar`);
    fs.writeFileSync(file, Buffer.from(await dump.arrayBuffer()));
    await d.close();
    templateFile = file;
    process.env.DATABASE_URL = `memory://?template=${encodeURIComponent(file)}`;
  }
  const url = process.env.DATABASE_URL;
  const serverUrl = url && url.startsWith("postgres") ? url : undefined;
  if (serverUrl && process.env.DATABASE_DRIVER === "neon" && !process.env.NEON_WS_PROXY) {
    const u = new URL(serverUrl);
    relay = await startNeonRelay({ pgHost: u.hostname, pgPort: Number(u.port || 5432) });
    process.env.NEON_WS_PROXY = relay.proxy;
  }
  const { openDatabase } = await import("@/db/client");
  for (const target of new Set([serverUrl, process.env.TEST_POSTGRES_URL].filter(Boolean) as string[])) {
    const neon = target === serverUrl && process.env.DATABASE_DRIVER === "neon";
    const d = await openDatabase(neon ? { kind: "neon", url: target, wsProxy: process.env.NEON_WS_PROXY } : { kind: "pg", url: target });
    try {
      await d.migrate();
    } finally {
      await d.close();
    }
  }
  if (serverUrl) console.log(`database: ${process.env.DATABASE_DRIVER === "neon" ? "Neon driver via WebSocket relay" : "pg driver"} on ${new URL(serverUrl).host}`);
}

export async function teardown() {
  await relay?.close();
  if (templateFile) fs.rmSync(templateFile, { force: true });
}
