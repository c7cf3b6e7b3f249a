import { z } from "zod";
import type { Db } from "@/db/client";
import type { OutgoingEvent } from "../jobs/types";
import type { ComputeProvider } from "../compute/types";

/**
 * An operator command (`npm run admin -- <name> ...`), described once and run
 * either in the admin process against the database, or by the running server
 * on the admin's behalf (POST /api/operator/run, behind the operator token).
 *
 * Argument keys are the command line's option names (`"max-failures"`), so the
 * options, the JSON sent to the server and the validation all come from `args`.
 * A boolean field is a flag (`--json`-style); every other field takes a value
 * (`--plan pro`) and is coerced by its schema (`z.coerce.number()` for counts).
 */
export interface OperatorCommand<A extends z.ZodObject = z.ZodObject> {
  /** One or two words: `"create-key"`, `"versions add"`. */
  name: string;
  summary: string;
  /** The synopsis after the name, e.g. `--email <email> --plan <plan> [--json]`. */
  usage: string;
  /** Fields given by position after the name, in order (`versions add <tag>`). */
  positionals?: string[];
  args: A;
  /**
   * `"anywhere"`: the admin process may run it against the database itself.
   * `"server"`: it needs the server's own runtime (its in-process job runner or
   * simulated machines in embedded mode), so it always runs in the server.
   */
  where: "anywhere" | "server";
  /**
   * The change must reach running servers that remember verified keys: it
   * raises the account's auth version and publishes it to the rate limiter's
   * store (lib/keys/auth-version.ts). The admin process refuses to run it
   * against a database server unless it reaches the same store (Upstash) or
   * runs it in a server (`--server`).
   */
  tellsServers?: boolean;
  /**
   * Prints JSON whenever stdout is not a terminal, `--json` or not: its text is
   * for a person watching (a progress bar), its JSON for anything else.
   */
  jsonUnlessTty?: boolean;
  /**
   * Whether the command takes `--watch`: run again every second while this
   * says its last result is still changing (redrawn in place on a terminal).
   */
  watch?: (json: unknown) => boolean;
  run(deps: OperatorDeps, args: z.output<A>): Promise<CommandResult>;
}

/** What a command answers: a line or two for people, an object for `--json`. */
export interface CommandResult {
  text: string;
  json: unknown;
}

/**
 * What a command may use; the server builds it from the composition root
 * (inngest/runtime.ts), the admin process from its own database connection.
 */
export interface OperatorDeps {
  db: Db;
  /** Hands events to the job runtime (after the command's writes have committed). Only the server can: `where: "server"`. */
  send(events: OutgoingEvent[]): Promise<void>;
  now(): Date;
  /** The compute provider: in the server, the runtime's own (its simulated machines, in embedded mode). */
  compute(): ComputeProvider;
}

/** A usage mistake: bad or missing arguments, an unknown account. The admin exits 2 and the server answers 400. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export function defineCommand<A extends z.ZodObject>(def: OperatorCommand<A>): OperatorCommand<A> {
  return def;
}

/** Whether a field of a command's args is a flag (a boolean, possibly optional or defaulted). */
export function isFlag(schema: z.ZodType): boolean {
  let s: z.ZodType = schema;
  for (;;) {
    if (s instanceof z.ZodBoolean) return true;
    if (s instanceof z.ZodOptional || s instanceof z.ZodDefault || s instanceof z.ZodNullable) s = s.unwrap() as z.ZodType;
    else return false;
  }
}

/** Validates a command's arguments; a failure is a UsageError naming each option. */
export function parseCommandArgs<A extends z.ZodObject>(cmd: OperatorCommand<A>, raw: unknown): z.output<A> {
  const r = cmd.args.safeParse(raw);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => {
    const field = i.path.length ? String(i.path[0]) : "";
    const where = cmd.positionals?.includes(field) ? `<${field}>` : field ? `--${field}` : cmd.name;
    return i.code === "unrecognized_keys" ? `unknown option(s): ${i.keys.map((k) => `--${k}`).join(", ")}` : `${where}: ${i.message}`;
  });
  throw new UsageError(lines.join("\n"));
}
