import { config } from "./config";

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const;
type Level = Exclude<keyof typeof LEVELS, "silent">;

/**
 * One JSON line per event on stdout/stderr. Callers pass ids and outcomes,
 * never tokens, secrets or request bodies.
 */
function write(level: Level, msg: string, fields?: Record<string, unknown>) {
  let threshold: number;
  try {
    threshold = LEVELS[config().logLevel];
  } catch {
    threshold = LEVELS.info; // configuration itself is broken: still say why
  }
  if (LEVELS[level] < threshold) return;
  const line = JSON.stringify({ level, time: new Date().toISOString(), msg, ...fields });
  // Straight to the streams: Next.js patches console.* with work a log line does not need.
  if (level === "error" || level === "warn") process.stderr.write(line + "\n");
  else process.stdout.write(line + "\n");
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
