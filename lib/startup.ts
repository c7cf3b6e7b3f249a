import { count } from "drizzle-orm";
import { database } from "@/db/client";
import { account } from "@/db/schema";
import { config } from "./config";
import { log } from "./log";
import { recordServer } from "./operator/access";
import { upsertAccount } from "./services/accounts";
import { insertKey } from "./services/keys";

export const DEMO_EMAIL = "demo@example.com";

/**
 * Runs once per server process: validates the configuration (a missing
 * production setting stops start-up here, naming every missing variable), and
 * in embedded mode opens and migrates the database and, on the very first
 * start, creates a demo Pro account and prints its key. Then `startJobs`
 * (from the composition root, inngest/runtime.ts: in embedded mode, the cron
 * clock and the operations a previous process left unfinished).
 */
export async function startServer(startJobs: () => Promise<void>): Promise<void> {
  const cfg = config();
  const db = (await database()).db;
  if (cfg.database.kind === "pglite") {
    const [{ n } = { n: 0 }] = await db.select({ n: count() }).from(account);
    if (n === 0) {
      const demo = await upsertAccount(db, DEMO_EMAIL, "pro");
      const key = await insertKey(db, demo.id, { name: "demo", scopes: ["all"] });
      printDemoKey(key.token, cfg.dataDir);
    }
  }
  await startJobs();
  // Where `npm run admin` finds this server while it holds the embedded database.
  recordServer(`http://127.0.0.1:${process.env.PORT ?? "3000"}`);
  log.info("server ready", {
    database: cfg.database.kind,
    rate_limiter: cfg.rateLimit.kind,
    jobs: cfg.jobs.kind,
    compute: cfg.compute.kind,
  });
}

function printDemoKey(token: string, dataDir: string) {
  const port = process.env.PORT ?? "3000";
  const lines = [
    "",
    "  Embedded mode: data in " + dataDir + "/ (PGlite), in-process jobs and rate limits, simulated machines.",
    `  Created the demo account ${DEMO_EMAIL} (pro). Its API key, with all scopes, shown this once:`,
    "",
    `    ${token}`,
    "",
    "  Try it:",
    `    curl -H "Authorization: Bearer ${token}" http://localhost:${port}/api/v1/account`,
    "",
  ];
  console.log(lines.join("\n"));
}
