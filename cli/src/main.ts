/**
 * moc: the command line of the MyOpenClaw Developer API (started by bin/moc.js). Every command talks to
 * the API through the client typed from its OpenAPI document (src/api.ts);
 * errors end here, printed once to stderr with their documented exit code.
 */
import { Command, CommanderError } from "commander";
import { registerAccount } from "./commands/account.js";
import { registerConfig } from "./commands/config.js";
import { registerEvents, registerMetrics } from "./commands/events.js";
import { registerInstances } from "./commands/instances.js";
import { registerKeys } from "./commands/keys.js";
import { registerLogin } from "./commands/login.js";
import { registerOperations } from "./commands/ops.js";
import { registerVersions } from "./commands/versions.js";
import { registerWebhooks } from "./commands/webhooks.js";
import { CliError, EXIT } from "./errors.js";
import { VERSION } from "./version.js";

const HELP_AFTER = `
Credentials: MOC_API_KEY and MOC_BASE_URL (the deployment's origin, e.g.
http://localhost:3000), or \`moc login\`, which stores them in
$XDG_CONFIG_HOME/moc/credentials.json (~/.config/moc/...) with mode 0600.

Exit codes: ${EXIT.ok} ok, ${EXIT.failed} operation failed, ${EXIT.usage} usage or invalid input, ${EXIT.auth} auth, ${EXIT.notFound} not found,
${EXIT.conflict} conflict, ${EXIT.rateLimited} rate limited, ${EXIT.server} server or network, ${EXIT.timeout} --wait timed out.

Examples:
  moc instances create --subdomain my-assistant --region dfw --wait
  moc instances ls --json | jq '.[] | {subdomain, status, fly_region}'
  moc instances restart my-assistant --wait --idempotency-key "$(git rev-parse HEAD)"
  moc config set agents my-assistant --file agents.json --wait
  moc events ls --type instance.status_changed --instance my-assistant
  moc metrics | grep moc_instance_up`;

export function createProgram(): Command {
  const program = new Command("moc")
    .description("Manage MyOpenClaw instances from a terminal or a CI pipeline.")
    .version(VERSION, "-V, --version")
    // moc's own -V/--version only before a command, so `moc instances upgrade x --version 2026.12.1` reaches the command.
    .enablePositionalOptions()
    .exitOverride()
    .showHelpAfterError("(add --help for usage)")
    .addHelpText("after", HELP_AFTER);
  registerInstances(program);
  registerOperations(program);
  registerConfig(program);
  registerKeys(program);
  registerWebhooks(program);
  registerEvents(program);
  registerMetrics(program);
  registerAccount(program);
  registerVersions(program);
  registerLogin(program);
  return program;
}

async function main(argv: string[]): Promise<void> {
  try {
    await createProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander has printed the help or the usage error already
      process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    } else if (err instanceof CliError) {
      process.stderr.write((err.lines.length ? err.lines : [`Error: ${err.message}`]).join("\n") + "\n");
      process.exitCode = err.exitCode;
    } else {
      process.stderr.write(`Error: ${(err as Error)?.message ?? String(err)}\n`);
      if (process.env.MOC_DEBUG) process.stderr.write(`${(err as Error)?.stack ?? ""}\n`);
      process.exitCode = EXIT.failed;
    }
  }
}

// A reader that stopped reading (`moc instances ls | head -1`) is not an error.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(EXIT.ok);
  throw err;
});

await main(process.argv);
