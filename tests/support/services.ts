import { spawnSync } from "node:child_process";
import { createServer, type AddressInfo } from "node:net";

/**
 * Suites that need a real service (redis-server, Postgres) run only where it is
 * configured, so a machine with nothing but Node still passes `npm test`. A
 * skipped suite says so in one line:
 *
 *   const redisUrl = serviceUrl("upstash rate limiter", "REDIS_URL");
 *   describe.skipIf(!redisUrl)("...", () => { ... });
 *
 * CI sets REDIS_URL=redis://127.0.0.1:6379 and
 * TEST_POSTGRES_URL=postgres://postgres:postgres@127.0.0.1:5432/postgres.
 */
export type ServiceVar = "REDIS_URL" | "TEST_POSTGRES_URL";

export function skipNotice(suite: string, need: string): void {
  // One line, straight to the terminal (not through vitest's console capture,
  // which would add a header line).
  process.stdout.write(`skipped: ${suite} needs ${need}\n`);
}

/** The variable's value, or undefined after printing "skipped: <suite> needs <VAR>". */
export function serviceUrl(suite: string, variable: ServiceVar): string | undefined {
  const value = process.env[variable]?.trim();
  if (value) return value;
  skipNotice(suite, variable);
  return undefined;
}

/** Whether an executable is on PATH (e.g. "redis-server"), printing the skip line when not. */
export function hasBinary(suite: string, binary: string): boolean {
  const r = spawnSync(binary, ["--version"], { stdio: "ignore" });
  if (r.error === undefined && r.status === 0) return true;
  skipNotice(suite, `the ${binary} binary`);
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
