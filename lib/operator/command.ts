import { z } from "zod";
import type { Db } from "@/db/client";
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
  run(deps: OperatorDeps, args: z.output<A>): Promise<CommandResult>;
}

/** What a command answers: a line or two for people, an object for `--json`. */
export interface CommandResult {
  text: string;
  json: unknown;
}

/** What a command may use; the server and the admin process each build it. */
export interface OperatorDeps {
  db: Db;
  /** The compute provider of the process running the command (the server's, with its simulated machines, in embedded mode). */
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
