import type { Command } from "commander";
import type { Query, Schemas } from "../api.js";
import { leaf, list, mutation, noteReplay, paged, pages, type Common, type PageOptions } from "../command.js";
import { printFields, printJson, printLine, printTable, type Column } from "../output.js";

const ENDPOINT_COLUMNS: Column<Schemas["WebhookEndpoint"]>[] = [
  ["id", (w) => w.id],
  ["url", (w) => w.url],
  ["events", (w) => w.events],
  ["enabled", (w) => (w.enabled ? "yes" : `no${w.disabled_reason ? ` (${w.disabled_reason})` : ""}`)],
  ["description", (w) => w.description],
];

const DELIVERY_COLUMNS: Column<Schemas["WebhookDelivery"]>[] = [
  ["id", (d) => d.id],
  ["event", (d) => d.event_type],
  ["message", (d) => d.message_id],
  ["status", (d) => d.status],
  ["attempts", (d) => d.attempts.length],
  ["last answer", (d) => {
    const last = d.attempts.at(-1);
    return last ? (last.response_status ?? last.error) : null;
  }],
  ["next attempt", (d) => d.next_attempt_at],
];

/** `moc webhooks ...`: endpoints that receive operation events (Standard Webhooks), and their deliveries. */
export function registerWebhooks(program: Command): void {
  const webhooks = program.command("webhooks").alias("webhook").description("list and create webhook endpoints, their deliveries and secrets");

  leaf(webhooks, "ls", "list the account's webhook endpoints", async (s, _args, o) => {
    const { data } = await s.ok(s.api.GET("/api/v1/webhooks"));
    if (o.json) return printJson(data);
    printTable(data, ENDPOINT_COLUMNS, "No webhook endpoints.");
  });

  mutation<Common & { url: string; event: string[]; description?: string; idempotencyKey?: string }>(
    webhooks,
    "create",
    "register an endpoint; its signing secret is printed this once",
    async (s, _args, o, header) => {
      type Body = Schemas["CreateWebhookEndpointRequest"];
      const body: Body = { url: o.url, events: o.event as Body["events"], description: o.description };
      const { data, response } = await s.ok(s.api.POST("/api/v1/webhooks", { params: { header }, body }));
      noteReplay(response);
      if (o.json) return printJson(data);
      printFields([["id", data.id], ["url", data.url], ["events", data.events]]);
      printLine();
      printLine("Signing secret (shown this once; store it now):");
      printLine(data.secret);
    },
  )
    .requiredOption("--url <url>", "where deliveries are POSTed (https)")
    .requiredOption("--event <events>", "event types, comma-separated or repeated (operation.succeeded, operation.failed)", list)
    .option("--description <text>", "a note for people");

  paged(
    leaf<Common & PageOptions & { status?: string[] }>(webhooks, "deliveries <endpoint>", "list an endpoint's deliveries and their attempts, newest first", async (s, [id], o) => {
      const status = o.status as Query<"/api/v1/webhooks/{id}/deliveries">["status"];
      const rows = await pages(o, (page) => s.ok(s.api.GET("/api/v1/webhooks/{id}/deliveries", { params: { path: { id: id! }, query: { status, ...page } } })));
      if (o.json) return printJson(rows);
      printTable(rows, DELIVERY_COLUMNS, "No deliveries.");
    }).option("--status <status...>", "pending, succeeded or failed (several: any of them)"),
  );

  mutation(webhooks, "rotate-secret <endpoint>", "make a new signing secret (the old one signs alongside it for 24 h)", async (s, [id], o, header) => {
    const { data, response } = await s.ok(s.api.POST("/api/v1/webhooks/{id}/rotate-secret", { params: { path: { id: id! }, header } }));
    noteReplay(response);
    if (o.json) return printJson(data);
    printLine("New signing secret (shown this once; store it now):");
    printLine(data.secret);
  });
}
