import fs from "node:fs";
import { Argument, type Command } from "commander";
import type { Schemas, Session } from "../api.js";
import { leaf, operation, type IdempotencyHeader, type OperationOptions } from "../command.js";
import { CliError, EXIT } from "../errors.js";
import { printJson } from "../output.js";

const DOCUMENTS = ["provider", "integrations", "agents"] as const;
type DocumentName = (typeof DOCUMENTS)[number];

const documentArgument = () =>
  new Argument("<document>", "provider (model and its API key), integrations (chat channels) or agents").choices(DOCUMENTS);

/**
 * The document to PUT: a file, or stdin with `--file -` or when stdin is a
 * pipe. It is sent as written; the API validates it and says what is wrong.
 */
function readDocument(file: string | undefined): unknown {
  const fromStdin = file === "-" || (file === undefined && !process.stdin.isTTY);
  if (!fromStdin && file === undefined) {
    throw new CliError(EXIT.usage, "No document", ["Error: give the document with --file <path>, or pipe it on stdin (--file -)."]);
  }
  let text: string;
  try {
    text = fs.readFileSync(fromStdin ? 0 : file!, "utf8");
  } catch (err) {
    throw new CliError(EXIT.usage, `Cannot read ${file}`, [`Error: cannot read ${fromStdin ? "stdin" : file}: ${(err as Error).message}`]);
  }
  if (!text.trim()) {
    throw new CliError(EXIT.usage, "Empty document", [`Error: ${fromStdin ? "stdin" : file} is empty: give the document with --file <path>, or pipe it on stdin.`]);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CliError(EXIT.usage, "Not JSON", [`Error: the document in ${fromStdin ? "stdin" : file} is not JSON: ${(err as Error).message}`]);
  }
}

/** The typed PUT for each document; the bodies are the API's request schemas. */
function put(s: Session, name: DocumentName, id: string, document: unknown, header: IdempotencyHeader) {
  const params = { path: { id }, header };
  switch (name) {
    case "provider":
      return s.api.PUT("/api/v1/instances/{id}/provider", { params, body: document as Schemas["ProviderConfigRequest"] });
    case "integrations":
      return s.api.PUT("/api/v1/instances/{id}/integrations", { params, body: document as Schemas["IntegrationsConfigRequest"] });
    case "agents":
      return s.api.PUT("/api/v1/instances/{id}/agents", { params, body: document as Schemas["AgentsConfigRequest"] });
  }
}

/** `moc config get|set <document> <instance>`: an instance's configuration documents, replaced whole by `set`. */
export function registerConfig(program: Command): void {
  const config = program.command("config").description("read and replace an instance's provider, integrations and agents documents");

  leaf(config, "get", "print a configuration document (secrets show only whether they are set and their last 4 characters)", async (s, [name, id], _o) => {
    const { data } = await s.ok(s.api.GET(`/api/v1/instances/{id}/${name as DocumentName}`, { params: { path: { id: id! } } }));
    printJson(data); // a nested document reads best as JSON, with or without --json
  })
    .addArgument(documentArgument())
    .argument("<instance>", "the instance's id or subdomain");

  operation<OperationOptions & { file?: string }>(
    config,
    "set",
    "replace a configuration document and apply it to the machine (operation instance.configure)",
    (s, [name, id], o, header) => put(s, name as DocumentName, id!, readDocument(o.file), header),
  )
    .addArgument(documentArgument())
    .argument("<instance>", "the instance's id or subdomain")
    .option("-f, --file <path>", "the JSON document ('-' or a pipe: stdin)");
}
