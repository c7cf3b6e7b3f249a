import { z } from "zod";
import { defaultImageFor, imageRefProblem, versionTagProblem } from "../openclaw/versions";
import { addVersion, deprecateVersion, listVersions, toVersionResource, versionUsage } from "../services/versions";
import { defineCommand, UsageError } from "./command";

/**
 * `versions add|deprecate|ls`: the OpenClaw versions the platform offers
 * (GET /api/v1/versions). They only touch the database, so they run anywhere.
 */

/** A zod check from a `...Problem(value)` function that answers why a value is wrong, or null. */
const checkedBy = (problem: (v: string) => string | null) =>
  z.string().superRefine((v, ctx) => {
    const p = problem(v);
    if (p) ctx.addIssue({ code: "custom", message: p });
  });

const tag = checkedBy(versionTagProblem);

/** A date or date-time, e.g. 2026-12-01 or 2026-12-01T09:00:00Z. */
const releasedAt = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/, "a date, e.g. 2026-12-01 or 2026-12-01T09:00:00Z")
  .transform((v, ctx) => {
    const d = new Date(/T| /.test(v) ? v : `${v}T00:00:00Z`);
    if (Number.isNaN(d.getTime())) {
      ctx.addIssue({ code: "custom", message: "not a real date" });
      return z.NEVER;
    }
    return d;
  });

const add = defineCommand({
  name: "versions add",
  summary: "Offer an OpenClaw version (its image pinned by tag or digest), optionally as the default for new instances",
  usage: "<tag> [--default] [--image <ref>] [--released-at <date>] [--json]",
  positionals: ["tag"],
  where: "anywhere",
  args: z.strictObject({
    tag,
    default: z.boolean().default(false),
    image: checkedBy(imageRefProblem).optional(),
    "released-at": releasedAt.optional(),
  }),
  async run({ db, now }, a) {
    // A valid tag makes a valid reference of OpenClaw's own image.
    const image = a.image ?? defaultImageFor(a.tag);
    const r = await addVersion(db, { version: a.tag, image, releasedAt: a["released-at"] ?? now(), makeDefault: a.default });
    if (!r.ok) throw new UsageError(r.problem);
    const v = toVersionResource(r.row);
    return {
      text: `${v.version} (${v.image}, released ${v.released_at.slice(0, 10)}): ${r.note}.`,
      json: v,
    };
  },
});

const deprecate = defineCommand({
  name: "versions deprecate",
  summary: "Deprecate a version: instances on it keep it, but nothing new may move to it",
  usage: "<tag> [--json]",
  positionals: ["tag"],
  where: "anywhere",
  args: z.strictObject({ tag: z.string().min(1) }),
  async run({ db, now }, a) {
    const r = await deprecateVersion(db, a.tag, now());
    if (!r.ok) throw new UsageError(r.problem);
    const running = (await versionUsage(db)).get(a.tag) ?? 0;
    return {
      text: `${a.tag}: ${r.note}. ${running} instance${running === 1 ? "" : "s"} still run${running === 1 ? "s" : ""} it (a rollout moves them on).`,
      json: toVersionResource(r.row),
    };
  },
});

const ls = defineCommand({
  name: "versions ls",
  summary: "List the versions on offer, and how many instances run each",
  usage: "[--json]",
  where: "anywhere",
  args: z.strictObject({}),
  async run({ db }) {
    const usage = await versionUsage(db);
    const rows = (await listVersions(db)).map((r) => ({ ...toVersionResource(r), instances: usage.get(r.version) ?? 0 }));
    const table = [
      ["VERSION", "RELEASED", "INSTANCES", "", "IMAGE"],
      ...rows.map((v) => [
        v.version,
        v.released_at.slice(0, 10),
        String(v.instances),
        [v.default ? "default" : "", v.deprecated ? "deprecated" : ""].filter(Boolean).join(", "),
        v.image,
      ]),
    ];
    const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
    return { text: table.map((row) => row.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n"), json: rows };
  },
});

export const VERSION_COMMANDS = [add, deprecate, ls];
