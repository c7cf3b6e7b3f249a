import { count } from "drizzle-orm";
import { database } from "@/db/client";
import { account } from "@/db/schema";
import { config, type Config } from "./config";
import { log } from "./log";
import { upsertAccount } from "./services/accounts";
import { insertKey } from "./services/keys";

export const DEMO_EMAIL = "demo@example.com";

/**
 * Runs once per server process: validates the configuration (a missing
 * production setting stops start-up here, naming every missing variable), and
 * in embedded mode opens and migrates the database and, on the very first
 * start, creates a demo Pro account and prints its key.
 */
export async function startServer(): Promise<void> {
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
  const { startBackgroundWork } = await import("./background");
  await startBackgroundWork();
  log.info("server ready", {
    database: cfg.database.kind,
    rate_limiter: cfg.rateLimit.kind,
    jobs: cfg.jobs.kind,
    compute: cfg.compute.kind,
  });
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
