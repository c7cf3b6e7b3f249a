import { InvalidArgumentError, type Command } from "commander";
import { nextCursor, Session, type Answer, type Operation } from "./api.js";
import { loadCredentials } from "./credentials.js";
import { CliError, EXIT } from "./errors.js";
import { note, printJson } from "./output.js";
import { followOperation, reportFinished, reportStarted } from "./wait.js";

/** Options every command takes. */
export interface Common {
  json?: boolean;
}

/** Options every operation-starting command takes. */
export interface OperationOptions extends Common {
  wait?: boolean;
  timeout: number;
  idempotencyKey?: string;
}

/** The header parameter every operation-starting endpoint documents. */
export type IdempotencyHeader = { "Idempotency-Key"?: string };

/** How long --wait follows an operation by default; past it moc exits with EXIT.timeout and the operation goes on. */
export const DEFAULT_WAIT_SECONDS = 1800;

type Action<O> = (session: Session, args: string[], opts: O) => Promise<void>;

/**
 * Adds a command that asks the API something and prints the answer: `usage` is
 * commander's "name <arg> [arg]", and every such command takes --json. The
 * session (credentials, typed client) is made when the command runs, so
 * `--help` reads no file.
 */
export function leaf<O extends Common = Common>(parent: Command, usage: string, description: string, action: Action<O>): Command {
  return parent
    .command(usage)
    .description(description)
    .option("--json", "print the API's JSON answer (for jq)")
    .action(async (...received: unknown[]) => {
      const cmd = received.at(-1) as Command;
      await action(new Session(() => loadCredentials()), cmd.processedArgs as string[], cmd.opts<O>());
    });
}

/**
 * Adds a command that starts an operation (`202` with an Operation): `start`
 * makes the typed call with `header` as its header parameters. Every such
 * command takes --wait, --timeout, --idempotency-key and --json, so a new
 * operation endpoint is one `operation(...)` call.
 */
export function operation<O extends OperationOptions = OperationOptions>(
  parent: Command,
  usage: string,
  description: string,
  start: (session: Session, args: string[], opts: O, header: IdempotencyHeader) => Promise<Answer<Operation, unknown> | Answer<Operation | object, unknown>>,
): Command {
  return mutation<O>(parent, usage, description, async (session, args, opts, header) => {
    const { data, response } = await session.ok(start(session, args, opts, header));
    noteReplay(response);
    if (response.headers.get("config-unchanged") === "true") {
      // A configuration PUT whose document already runs: 200 with that document, no operation to follow.
      if (opts.json) printJson(data);
      else note("Unchanged: the instance already runs this document; nothing to apply.");
      return;
    }
    await settle(session, data as Operation, opts);
  })
    .option("-w, --wait", "follow the operation until it succeeds (exit 0) or fails (exit 1)")
    .option("--timeout <seconds>", "with --wait: give up after this long (exit 8)", positiveInt, DEFAULT_WAIT_SECONDS);
}

/**
 * Adds a command that changes something: like `leaf`, plus --idempotency-key,
 * handed to `action` as the typed header parameter every POST, PUT, PATCH and
 * DELETE of the API documents; the action passes the answer to `noteReplay`.
 */
export function mutation<O extends Common & { idempotencyKey?: string }>(
  parent: Command,
  usage: string,
  description: string,
  action: (session: Session, args: string[], opts: O, header: IdempotencyHeader) => Promise<void>,
): Command {
  return leaf<O>(parent, usage, description, async (session, args, opts) => {
    const key = opts.idempotencyKey;
    await action(session, args, opts, key ? { "Idempotency-Key": key } : {});
  }).option("--idempotency-key <key>", "make the request safe to retry: the same key replays the first answer for 24 h");
}

/** Says on stderr when an answer is a replay of an earlier request's (Idempotent-Replayed: true). */
export function noteReplay(response: Response): void {
  if (response.headers.get("idempotent-replayed") === "true") note("(replayed: the answer to the first request with this Idempotency-Key)");
}

export interface PageOptions {
  limit?: number;
  cursor?: string;
  all?: boolean;
}

/** Adds --limit, --cursor and --all to a command over a cursor-paged list. */
export function paged(cmd: Command): Command {
  return cmd
    .option("--limit <n>", "items per page, 1-100 (default 20)", positiveInt)
    .option("--cursor <cursor>", "start where an earlier page ended")
    .option("--all", "follow every page");
}

/**
 * Reads a cursor-paged list: one page, or with --all every page by following
 * `Link: rel="next"`. Returns the rows and the cursor of the page after them,
 * which is also noted on stderr so a person can ask for it.
 */
export async function pages<T>(opts: PageOptions, page: (query: { limit?: number; cursor?: string }) => Promise<{ data: T[]; response: Response }>): Promise<T[]> {
  const rows: T[] = [];
  let cursor = opts.cursor;
  for (;;) {
    const { data, response } = await page({ limit: opts.limit, cursor });
    rows.push(...data);
    cursor = nextCursor(response);
    if (!cursor || !opts.all) break;
  }
  if (cursor) note(`More: add --cursor ${cursor} (or --all)`);
  return rows;
}

/** Prints an operation, following it first with --wait. */
export async function settle(session: Session, op: Operation, opts: OperationOptions): Promise<void> {
  if (!opts.wait) return reportStarted(op, Boolean(opts.json));
  reportFinished(await followOperation(session, op, opts.timeout), Boolean(opts.json));
}

/** commander parser for a whole number of at least 1. */
export function positiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError("expected a whole number of at least 1");
  return Number(value);
}

/** commander collector for an option given several times, each possibly a comma list: `--scope a,b --scope c`. */
export function list(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(",").map((v) => v.trim()).filter(Boolean)];
}

/**
 * Asks before a destructive change. On a terminal the person answers; elsewhere
 * (scripts, CI) nobody can, so `--yes` must say it up front.
 */
export async function confirm(question: string, yes: boolean | undefined): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY || !process.stderr.isTTY) {
    throw new CliError(EXIT.usage, "Not confirmed", [`Error: ${question} Not on a terminal: add --yes to confirm.`]);
  }
  const { read } = await import("read"); // loaded only when a prompt is shown
  const answer = await read({ prompt: `${question} [y/N] `, output: process.stderr });
  if (!/^y(es)?$/i.test(answer.trim())) throw new CliError(EXIT.usage, "Not confirmed", ["Cancelled."]);
}
