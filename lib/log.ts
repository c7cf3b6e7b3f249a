import pino, { type Logger } from "pino";
import { config, type Config } from "./config";

/**
 * The structured log: one JSON line per event, `{"level":"info","time":"<ISO
 * 8601>", ...fields, "msg":"..."}`, written synchronously, debug and info to
 * stdout, warn and error to stderr, at or above LOG_LEVEL (`silent`: none).
 * Callers pass ids and outcomes, never tokens, secrets or request bodies; as
 * a second line of defence, fields named like a secret (SECRET_FIELDS, and a
 * `headers` object's authorization and cookie) are written as "[redacted]".
 * Named paths, not `*.` wildcards: a wildcard path costs every log line more
 * than the rest of the line together.
 */

/** Field names whose values are never written. */
export const SECRET_FIELDS = [
  "authorization",
  "cookie",
  "token",
  "secret",
  "secrets",
  "password",
  "api_key",
  "apiKey",
  "gateway_token",
  "gatewayToken",
  "bot_token",
  "app_token",
  "event_key",
  "signing_key",
] as const;

type Level = "debug" | "info" | "warn" | "error";

// Through process.stdout/stderr.write (synchronous for files and pipes on Linux), not console.*:
// Next.js patches console with work a log line does not need. Looked up at each write, so a test can watch them.
const stdout = { write: (line: string) => process.stdout.write(line) };
const stderr = { write: (line: string) => process.stderr.write(line) };

function createLogger(): Logger {
  return pino(
    {
      level: "info",
      base: undefined, // no pid or hostname: the platform adds its own
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: [...SECRET_FIELDS, "headers.authorization", "headers.cookie"], censor: "[redacted]" },
    },
    // dedupe: each line goes to the one stream with the highest level at or below its own.
    pino.multistream(
      [
        { level: "debug", stream: stdout },
        { level: "warn", stream: stderr },
      ],
      { dedupe: true },
    ),
  );
}

const logger = createLogger();
let levelFrom: Config | undefined;

function write(level: Level, msg: string, fields?: Record<string, unknown>) {
  try {
    const cfg = config();
    if (cfg !== levelFrom) {
      logger.level = cfg.logLevel;
      levelFrom = cfg;
    }
  } catch {
    logger.level = "info"; // configuration itself is broken: still say why
    levelFrom = undefined;
  }
  if (fields) logger[level](fields, msg);
  else logger[level](msg);
}

export const log = {
  debug: (msg: string, fields?: Record<string, unknown>) => write("debug", msg, fields),
  info: (msg: string, fields?: Record<string, unknown>) => write("info", msg, fields),
  warn: (msg: string, fields?: Record<string, unknown>) => write("warn", msg, fields),
  error: (msg: string, fields?: Record<string, unknown>) => write("error", msg, fields),
};

/** The message of an unknown thrown value, for a log line. */
export function errorMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? ` (cause: ${err.cause.message})` : "";
  return `${err.name}: ${err.message}${cause}`;
}
