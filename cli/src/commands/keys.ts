import type { Command } from "commander";
import type { Schemas } from "../api.js";
import { leaf, list, mutation, noteReplay, paged, pages, type Common, type PageOptions } from "../command.js";
import { printFields, printJson, printLine, printTable, type Column } from "../output.js";

const COLUMNS: Column<Schemas["ApiKey"]>[] = [
  ["id", (k) => k.id],
  ["name", (k) => k.name],
  ["prefix", (k) => k.prefix],
  ["expires", (k) => k.expires_at],
  ["last used", (k) => k.last_used_at],
  ["scopes", (k) => k.scopes],
];

/** `moc keys ...`: the account's API keys. A new key's token is shown once, when it is created. */
export function registerKeys(program: Command): void {
  const keys = program.command("keys").alias("key").description("list, create and revoke API keys");

  paged(
    leaf<Common & PageOptions>(keys, "ls", "list the account's API keys (never their tokens)", async (s, _args, o) => {
      const rows = await pages(o, (page) => s.ok(s.api.GET("/api/v1/keys", { params: { query: page } })));
      if (o.json) return printJson(rows);
      printTable(rows, COLUMNS, "No API keys.");
    }),
  );

  mutation<Common & { name: string; scope: string[]; expiresAt?: string; idempotencyKey?: string }>(
    keys,
    "create",
    "create an API key; its token is printed this once",
    async (s, _args, o, header) => {
      const body: Schemas["CreateKeyRequest"] = { name: o.name, scopes: o.scope as Schemas["CreateKeyRequest"]["scopes"], expires_at: o.expiresAt };
      const { data, response } = await s.ok(s.api.POST("/api/v1/keys", { params: { header }, body }));
      noteReplay(response);
      if (o.json) return printJson(data);
      printFields([["id", data.id], ["name", data.name], ["scopes", data.scopes], ["expires_at", data.expires_at]]);
      printLine();
      printLine("Token (shown this once; store it now):");
      printLine(data.token);
    },
  )
    .requiredOption("--name <name>", "a label to tell keys apart")
    .requiredOption("--scope <scopes>", "scopes, comma-separated or repeated (or read, write, all); never more than this key holds", list)
    .option("--expires-at <time>", "when it stops working, RFC 3339 (e.g. 2027-01-01T00:00:00Z); default: never");

  mutation(keys, "revoke <key>", "revoke an API key (by its id, key_...): it stops working at once", async (s, [id], o, header) => {
    await s.ok(s.api.DELETE("/api/v1/keys/{id}", { params: { path: { id: id! }, header } }));
    // 204: the API answers no body; --json prints what was done, so scripts still get an object.
    if (o.json) return printJson({ id, revoked: true });
    printLine(`Revoked ${id}.`);
  });
}
