import fs from "node:fs";
import path from "node:path";
import type { ExtractTablesWithRelations } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from "drizzle-orm/pg-core";
import { config, type Config } from "@/lib/config";
import { processIsAlive } from "@/lib/process";
import { ensurePrivateDir, makeTreePrivate } from "@/lib/data-dir";
import * as schema from "./schema";

export type Schema = typeof schema;
export type Db = PgDatabase<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>;
export type Tx = PgTransaction<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>;
/** A function that runs inside or outside a transaction takes this. */
export type Queryable = Db | Tx;

export interface Database {
  db: Db;
  kind: Config["database"]["kind"];
  migrate(): Promise<void>;
  close(): Promise<void>;
  /** PGlite only: the data directory as a tarball (a template for tests). */
  dump?: () => Promise<Blob>;
}

export const MIGRATIONS_FOLDER = path.join(process.cwd(), "db", "migrations");

export class DatabaseLockedError extends Error {
  constructor(dir: string, pid: number) {
    super(
      `The embedded database in ${dir} is already open in another process (pid ${pid}). ` +
        `PGlite allows one process per data directory: stop that process (e.g. the dev server) first, ` +
        `or set DATA_DIR to another folder, or point DATABASE_URL at a Postgres server.`,
    );
    this.name = "DatabaseLockedError";
  }
}

/**
 * Two processes writing one PGlite directory lose writes without an error, so
 * the directory is guarded by a lock file holding the owner's pid. A lock whose
 * owner is gone (a crash) is taken over.
 */
function lockDataDir(dir: string): () => void {
  const lockPath = path.join(dir, "pglite.lock");
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(lockPath, String(process.pid), { flag: "wx", mode: 0o600 });
      return () => {
        try {
          if (fs.readFileSync(lockPath, "utf8") === String(process.pid)) fs.unlinkSync(lockPath);
        } catch {
          // already gone
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const pid = Number(fs.readFileSync(lockPath, "utf8").trim());
      if (pid === process.pid) return () => undefined; // this process already holds it
      if (Number.isInteger(pid) && pid > 0 && processIsAlive(pid)) throw new DatabaseLockedError(dir, pid);
      fs.rmSync(lockPath, { force: true }); // stale: its owner died
    }
  }
  throw new Error(`Could not take the lock on ${lockPath}`);
}

export async function openDatabase(cfg: Config["database"] = config().database): Promise<Database> {
  if (cfg.kind === "pglite") {
    const { PGlite } = await import("@electric-sql/pglite");
    const { drizzle } = await import("drizzle-orm/pglite");
    const { migrate } = await import("drizzle-orm/pglite/migrator");
    let unlock = () => undefined as void;
    let client;
    if (cfg.dataDir === null) {
      client = cfg.template ? new PGlite({ loadDataDir: new Blob([fs.readFileSync(cfg.template)]) }) : new PGlite();
    } else {
      const dir = path.resolve(cfg.dataDir);
      ensurePrivateDir(dir); // PGlite does not create parent folders; DATA_DIR is 0700
      unlock = lockDataDir(dir);
      client = new PGlite(path.join(dir, "pglite"));
    }
    const pgliteDir = cfg.dataDir === null ? null : path.resolve(cfg.dataDir, "pglite");
    const privatize = () => pgliteDir && makeTreePrivate(pgliteDir);
    await client.waitReady;
    privatize();
    // Files PGlite creates later (new relation forks, WAL segments) come out 0666 too: DATA_DIR
    // (0700) keeps others out meanwhile, and this takes their access off within a minute.
    const sweep = pgliteDir ? setInterval(privatize, 60_000) : undefined;
    sweep?.unref();
    const db = drizzle({ client, schema }) as unknown as Db;
    return {
      db,
      kind: "pglite",
      migrate: async () => {
        await migrate(db as never, { migrationsFolder: MIGRATIONS_FOLDER });
        privatize();
      },
      dump: () => client.dumpDataDir("none") as Promise<Blob>,
      close: async () => {
        clearInterval(sweep);
        await client.close();
        privatize();
        unlock();
      },
    };
  }
  if (cfg.kind === "neon") {
    const { Pool, neonConfig } = await import("@neondatabase/serverless");
    const { drizzle } = await import("drizzle-orm/neon-serverless");
    const { migrate } = await import("drizzle-orm/neon-serverless/migrator");
    const { default: ws } = await import("ws");
    neonConfig.webSocketConstructor = ws; // Node 20 has no global WebSocket
    if (cfg.wsProxy) {
      // A local WebSocket-to-TCP relay in front of a plain Postgres (tests, CI).
      const proxy = cfg.wsProxy;
      neonConfig.wsProxy = () => proxy;
      neonConfig.useSecureWebSocket = false;
      neonConfig.pipelineTLS = false;
      neonConfig.pipelineConnect = false;
    }
    const pool = new Pool({ connectionString: cfg.url });
    const db = drizzle({ client: pool, schema }) as unknown as Db;
    return {
      db,
      kind: "neon",
      migrate: () => migrate(db as never, { migrationsFolder: MIGRATIONS_FOLDER }),
      close: () => pool.end(),
    };
  }
  const { Pool } = await import("pg");
  const { drizzle } = await import("drizzle-orm/node-postgres");
  const { migrate } = await import("drizzle-orm/node-postgres/migrator");
  const pool = new Pool({ connectionString: cfg.url, max: 10 });
  const db = drizzle({ client: pool, schema }) as unknown as Db;
  return {
    db,
    kind: "pg",
    migrate: () => migrate(db as never, { migrationsFolder: MIGRATIONS_FOLDER }),
    close: () => pool.end(),
  };
}

const holder = globalThis as unknown as { __mocDatabase?: Promise<Database> };

/**
 * The process's one database, opened on first use and kept on globalThis so
 * Next.js module reloads in development do not open a second. The embedded
 * database migrates itself when it opens; a server database is migrated by
 * `npm run db:migrate`.
 */
export function database(): Promise<Database> {
  holder.__mocDatabase ??= (async () => {
    const d = await openDatabase();
    if (d.kind === "pglite") await d.migrate();
    return d;
  })().catch((err) => {
    delete holder.__mocDatabase;
    throw err;
  });
  return holder.__mocDatabase;
}

export async function getDb(): Promise<Db> {
  return (await database()).db;
}

/** Closes the process's database (tests, the admin command). */
export async function closeDatabase(): Promise<void> {
  const d = holder.__mocDatabase;
  delete holder.__mocDatabase;
  if (d) await (await d).close();
}

export { schema };
