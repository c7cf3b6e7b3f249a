/**
 * Operator commands (`npm run admin -- <command> ...`; `npm run admin -- help`
 * lists them). The commands are defined once in lib/operator/commands.ts.
 *
 * Where a command runs:
 * - with `--server <url>` (or MOC_OPERATOR_URL), in that server, authenticated
 *   with MOC_OPERATOR_TOKEN;
 * - else, when an embedded server of this DATA_DIR is running (it holds the
 *   embedded database, which allows one process), in that server, found
 *   through DATA_DIR/server.json and DATA_DIR/operator-token;
 * - else, here, against the configured database (the embedded one under
 *   DATA_DIR, or DATABASE_URL), unless the command needs a running server.
 *
 * Output: the command's text, or its JSON with --json (and always when stdout is
 * not a terminal, for commands whose text is a progress bar). `--watch`, for the
 * commands that take it, runs the command again every second until it settles.
 *
 * Exit codes: 0 done, 1 failed, 2 usage error.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { closeDatabase, database, DatabaseLockedError } from "@/db/client";
import { createComputeProvider } from "@/lib/compute";
import type { ComputeProvider } from "@/lib/compute/types";
import { config, ConfigError } from "@/lib/config";
import { isFlag, parseCommandArgs, UsageError, type OperatorCommand } from "@/lib/operator/command";
import { findCommand, OPERATOR_COMMANDS } from "@/lib/operator/commands";
import { findEmbeddedServer } from "@/lib/operator/access";

function usage(): string {
  const width = Math.max(...OPERATOR_COMMANDS.map((c) => c.name.length));
  return [
    "Usage: npm run admin -- <command> [options] [--json] [--server <url>]",
    "",
    ...OPERATOR_COMMANDS.flatMap((c) => [`  ${c.name.padEnd(width)}  ${c.summary}`, `  ${"".padEnd(width)}    ${c.name} ${c.usage}`]),
  ].join("\n");
}

const WATCH_INTERVAL_MS = 1000;
/** Options of the admin command itself, never a command's arguments. */
const OWN_OPTIONS = ["json", "server", "watch"];

/** argv after the command's name -> the command's raw arguments, by its own schema's field names. */
function readArgs(cmd: OperatorCommand, argv: string[]): { args: Record<string, unknown>; json: boolean; watch: boolean; server?: string } {
  const options: Record<string, { type: "string" | "boolean" }> = { json: { type: "boolean" }, server: { type: "string" } };
  if (cmd.watch) options.watch = { type: "boolean" };
  for (const [name, schema] of Object.entries(cmd.args.shape)) {
    if (!cmd.positionals?.includes(name)) options[name] = { type: isFlag(schema as never) ? "boolean" : "string" };
  }
  const { values, positionals } = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  const names = cmd.positionals ?? [];
  if (positionals.length > names.length) throw new UsageError(`Unexpected argument ${positionals[names.length]}`);
  const args: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(values)) if (!OWN_OPTIONS.includes(k)) args[k] = v;
  names.forEach((n, i) => {
    if (positionals[i] !== undefined) args[n] = positionals[i];
  });
  return { args, json: values.json === true, watch: values.watch === true, server: values.server as string | undefined };
}

async function runRemotely(url: string, token: string, command: string, args: Record<string, unknown>) {
  let res: Response;
  try {
    res = await fetch(new URL("/api/operator/run", url), {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ command, args }),
      signal: AbortSignal.timeout(120_000),
    });
  } catch (err) {
    throw new Error(`Could not reach the server at ${url}: ${(err as Error).message}`);
  }
  const body = (await res.json().catch(() => null)) as { text?: string; json?: unknown; detail?: string; code?: string } | null;
  if (res.ok && body) return { text: body.text ?? "", json: body.json };
  if (res.status === 400 && body?.code === "validation_error") throw new UsageError(body.detail ?? "Invalid arguments");
  throw new Error(`The server at ${url} answered ${res.status}: ${body?.detail ?? "no details"}`);
}

async function main(argv: string[]): Promise<number> {
  if (argv.length === 0) throw new UsageError("No command given");
  if (["help", "--help", "-h"].includes(argv[0]!)) {
    console.log(usage());
    return 0;
  }
  const found = findCommand(argv);
  if (!found) throw new UsageError(`Unknown command ${argv.slice(0, 2).join(" ")}`);
  const { command } = found;
  const { args, json, watch, server } = readArgs(command, argv.slice(found.used));
  const asJson = json || (command.jsonUnlessTty === true && !process.stdout.isTTY);
  const once = await runner(command, args, server);
  if (!watch) {
    const r = await once();
    console.log(asJson ? JSON.stringify(r.json) : r.text);
    return 0;
  }
  await follow(once, command.watch!, asJson);
  return 0;
}

type Result = { text: string; json: unknown };

/** How the command runs: in the server named by --server, in the embedded server of DATA_DIR, or here. */
async function runner(command: OperatorCommand, args: Record<string, unknown>, server: string | undefined): Promise<() => Promise<Result>> {
  const explicit = server ?? process.env.MOC_OPERATOR_URL;
  if (explicit) {
    const token = process.env.MOC_OPERATOR_TOKEN;
    if (!token) throw new UsageError("MOC_OPERATOR_TOKEN: set it to the server's operator token (OPERATOR_TOKEN) to use --server");
    return () => runRemotely(explicit, token, command.name, args);
  }
  const cfg = config();
  const embedded = cfg.database.kind === "pglite" ? findEmbeddedServer(cfg.dataDir) : null;
  if (embedded) return () => runRemotely(embedded.url, embedded.token, command.name, args);
  if (command.where === "server") {
    throw new UsageError(
      `${command.name} runs in the server: start it (npm run dev), or give --server <url> with MOC_OPERATOR_TOKEN.`,
    );
  }
  if (command.tellsServers && cfg.database.kind !== "pglite" && cfg.rateLimit.kind === "memory" && process.env.ADMIN_WITHOUT_RATE_LIMIT_STORE !== "1") {
    // Servers that remember verified keys learn of this change through the rate limiter's store (lib/keys/auth-version.ts);
    // published into this process's own memory, it would reach them only when their cache entries expire.
    throw new UsageError(
      `${command.name} must reach the running servers through their rate-limit store: set UPSTASH_REDIS_REST_URL and ` +
        "UPSTASH_REDIS_REST_TOKEN as the servers have them, or run it in a server with --server <url> and MOC_OPERATOR_TOKEN. " +
        "If the servers use no Upstash (they then remember no keys), set ADMIN_WITHOUT_RATE_LIMIT_STORE=1.",
    );
  }
  const parsed = parseCommandArgs(command, args);
  const db = (await database()).db;
  let compute: ComputeProvider | undefined;
  const deps = {
    db,
    now: () => new Date(),
    compute: () => (compute ??= createComputeProvider(cfg)),
    // Only `where: "server"` commands send, and those never run here.
    send: async () => {
      throw new Error(`${command.name} cannot hand work to the job runtime from the admin process.`);
    },
  };
  return () => command.run(deps, parsed);
}

/**
 * --watch: runs the command every second until `going` says its result has
 * settled. On a terminal its text is redrawn in place; otherwise each changed
 * result is printed on its own line (JSON lines with --json or in a pipe).
 */
async function follow(once: () => Promise<Result>, going: (json: unknown) => boolean, asJson: boolean): Promise<void> {
  const redraw = process.stdout.isTTY && !asJson;
  let last = "";
  let drawn = 0;
  for (;;) {
    const r = await once();
    const out = asJson ? JSON.stringify(r.json) : r.text;
    if (redraw) {
      // Back to the first line drawn last time, and clear from there down.
      if (drawn > 0) process.stdout.write(`\x1b[${drawn}F\x1b[J`);
      process.stdout.write(`${out}\n`);
      drawn = out.split("\n").length;
    } else if (out !== last) {
      console.log(out);
    }
    last = out;
    if (!going(r.json)) return;
    await sleep(WATCH_INTERVAL_MS);
  }
}

main(process.argv.slice(2))
  .then(async (code) => {
    await closeDatabase();
    process.exit(code);
  })
  .catch(async (err: unknown) => {
    await closeDatabase().catch(() => undefined);
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      console.error(`${(err as Error).message}\n\n${usage()}`);
      process.exit(2);
    }
    if (err instanceof DatabaseLockedError || err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    console.error(`admin: ${(err as Error).message ?? err}`);
    process.exit(1);
  });
