import { z } from "zod";
import { rolloutAdvanceEvent } from "../jobs/events";
import type { RolloutState } from "../operations/rollouts";
import { changeRollout, findRollout, rolloutStatus, startRollout, type RolloutStatus } from "../services/rollouts";
import { defineCommand, UsageError } from "./command";

/**
 * `rollout start|status|pause|resume|cancel`: moving the fleet to a new
 * OpenClaw version (lib/services/rollouts.ts). start and resume hand the
 * rollout to the job runtime, so they run in the server (`where: "server"`);
 * the others only touch the database.
 */

const count = (what: string, max: number) =>
  z.coerce.number().int(`${what}: a whole number`).min(1, `${what}: at least 1`).max(max, `${what}: at most ${max}`);

const DEFAULT_BATCH = 5;
const DEFAULT_MAX_FAILURES = 3;

const start = defineCommand({
  name: "rollout start",
  summary: "Upgrade every instance with auto_upgrade on an older version, in batches, halting at a failure threshold",
  usage: `--to <version> [--from <version>] [--batch N (${DEFAULT_BATCH})] [--max-failures N (${DEFAULT_MAX_FAILURES})] [--dry-run] [--json]`,
  where: "server",
  args: z.strictObject({
    to: z.string().min(1),
    from: z.string().min(1).optional(),
    batch: count("instances upgraded at once", 1000).default(DEFAULT_BATCH),
    "max-failures": count("failed upgrades before it halts", 100_000).default(DEFAULT_MAX_FAILURES),
    "dry-run": z.boolean().default(false),
  }),
  async run({ db, send, now }, a) {
    const r = await startRollout(db, { to: a.to, from: a.from, batchSize: a.batch, maxFailures: a["max-failures"], dryRun: a["dry-run"] }, now());
    if (!r.ok) throw new UsageError(r.problem);
    const { candidates } = r.value;
    const perVersion = new Map<string, number>();
    for (const c of candidates) perVersion.set(c.version, (perVersion.get(c.version) ?? 0) + 1);
    const byVersion = [...perVersion].map(([v, n]) => `${v}: ${n}`);
    const accounts = new Set(candidates.map((c) => c.account_id)).size;
    const scope = `${candidates.length} instance${candidates.length === 1 ? "" : "s"} of ${accounts} account${accounts === 1 ? "" : "s"} (${byVersion.join(", ") || "none"})`;
    const batches = Math.ceil(candidates.length / a.batch);
    if (r.value.dryRun) {
      return {
        text: `Dry run: would upgrade ${scope} to ${a.to}, in ${batches} batch${batches === 1 ? "" : "es"} of up to ${a.batch}, halting after ${a["max-failures"]} failures. Nothing was changed.`,
        json: { dry_run: true, to_version: a.to, from_version: a.from ?? null, instances: candidates },
      };
    }
    if (!r.value.rollout) {
      return { text: `Nothing to roll out: no instance with auto_upgrade runs a version older than ${a.to}.`, json: { rollout: null } };
    }
    const rollout = r.value.rollout;
    await send([rolloutAdvanceEvent(rollout.id, "started", "start")]);
    return {
      text:
        `Rollout ${rollout.id} started: ${scope} to ${a.to}, ${a.batch} at a time; it halts after ${a["max-failures"]} failures.\n` +
        `Watch it: npm run admin -- rollout status --watch`,
      json: await rolloutStatus(db, rollout),
    };
  },
});

const status = defineCommand({
  name: "rollout status",
  summary: "Show the latest rollout's progress (a progress bar on a terminal, JSON otherwise); --watch follows it",
  usage: "[--id rol_...] [--watch] [--json]",
  where: "anywhere",
  jsonUnlessTty: true,
  watch: (json) => {
    const state = (json as RolloutStatus | null)?.state;
    const counts = (json as RolloutStatus | null)?.counts;
    // Finished ones are done; a paused, halted or cancelled one may still have upgrades under way.
    return state === "running" || (counts !== undefined && counts.upgrading > 0);
  },
  args: z.strictObject({ id: z.string().regex(/^rol_/, "a rollout id (rol_...)").optional() }),
  async run({ db }, a) {
    const r = await findRollout(db, a.id);
    if (!r) {
      if (a.id) throw new UsageError(`No rollout ${a.id}.`);
      return { text: "No rollout yet: rollout start --to <version> begins one.", json: null };
    }
    const s = await rolloutStatus(db, r);
    return { text: describe(s), json: s };
  },
});

const NEXT_STEP: Partial<Record<RolloutState, string>> = {
  paused: "rollout resume carries on; rollout cancel ends it",
  halted: "look at the failed operations (instance.upgrade, failed), then rollout resume [--max-failures N], or rollout cancel",
};

/** Two or three lines for a person: where the rollout stands, a bar, and what to do next. */
function describe(s: RolloutStatus): string {
  const c = s.counts;
  const settled = c.upgraded + c.failed + c.skipped;
  const width = 30;
  const filled = c.total === 0 ? width : Math.round((settled / c.total) * width);
  const bar = `[${"#".repeat(filled)}${".".repeat(width - filled)}]`;
  const from = s.from_version ? `${s.from_version} -> ` : "";
  const lines = [
    `Rollout ${s.id} (${from}${s.to_version}): ${s.state}${s.batches ? `, batch ${s.batches}` : ""}, ${s.batch_size} at a time`,
    `${bar} ${settled}/${c.total}  upgraded ${c.upgraded}  failed ${c.failed} (${s.failures_counted}/${s.max_failures} counted)  ` +
      `upgrading ${c.upgrading}  pending ${c.pending}  skipped ${c.skipped}`,
  ];
  const next = NEXT_STEP[s.state];
  if (s.reason || next) lines.push([s.reason, next].filter(Boolean).join(" "));
  return lines.join("\n");
}

const action = (name: "pause" | "resume" | "cancel", summary: string) =>
  defineCommand({
    name: `rollout ${name}`,
    summary,
    usage: name === "resume" ? "[--max-failures N] [--json]" : "[--json]",
    where: name === "resume" ? "server" : "anywhere",
    args: z.strictObject(name === "resume" ? { "max-failures": count("failed upgrades before it halts", 100_000).optional() } : {}),
    async run({ db, send, now }, a: { "max-failures"?: number }) {
      const r = await changeRollout(db, name, now(), { maxFailures: a["max-failures"] });
      if (!r.ok) throw new UsageError(r.problem);
      if (name === "resume") await send([rolloutAdvanceEvent(r.value.id, "resumed", `resume-${r.value.updatedAt.getTime()}`)]);
      const s = await rolloutStatus(db, r.value);
      return { text: describe(s), json: s };
    },
  });

export const ROLLOUT_COMMANDS = [
  start,
  status,
  action("pause", "Pause the rollout: no new batch starts; upgrades under way finish"),
  action("resume", "Resume a paused or halted rollout (after a halt, failures are counted afresh)"),
  action("cancel", "Cancel the rollout: nothing more starts; instances not reached stay as they are"),
];
