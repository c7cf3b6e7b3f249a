import type { Command } from "commander";
import type { Query, Schemas } from "../api.js";
import { confirm, leaf, operation, type Common, type OperationOptions } from "../command.js";
import { printFields, printJson, printTable, type Column } from "../output.js";

type Instance = Schemas["Instance"];

const COLUMNS: Column<Instance>[] = [
  ["id", (i) => i.id],
  ["subdomain", (i) => i.subdomain],
  ["status", (i) => i.status],
  ["region", (i) => i.fly_region],
  ["url", (i) => i.url],
];

/** `moc instances ...`: one subcommand per endpoint of /instances; an instance is named by its id or subdomain. */
export function registerInstances(program: Command): void {
  const instances = program.command("instances").alias("instance").description("create, list, start, stop, restart and delete instances");

  leaf<Common & { status?: string[] }>(instances, "ls", "list the account's instances", async (s, _args, o) => {
    const { data } = await s.ok(s.api.GET("/api/v1/instances", { params: { query: { status: o.status as Query<"/api/v1/instances">["status"] } } }));
    if (o.json) return printJson(data);
    printTable(data, COLUMNS, "No instances.");
  }).option("--status <status...>", "only instances in this status (running, stopped, failed, ...; several: any of them)");

  leaf(instances, "get <instance>", "show one instance", async (s, [id], o) => {
    const { data } = await s.ok(s.api.GET("/api/v1/instances/{id}", { params: { path: { id: id! } } }));
    if (o.json) return printJson(data);
    printFields(Object.entries(data));
  });

  operation<OperationOptions & { subdomain: string; region?: string; name?: string }>(
    instances,
    "create",
    "create an instance (operation instance.create)",
    (s, _args, o, header) =>
      s.api.POST("/api/v1/instances", {
        params: { header },
        body: { subdomain: o.subdomain, fly_region: o.region as Schemas["CreateInstanceRequest"]["fly_region"], name: o.name },
      }),
  )
    .requiredOption("--subdomain <subdomain>", "where it answers: <subdomain>.<the deployment's instance domain>")
    .option("--region <code>", "Fly.io region (see `moc regions`); default: the deployment's")
    .option("--name <name>", "a display name");

  for (const [action, what] of [
    ["start", "start a stopped instance"],
    ["stop", "stop a running instance"],
    ["restart", "restart an instance (stop, then start)"],
  ] as const) {
    operation(instances, `${action} <instance>`, `${what} (operation instance.${action})`, (s, [id], _o, header) =>
      s.api.POST(`/api/v1/instances/{id}/${action}`, { params: { path: { id: id! }, header } }),
    );
  }

  operation<OperationOptions & { yes?: boolean }>(
    instances,
    "delete <instance>",
    "delete an instance, its machine and its data (operation instance.delete)",
    async (s, [id], o, header) => {
      await confirm(`Delete instance ${id} and everything it stores?`, o.yes);
      return s.api.DELETE("/api/v1/instances/{id}", { params: { path: { id: id! }, header } });
    },
  )
    .alias("rm")
    .option("-y, --yes", "do not ask for confirmation (needed when not on a terminal)");
}
