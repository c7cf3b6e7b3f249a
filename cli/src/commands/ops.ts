import type { Command } from "commander";
import type { Operation, Query } from "../api.js";
import { DEFAULT_WAIT_SECONDS, leaf, paged, pages, positiveInt, settle, type Common, type PageOptions } from "../command.js";
import { printFields, printJson, printTable, type Column } from "../output.js";

const COLUMNS: Column<Operation>[] = [
  ["id", (o) => o.id],
  ["type", (o) => o.type],
  ["status", (o) => o.status],
  ["instance", (o) => o.instance_id],
  ["created", (o) => o.created_at],
  ["error", (o) => (o.error ? `${o.error.code}: ${o.error.message}` : "")],
];

type Q = Query<"/api/v1/operations">;

/** `moc ops ...`: the asynchronous operations that instance changes start. */
export function registerOperations(program: Command): void {
  const ops = program.command("ops").alias("operations").description("list, show and wait for operations");

  paged(
    leaf<Common & PageOptions & { instance?: string[]; status?: string[]; type?: string[] }>(ops, "ls", "list operations, newest first", async (s, _args, o) => {
      const filter: Q = { instance_id: o.instance, status: o.status as Q["status"], type: o.type as Q["type"] };
      const rows = await pages(o, (page) => s.ok(s.api.GET("/api/v1/operations", { params: { query: { ...filter, ...page } } })));
      if (o.json) return printJson(rows);
      printTable(rows, COLUMNS, "No operations.");
    })
      .option("--instance <instance...>", "only these instances' (an id or subdomain; several: any of them)")
      .option("--status <status...>", "pending, running, succeeded or failed (several: any of them)")
      .option("--type <type...>", "e.g. instance.restart (several: any of them)"),
  );

  leaf(ops, "get <operation>", "show one operation", async (s, [id], o) => {
    const { data } = await s.ok(s.api.GET("/api/v1/operations/{id}", { params: { path: { id: id! } } }));
    if (o.json) return printJson(data);
    printFields(Object.entries(data));
  });

  leaf<Common & { timeout: number }>(ops, "wait <operation>", "follow an operation until it succeeds (exit 0) or fails (exit 1)", async (s, [id], o) => {
    const { data } = await s.ok(s.api.GET("/api/v1/operations/{id}", { params: { path: { id: id! } } }));
    await settle(s, data, { ...o, wait: true });
  }).option("--timeout <seconds>", "give up after this long (exit 8)", positiveInt, DEFAULT_WAIT_SECONDS);
}
