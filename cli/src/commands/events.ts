import type { Command } from "commander";
import { Session, type Query, type Schemas } from "../api.js";
import { leaf, paged, pages, type Common, type PageOptions } from "../command.js";
import { loadCredentials } from "../credentials.js";
import { printJson, printTable, type Column } from "../output.js";

type Event = Schemas["Event"];

/** One line on what an event says, by its type. */
function summary(e: Event): string {
  switch (e.type) {
    case "instance.status_changed":
      return `${e.data.from} -> ${e.data.to} (${e.data.cause === "operation" ? `operation ${e.data.operation_id}` : "observed"})`;
    case "instance.health_changed":
      return `${e.data.from} -> ${e.data.to}${e.data.detail ? `: ${e.data.detail}` : ""}`;
    default:
      return `${e.data.type} ${e.data.id}${e.data.error ? `: ${e.data.error.code}` : ""}`;
  }
}

const COLUMNS: Column<Event>[] = [
  ["id", (e) => e.id],
  ["time", (e) => e.timestamp],
  ["type", (e) => e.type],
  ["instance", (e) => e.data.instance_id],
  ["what", summary],
];

type Q = Query<"/api/v1/events">;

/** `moc events ls`: the account's events of the last 30 days, as its webhook endpoints receive them. */
export function registerEvents(program: Command): void {
  const events = program.command("events").alias("event").description("the account's events of the last 30 days (what webhooks deliver)");

  paged(
    leaf<Common & PageOptions & { type?: string[]; instance?: string[] }>(events, "ls", "list events, newest first", async (s, _args, o) => {
      const filter: Q = { type: o.type as Q["type"], instance_id: o.instance };
      const rows = await pages(o, (page) => s.ok(s.api.GET("/api/v1/events", { params: { query: { ...filter, ...page } } })));
      if (o.json) return printJson(rows);
      printTable(rows, COLUMNS, "No events.");
    })
      .option("--type <type...>", "only this type, e.g. instance.status_changed (several: any of them)")
      .option("--instance <instance...>", "only this instance's, its id or subdomain (several: any of them)"),
  );
}

/** `moc metrics`: the Prometheus text GET /metrics answers, as it is (for a quick look, or `| grep moc_instance_up`). */
export function registerMetrics(program: Command): void {
  program
    .command("metrics")
    .description("print the account's metrics in the Prometheus text format")
    .action(async () => {
      const s = new Session(() => loadCredentials());
      const { data } = await s.ok(s.api.GET("/api/v1/metrics", { parseAs: "text" }));
      process.stdout.write(data);
    });
}
