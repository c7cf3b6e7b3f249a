import fs from "node:fs";
import type { Command } from "commander";
import { Session } from "../api.js";
import { leaf } from "../command.js";
import { credentialsFile, loadCredentials, normalizeBaseUrl, removeCredentials, storeCredentials } from "../credentials.js";
import { CliError, EXIT } from "../errors.js";
import { note, printJson, printLine } from "../output.js";

/**
 * The key, from a prompt that does not echo it (on a terminal) or from stdin
 * (`moc login < key.txt`, `printenv KEY | moc login`); never from the command
 * line, where the shell history and `ps` would keep it.
 */
async function readKey(): Promise<string> {
  let key: string;
  if (process.stdin.isTTY) {
    const { read } = await import("read");
    key = await read({ prompt: "API key: ", silent: true, replace: "", output: process.stderr });
    process.stderr.write("\n"); // the Enter that was not echoed
  } else {
    key = fs.readFileSync(0, "utf8").split(/\r?\n/).find((line) => line.trim() !== "") ?? "";
  }
  if (!key.trim()) throw new CliError(EXIT.usage, "No key given", ["Error: no API key given (type it at the prompt, or pipe it on stdin)."]);
  return key.trim();
}

/** `moc login` and `moc logout`: a key kept in the user's config folder, readable by them alone. */
export function registerLogin(program: Command): void {
  leaf<{ json?: boolean; baseUrl?: string }>(
    program,
    "login",
    "check an API key against the API and store it for later commands (read from a prompt or stdin)",
    async (_s, _args, o) => {
      const current = loadCredentials({ ...process.env, MOC_API_KEY: undefined });
      const baseUrl = normalizeBaseUrl(o.baseUrl ?? current.baseUrl);
      const apiKey = await readKey();
      // Checked first, so a mistyped key or a wrong base URL is never stored.
      const session = new Session({ baseUrl, apiKey, source: { baseUrl: "login", apiKey: "login" } });
      const { data: account } = await session.ok(session.api.GET("/api/v1/account"));
      const file = storeCredentials(baseUrl, apiKey);
      if (o.json) printJson({ base_url: baseUrl, account_id: account.id, email: account.email, plan: account.plan, file });
      else printLine(`Logged in to ${baseUrl} as ${account.email} (${account.plan}). The key is stored in ${file} (mode 0600).`);
      if (process.env.MOC_API_KEY) note("Note: MOC_API_KEY is set, and wins over the stored key while it is.");
      const url = new URL(baseUrl);
      if (url.protocol === "http:" && !["localhost", "127.0.0.1", "[::1]"].includes(url.hostname)) {
        note(`Warning: ${baseUrl} is plain http: the key travels unencrypted.`);
      }
    },
  ).option("--base-url <url>", "the deployment's origin (default: MOC_BASE_URL, the stored one, or http://localhost:3000)");

  leaf(program, "logout", "forget the stored API key", async (_s, _args, o) => {
    const file = credentialsFile();
    const removed = removeCredentials();
    if (o.json) return printJson({ file, removed });
    printLine(removed ? `Removed ${file}.` : `No stored key (${file}).`);
  });
}
