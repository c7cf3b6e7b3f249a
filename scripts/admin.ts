/**
 * Operator commands against the configured database (the embedded one under
 * DATA_DIR, or DATABASE_URL):
 *
 *   npm run admin -- create-key --email <email> --plan <starter|pro|business> [--scopes <list>] [--name <name>] [--json]
 *   npm run admin -- set-plan   --email <email> --plan <starter|pro|business>
 *   npm run admin -- revoke-key --key <key_... | moc_...>
 *   npm run admin -- set-limits --email <email> [--read N] [--write N] [--heavy N] [--account N] | --reset
 */
import { parseArgs } from "node:util";
import { z } from "zod";
import { closeDatabase, database, DatabaseLockedError } from "@/db/client";
import { ConfigError } from "@/lib/config";
import { PLAN_NAMES, type LimitOverrides, type PlanName } from "@/lib/plans";
import { scopeOrShortcutSchema } from "@/lib/scopes";
import { findAccountByEmail, revokeKeyByOperator, setLimitOverrides, setPlan, upsertAccount } from "@/lib/services/accounts";
import { insertKey } from "@/lib/services/keys";

class UsageError extends Error {}

const USAGE = `Usage:
  npm run admin -- create-key --email <email> --plan <${PLAN_NAMES.join("|")}> [--scopes <list>] [--name <name>] [--json]
  npm run admin -- set-plan --email <email> --plan <${PLAN_NAMES.join("|")}>
  npm run admin -- revoke-key --key <key_... | moc_...>
  npm run admin -- set-limits --email <email> [--read N] [--write N] [--heavy N] [--account N] | --reset`;

const email = (v: string | undefined) => {
  const r = z.email().safeParse(v);
  if (!r.success) throw new UsageError("--email: give a valid email address");
  return r.data;
};
const plan = (v: string | undefined): PlanName => {
  if (!v || !(PLAN_NAMES as string[]).includes(v)) throw new UsageError(`--plan: one of ${PLAN_NAMES.join(", ")}`);
  return v as PlanName;
};
const perMinute = (name: string, v: string | undefined) => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 1_000_000) throw new UsageError(`--${name}: a whole number of requests per minute, 1-1000000`);
  return n;
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      email: { type: "string" },
      plan: { type: "string" },
      scopes: { type: "string" },
      name: { type: "string" },
      key: { type: "string" },
      json: { type: "boolean", default: false },
      read: { type: "string" },
      write: { type: "string" },
      heavy: { type: "string" },
      account: { type: "string" },
      reset: { type: "boolean", default: false },
    },
    strict: true,
  });
  const out = (human: string, json: unknown) => console.log(values.json ? JSON.stringify(json) : human);

  switch (command) {
    case "create-key": {
      const e = email(values.email);
      const p = plan(values.plan);
      const scopes = (values.scopes ?? "all").split(",").map((s) => s.trim()).filter(Boolean);
      const parsed = z.array(scopeOrShortcutSchema).min(1).safeParse(scopes);
      if (!parsed.success) throw new UsageError(`--scopes: a comma-separated list of scopes or read, write, all (got ${values.scopes})`);
      const db = (await database()).db;
      const result = await db.transaction(async (tx) => {
        const acct = await upsertAccount(tx, e, p);
        const key = await insertKey(tx, acct.id, { name: values.name ?? "admin", scopes: parsed.data });
        return { acct, key };
      });
      out(
        `Account ${result.acct.id} (${e}, ${p}). New key ${result.key.id} with scopes ${result.key.scopes.join(", ")}.\n` +
          `Token (shown this once):\n${result.key.token}`,
        { account_id: result.acct.id, key_id: result.key.id, token: result.key.token },
      );
      return 0;
    }
    case "set-plan": {
      const e = email(values.email);
      const p = plan(values.plan);
      const row = await setPlan((await database()).db, e, p);
      if (!row) throw new UsageError(`No account with email ${e}`);
      out(`Account ${row.id} (${e}) is now on the ${p} plan.`, { account_id: row.id, plan: p });
      return 0;
    }
    case "revoke-key": {
      const key = values.key;
      if (!key || !/^(key_|moc_)/.test(key)) throw new UsageError("--key: a key id (key_...) or prefix (moc_...)");
      const done = await revokeKeyByOperator((await database()).db, key);
      if (!done) throw new UsageError(`No live key ${key}`);
      out(`Revoked ${key}.`, { revoked: key });
      return 0;
    }
    case "set-limits": {
      const e = email(values.email);
      const overrides: LimitOverrides = {
        read: perMinute("read", values.read),
        write: perMinute("write", values.write),
        heavy: perMinute("heavy", values.heavy),
        account: perMinute("account", values.account),
      };
      const given = Object.values(overrides).some((v) => v !== undefined);
      if (values.reset === given) throw new UsageError("set-limits: give --reset, or at least one of --read, --write, --heavy, --account");
      const db = (await database()).db;
      let merged: LimitOverrides | null = null;
      if (!values.reset) {
        const acct = await findAccountByEmail(db, e);
        if (!acct) throw new UsageError(`No account with email ${e}`);
        merged = { ...acct.limitOverrides, ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) };
      }
      const result = await setLimitOverrides(db, e, merged);
      if (!result) throw new UsageError(`No account with email ${e}`);
      const l = result.limits;
      out(
        `Account ${result.account.id} (${e}): per key read ${l.rate.read}, write ${l.rate.write}, heavy ${l.rate.heavy}; account ${l.accountPerMinute} per minute` +
          (values.reset ? " (the plan's)." : "."),
        { account_id: result.account.id, limits: { read: l.rate.read, write: l.rate.write, heavy: l.rate.heavy, account: l.accountPerMinute } },
      );
      return 0;
    }
    default:
      throw new UsageError(command ? `Unknown command ${command}` : "No command given");
  }
}

main(process.argv.slice(2))
  .then(async (code) => {
    await closeDatabase();
    process.exit(code);
  })
  .catch(async (err: unknown) => {
    await closeDatabase().catch(() => undefined);
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      console.error(`${(err as Error).message}\n\n${USAGE}`);
      process.exit(2);
    }
    if (err instanceof DatabaseLockedError || err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    console.error(`admin: ${(err as Error).message ?? err}`);
    process.exit(1);
  });
