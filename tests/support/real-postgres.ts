import { beforeAll } from "vitest";
import { closeDatabase } from "@/db/client";
import { resetConfig } from "@/lib/config";
import { serviceUrl } from "./services";

/**
 * Points this test file's process at the real Postgres server (TEST_POSTGRES_URL),
 * whatever the rest of the suite runs on: PGlite serialises everything, so a
 * race can only be shown on a real server. Answers undefined (after printing
 * one "skipped" line) when no server is configured.
 */
export function useRealPostgres(suite: string): string | undefined {
  const url = serviceUrl(suite, "TEST_POSTGRES_URL");
  if (url) {
    beforeAll(async () => {
      await closeDatabase();
      process.env.DATABASE_URL = url;
      // Keep the driver the suite was started with (pg or Neon through the relay).
      resetConfig();
    });
  }
  return url;
}
