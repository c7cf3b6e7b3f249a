import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { config } from "../config";
import { processIsAlive } from "../process";

/**
 * How the admin command reaches a running server. The operator endpoint
 * (POST /api/operator/run) is behind its own token, never an API key:
 *
 * - production: `OPERATOR_TOKEN` (unset: the endpoint does not exist, and the
 *   admin command runs against DATABASE_URL itself);
 * - embedded: generated on the server's first start into
 *   `DATA_DIR/operator-token` (mode 0600), beside `DATA_DIR/server.json`, which
 *   says where the server listens, so `npm run admin` finds both while the dev
 *   server holds the embedded database (PGlite allows one process).
 */

const TOKEN_FILE = "operator-token";
const SERVER_FILE = "server.json";

/** Where a running embedded server listens, as it wrote at start-up. */
export interface ServerRecord {
  url: string;
  pid: number;
}

/** The token the operator endpoint accepts, or null when it is disabled. Embedded: created on first use. */
export function operatorToken(): string | null {
  const cfg = config();
  if (cfg.operatorToken) return cfg.operatorToken;
  if (cfg.rules.mode !== "embedded") return null;
  if (cfg.database.kind === "pglite" && cfg.database.dataDir === null) {
    // An in-memory database (tests): a token that lives as long as the process.
    holder.__mocOperatorToken ??= randomBytes(32).toString("base64url");
    return holder.__mocOperatorToken;
  }
  const file = path.resolve(cfg.dataDir, TOKEN_FILE);
  const existing = readFileOrNull(file);
  if (existing) return existing.trim();
  fs.mkdirSync(cfg.dataDir, { recursive: true, mode: 0o700 });
  try {
    fs.writeFileSync(file, randomBytes(32).toString("base64url"), { mode: 0o600, flag: "wx" });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err; // another process made it first: use theirs
  }
  return fs.readFileSync(file, "utf8").trim();
}

const holder = globalThis as unknown as { __mocOperatorToken?: string };

/** Constant-time comparison of a presented operator token with the expected one. */
export function operatorTokenMatches(given: string, expected: string): boolean {
  const digest = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** Called once the server is ready (embedded only): says where it listens. */
export function recordServer(url: string): void {
  const cfg = config();
  if (cfg.rules.mode !== "embedded" || (cfg.database.kind === "pglite" && cfg.database.dataDir === null)) return;
  operatorToken(); // make sure the admin command will find one
  const record: ServerRecord = { url, pid: process.pid };
  fs.writeFileSync(path.resolve(cfg.dataDir, SERVER_FILE), JSON.stringify(record), { mode: 0o600 });
}

/**
 * The running embedded server of `dataDir` and its operator token, or null when
 * none runs (no record, or its process is gone). The admin command uses it.
 */
export function findEmbeddedServer(dataDir: string): (ServerRecord & { token: string }) | null {
  const raw = readFileOrNull(path.resolve(dataDir, SERVER_FILE));
  const token = readFileOrNull(path.resolve(dataDir, TOKEN_FILE))?.trim();
  if (!raw || !token) return null;
  let record: ServerRecord;
  try {
    record = JSON.parse(raw) as ServerRecord;
  } catch {
    return null;
  }
  if (typeof record.url !== "string" || !Number.isInteger(record.pid) || !processIsAlive(record.pid)) return null;
  return { ...record, token };
}

function readFileOrNull(file: string): string | null {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}
