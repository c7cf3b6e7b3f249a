import type { Command } from "commander";
import { leaf } from "../command.js";
import { printJson, printTable } from "../output.js";

/** `moc versions ls`: the OpenClaw versions the platform offers. */
export function registerVersions(program: Command): void {
  const versions = program.command("versions").alias("version").description("the OpenClaw versions on offer");
  leaf(versions, "ls", "list the OpenClaw versions on offer, newest first", async (s, _args, o) => {
    const { data } = await s.ok(s.api.GET("/api/v1/versions"));
    if (o.json) return printJson(data);
    printTable(
      data,
      [
        ["version", (v) => v.version],
        ["released", (v) => v.released_at.slice(0, 10)],
        ["status", (v) => [v.default ? "default" : "", v.deprecated ? "deprecated" : ""].filter(Boolean).join(", ")],
        ["image", (v) => v.image],
      ],
      "No versions.",
    );
  });
}
