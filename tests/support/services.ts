import fs from "node:fs";
import { spawnSync } from "node:child_process";
import { createServer, type AddressInfo } from "node:net";
import path from "node:path";

/**
 * Suites that need a real service (redis-server, Postgres, Chromium) run only
 * where it is there, so a machine with nothing but Node still passes `npm test`.
 * Every such suite asks through one of the functions below, which print one line
 * when the service is missing:
 *
 *   skipped: <suite> needs <what>
 *
 * and the suite skips its tests with `describe.skipIf`:
 *
 *   const redisUrl = serviceUrl("upstash rate limiter", "REDIS_URL");
 *   describe.skipIf(!redisUrl)("...", () => { ... });
 *
 * In CI a skip is a broken install, not a pass: `.ci/run` fails when a test
 * report lists a skipped test (scripts/check-test-reports.ts). So no test may be
 * skipped for any other reason; choose tests with a plain `if` instead.
 *
 * CI sets REDIS_URL=redis://127.0.0.1:6379 and
 * TEST_POSTGRES_URL=postgres://postgres:postgres@127.0.0.1:5432/<database>.
 */
export type ServiceVar = "REDIS_URL" | "TEST_POSTGRES_URL";

/** The one place a gated suite says it skips: one line, straight to the terminal (not vitest's console capture, which adds a header). */
function skipNotice(suite: string, need: string): void {
  process.stdout.write(`skipped: ${suite} needs ${need}\n`);
}

/** The variable's value, or undefined after printing "skipped: <suite> needs <VAR>". */
export function serviceUrl(suite: string, variable: ServiceVar): string | undefined {
  const value = process.env[variable]?.trim();
  if (value) return value;
  skipNotice(suite, variable);
  return undefined;
}

/** Whether an executable on PATH runs (e.g. "redis-server"), printing the skip line when not. */
export function hasBinary(suite: string, binary: string, install = `apt-get install ${binary}`): boolean {
  const r = spawnSync(binary, ["--version"], { stdio: "ignore" });
  if (r.error === undefined && r.status === 0) return true;
  skipNotice(suite, `the ${binary} binary (${install})`);
  return false;
}

/** Whether an executable file exists at this path (e.g. "/usr/bin/chromium"), printing the skip line when not. */
export function hasExecutable(suite: string, file: string, install: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    skipNotice(suite, `${file} (${install})`);
    return false;
  }
}

const BUILD_ID = path.resolve(import.meta.dirname, "../../.next/BUILD_ID");

/**
 * Whether this checkout has a production build to serve (`npm run build`; CI
 * builds before it tests). Without one, prints the one "skipped" line: a cold
 * build takes minutes, too long to start from a test.
 */
export function hasProductionBuild(suite: string): boolean {
  if (fs.existsSync(BUILD_ID)) return true;
  skipNotice(suite, "a production build (npm run build)");
  return false;
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}
