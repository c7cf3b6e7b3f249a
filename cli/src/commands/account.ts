import type { Command } from "commander";
import { leaf } from "../command.js";
import { printFields, printJson, printTable } from "../output.js";

/** `moc account` and `moc regions`. */
export function registerAccount(program: Command): void {
  leaf(program, "account", "show the account: plan, limits and usage", async (s, _args, o) => {
    const { data } = await s.ok(s.api.GET("/api/v1/account"));
    if (o.json) return printJson(data);
    const rate = data.limits.requests_per_minute;
    printFields([
      ["id", data.id],
      ["email", data.email],
      ["plan", data.plan],
      ["instances", `${data.usage.instances} of ${data.limits.instances}`],
      ["per key / minute", `${rate.read} reads, ${rate.write} writes, ${rate.heavy} operations`],
      ["per account / minute", rate.account],
    ]);
  });

  leaf(program, "regions", "list the regions an instance can be created in (needs no key)", async (s, _args, o) => {
    const { data } = await s.ok(s.publicApi.GET("/api/v1/regions"));
    if (o.json) return printJson(data);
    printTable(data, [["code", (r) => r.code], ["name", (r) => r.name]], "No regions.");
  });
}
