import { InvalidArgumentError, type Command } from "commander";
import type { Query, Schemas } from "../api.js";
import { confirm, leaf, mutation, noteReplay, operation, paged, pages, type Common, type OperationOptions, type PageOptions } from "../command.js";
import { CliError, EXIT } from "../errors.js";
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
  ["version", (i) => i.version],
  ["url", (i) => i.url],
];

/** commander parser for `true` or `false`. */
function bool(value: string): boolean {
  if (value !== "true" && value !== "false") throw new InvalidArgumentError("expected true or false");
  return value === "true";
}

/** `moc instances ...`: one subcommand per endpoint of /instances; an instance is named by its id or subdomain. */
export function registerInstances(program: Command): void {
  const instances = program
    .command("instances")
    .alias("instance")
    .description("create, list, start, stop, restart, upgrade, update, back up, restore and delete instances");

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

  operation<OperationOptions & { subdomain: string; region?: string; name?: string; version?: string; autoUpgrade?: boolean }>(
    instances,
    "create",
    "create an instance (operation instance.create)",
    (s, _args, o, header) =>
      s.api.POST("/api/v1/instances", {
        params: { header },
        body: {
          subdomain: o.subdomain,
          fly_region: o.region as Schemas["CreateInstanceRequest"]["fly_region"],
          name: o.name,
          version: o.version,
          auto_upgrade: o.autoUpgrade,
        },
      }),
  )
    .requiredOption("--subdomain <subdomain>", "where it answers: <subdomain>.<the deployment's instance domain>")
    .option("--region <code>", "Fly.io region (see `moc regions`); default: the deployment's")
    .option("--name <name>", "a display name")
    .option("--version <version>", "the OpenClaw version (see `moc versions ls`); default: the default one")
    .option("--auto-upgrade <true|false>", "whether fleet rollouts may upgrade it (default true)", bool);

  operation<OperationOptions & { version?: string }>(
    instances,
    "upgrade <instance>",
    "move an instance to another OpenClaw version (operation instance.upgrade; rolled back if it does not come up healthy)",
    (s, [id], o, header) =>
      s.api.POST("/api/v1/instances/{id}/upgrade", { params: { path: { id: id! }, header }, body: { version: o.version } }),
  ).option("--version <version>", "a version from `moc versions ls`; default: the default one");

  mutation<Common & { name?: string; clearName?: boolean; autoUpgrade?: boolean; idempotencyKey?: string }>(
    instances,
    "update <instance>",
    "change an instance's name or auto_upgrade (PATCH)",
    async (s, [id], o, header) => {
      if (o.name !== undefined && o.clearName) throw new CliError(EXIT.usage, "Conflicting options", ["Error: give --name or --clear-name, not both."]);
      if (o.name === undefined && !o.clearName && o.autoUpgrade === undefined) {
        throw new CliError(EXIT.usage, "Nothing to change", ["Error: give --name, --clear-name or --auto-upgrade."]);
      }
      const name = o.clearName ? null : o.name;
      const { data, response } = await s.ok(
        s.api.PATCH("/api/v1/instances/{id}", { params: { path: { id: id! }, header }, body: { name, auto_upgrade: o.autoUpgrade } }),
      );
      noteReplay(response);
      if (o.json) return printJson(data);
      printFields(Object.entries(data));
    },
  )
    .option("--name <name>", "a new display name")
    .option("--clear-name", "remove the display name")
    .option("--auto-upgrade <true|false>", "whether fleet rollouts may upgrade it", bool);

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
