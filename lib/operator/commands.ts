import { z } from "zod";
import { PLAN_NAMES, type LimitOverrides } from "../plans";
import { scopeOrShortcutSchema } from "../scopes";
import { findAccountByEmail, revokeKeyByOperator, setLimitOverrides, setPlan, upsertAccount } from "../services/accounts";
import { describeSync, syncBackupsNow } from "../services/backup-records";
import { insertKey } from "../services/keys";
import { defineCommand, UsageError, type OperatorCommand } from "./command";
import { ROLLOUT_COMMANDS } from "./rollouts";
import { VERSION_COMMANDS } from "./versions";
import { simulate } from "./simulate";

/**
 * Every operator command. A new one is a `defineCommand` here (or in a module
 * of its own, listed below): the admin command line, its usage text and the
 * server's operator endpoint all read this list.
 */

const email = z.email("give a valid email address").transform((e) => e.toLowerCase());
const plan = z.enum(PLAN_NAMES, `one of ${PLAN_NAMES.join(", ")}`);
const perMinute = z.coerce
  .number()
  .int()
  .min(1)
  .max(1_000_000, "a whole number of requests per minute, 1-1000000")
  .optional();

const createKey = defineCommand({
  name: "create-key",
  summary: "Create (or re-plan) an account and give it a new API key",
  usage: `--email <email> --plan <${PLAN_NAMES.join("|")}> [--scopes <list>] [--name <name>] [--json]`,
  where: "anywhere",
  args: z.strictObject({
    email,
    plan,
    scopes: z
      .string()
      .default("all")
      .transform((s) => s.split(",").map((x) => x.trim()).filter(Boolean))
      .pipe(z.array(scopeOrShortcutSchema, "a comma-separated list of scopes or read, write, all").min(1)),
    name: z.string().min(1).max(100).default("admin"),
  }),
  async run({ db }, a) {
    const { acct, key } = await db.transaction(async (tx) => {
      const acct = await upsertAccount(tx, a.email, a.plan);
      const key = await insertKey(tx, acct.id, { name: a.name, scopes: a.scopes });
      return { acct, key };
    });
    return {
      text:
        `Account ${acct.id} (${a.email}, ${a.plan}). New key ${key.id} with scopes ${key.scopes.join(", ")}.\n` +
        `Token (shown this once):\n${key.token}`,
      json: { account_id: acct.id, key_id: key.id, token: key.token },
    };
  },
});

const setPlanCommand = defineCommand({
  name: "set-plan",
  summary: "Move an account to another plan (its instances' backup retention follows)",
  usage: `--email <email> --plan <${PLAN_NAMES.join("|")}>`,
  where: "anywhere",
  tellsServers: true,
  args: z.strictObject({ email, plan }),
  async run({ db, compute }, a) {
    const row = await setPlan(db, a.email, a.plan);
    if (!row) throw new UsageError(`No account with email ${a.email}`);
    // The volumes' snapshot retention follows the plan now; what cannot be reached now, the hourly backup sync sets.
    const sync = await syncBackupsNow(db, compute(), { accountId: row.id }, new Date());
    return {
      text: `Account ${row.id} (${a.email}) is now on the ${a.plan} plan. ${describeSync(sync)}`,
      json: { account_id: row.id, plan: a.plan, backups: sync },
    };
  },
});

const syncBackups = defineCommand({
  name: "sync-backups",
  summary: "Sync backups with the provider's snapshots and set each volume's retention to its plan's, now (the hourly pass does it too)",
  usage: "[--email <email> | --instance <inst_...>]",
  where: "anywhere",
  args: z
    .strictObject({ email: email.optional(), instance: z.string().regex(/^inst_/, "an instance id (inst_...)").optional() })
    .refine((a) => !(a.email && a.instance), { message: "give --email or --instance, not both" }),
  async run({ db, compute }, a) {
    let accountId: string | undefined;
    if (a.email) {
      const acct = await findAccountByEmail(db, a.email);
      if (!acct) throw new UsageError(`No account with email ${a.email}`);
      accountId = acct.id;
    }
    const sync = await syncBackupsNow(db, compute(), { accountId, instanceId: a.instance }, new Date());
    return { text: describeSync(sync), json: sync };
  },
});

const revokeKey = defineCommand({
  name: "revoke-key",
  summary: "Revoke an API key by id or by its public prefix",
  usage: "--key <key_... | moc_...>",
  where: "anywhere",
  tellsServers: true,
  args: z.strictObject({ key: z.string().regex(/^(key_|moc_)/, "a key id (key_...) or prefix (moc_...)") }),
  async run({ db }, a) {
    if (!(await revokeKeyByOperator(db, a.key))) throw new UsageError(`No live key ${a.key}`);
    return { text: `Revoked ${a.key}.`, json: { revoked: a.key } };
  },
});

const setLimits = defineCommand({
  name: "set-limits",
  summary: "Override an account's rate limits (requests per minute), or --reset to the plan's",
  usage: "--email <email> [--read N] [--write N] [--heavy N] [--account N] | --reset",
  where: "anywhere",
  tellsServers: true,
  args: z
    .strictObject({ email, read: perMinute, write: perMinute, heavy: perMinute, account: perMinute, reset: z.boolean().default(false) })
    .refine((a) => a.reset !== [a.read, a.write, a.heavy, a.account].some((v) => v !== undefined), {
      message: "give --reset, or at least one of --read, --write, --heavy, --account",
    }),
  async run({ db }, a) {
    let merged: LimitOverrides | null = null;
    if (!a.reset) {
      const acct = await findAccountByEmail(db, a.email);
      if (!acct) throw new UsageError(`No account with email ${a.email}`);
      const given = Object.entries({ read: a.read, write: a.write, heavy: a.heavy, account: a.account }).filter(([, v]) => v !== undefined);
      merged = { ...acct.limitOverrides, ...Object.fromEntries(given) };
    }
    const result = await setLimitOverrides(db, a.email, merged);
    if (!result) throw new UsageError(`No account with email ${a.email}`);
    const l = result.limits;
    return {
      text:
        `Account ${result.account.id} (${a.email}): per key read ${l.rate.read}, write ${l.rate.write}, heavy ${l.rate.heavy}; ` +
        `account ${l.accountPerMinute} per minute${a.reset ? " (the plan's)." : "."}`,
      json: { account_id: result.account.id, limits: { read: l.rate.read, write: l.rate.write, heavy: l.rate.heavy, account: l.accountPerMinute } },
    };
  },
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a list of commands with different argument shapes
export const OPERATOR_COMMANDS: OperatorCommand<any>[] = [createKey, setPlanCommand, revokeKey, setLimits, simulate, syncBackups, ...VERSION_COMMANDS, ...ROLLOUT_COMMANDS];

/** The command named by the first one or two words of `words`, and how many words it took. */
export function findCommand(words: readonly string[]): { command: OperatorCommand; used: number } | null {
  for (const used of [2, 1]) {
    const name = words.slice(0, used).join(" ");
    const command = OPERATOR_COMMANDS.find((c) => c.name === name);
    if (command && words.length >= used) return { command, used };
  }
  return null;
}
