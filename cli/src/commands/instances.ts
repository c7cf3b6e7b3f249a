import type { Command } from "commander";
import type { Query, Schemas } from "../api.js";
import { confirm, leaf, operation, paged, pages, type Common, type OperationOptions, type PageOptions } from "../command.js";
import { printFields, printJson, printTable, type Column } from "../output.js";

type Instance = Schemas["Instance"];

const BACKUP_COLUMNS: Column<Schemas["Backup"]>[] = [
  ["id", (b) => b.id],
  ["kind", (b) => b.kind],
  ["status", (b) => b.status],
  ["size", (b) => b.size_bytes],
  ["taken", (b) => b.created_at],
  ["expires", (b) => b.expires_at],
];

const COLUMNS: Column<Instance>[] = [
  ["id", (i) => i.id],
  ["subdomain", (i) => i.subdomain],
  ["status", (i) => i.status],
  ["region", (i) => i.fly_region],
  ["url", (i) => i.url],
];

/** `moc instances ...`: one subcommand per endpoint of /instances; an instance is named by its id or subdomain. */
export function registerInstances(program: Command): void {
  const instances = program
    .command("instances")
    .alias("instance")
    .description("create, list, start, stop, restart, back up, restore and delete instances");

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

  // Backups: snapshots of the instance's volume (memory, sessions, channel credentials).
  operation(instances, "backup <instance>", "take a backup of the instance's volume now (operation instance.backup)", (s, [id], _o, header) =>
    s.api.POST("/api/v1/instances/{id}/backups", { params: { path: { id: id! }, header } }),
  );

  paged(
    leaf<Common & PageOptions>(instances, "backups <instance>", "list the instance's backups, newest first (daily and on-demand)", async (s, [id], o) => {
      const rows = await pages(o, (page) => s.ok(s.api.GET("/api/v1/instances/{id}/backups", { params: { path: { id: id! }, query: page } })));
      if (o.json) return printJson(rows);
      printTable(rows, BACKUP_COLUMNS, "No backups yet.");
    }),
  );

  operation<OperationOptions & { backup: string; yes?: boolean }>(
    instances,
    "restore <instance>",
    "replace the instance's data with a backup's (operation instance.restore); changes since the backup are lost",
    async (s, [id], o, header) => {
      await confirm(`Replace everything instance ${id} stores with backup ${o.backup}? Changes since that backup are lost.`, o.yes);
      return s.api.POST("/api/v1/instances/{id}/restore", { params: { path: { id: id! }, header }, body: { backup_id: o.backup } });
    },
  )
    .requiredOption("--backup <backup>", "the backup to restore (bkp_..., from `moc instances backups`)")
    .option("-y, --yes", "do not ask for confirmation (needed when not on a terminal)");
}
