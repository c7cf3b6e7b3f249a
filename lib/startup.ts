import { count } from "drizzle-orm";
import { database } from "@/db/client";
import { account } from "@/db/schema";
import { config, type Config } from "./config";
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
  logRules(cfg);
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

/**
 * A start that failed (the embedded database locked by another process, a
 * missing production setting, an unreachable database) stops the process with
 * the reason and a non-zero exit code, instead of a server that answers
 * every request with a bare 500.
 */
export function failedStart(err: unknown): never {
  const name = err instanceof Error ? err.name : "Error";
  const message = err instanceof Error ? err.message : String(err);
  log.error("start-up failed: not serving", { error: `${name}: ${message}` });
  // Also as plain text, whatever LOG_LEVEL says: this is the one line an operator must see.
  process.stderr.write(`\n  Start-up failed, so this server will not serve requests.\n  ${name}: ${message}\n\n`);
  process.exit(1);
}

/**
 * Says at start-up which rules this process applies (DESIGN 2): embedded
 * relaxations only when nothing of production is configured, or where a
 * setting opts in explicitly.
 */
export function logRules(cfg: Config): void {
  const links = cfg.publicBaseUrl ? "PUBLIC_BASE_URL" : cfg.trustForwardedHost ? "request host" : "relative";
  log.info(`${cfg.rules.mode} rules`, {
    because: cfg.rules.because.length > 0 ? cfg.rules.because : undefined,
    loopback_webhooks: cfg.allowLoopbackWebhooks ? "allowed" : "refused",
    absolute_links_from: links,
    client_address_from: cfg.clientAddressHeaders.length > 0 ? cfg.clientAddressHeaders : undefined,
  });
  if (links === "relative") {
    log.warn("PUBLIC_BASE_URL is not set and the request's host is not trusted here: Location and Link headers are relative. Set PUBLIC_BASE_URL (or TRUST_FORWARDED_HOST=1 behind a proxy that sets X-Forwarded-Host).");
  }
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
