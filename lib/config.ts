import { z } from "zod";
import { imageRefProblem } from "./openclaw/versions";

/**
 * Every setting the server reads, validated once. Nothing else in the code base
 * reads `process.env` for configuration: import `config()` instead.
 *
 * A service that is not configured falls back to its embedded default (PGlite,
 * the in-process rate limiter, the in-process job runner, the simulated compute
 * provider). On Vercel, or with REQUIRE_SERVICES=1, that fallback is refused:
 * start-up fails with a message naming every missing variable.
 */

const flag = z
  .enum(["1", "0", "true", "false", ""])
  .optional()
  .transform((v) => v === "1" || v === "true");

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v.trim()));

const intSetting = (fallback: number, min = 0) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === "") return fallback;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) {
        ctx.addIssue({ code: "custom", message: `must be an integer >= ${min}` });
        return z.NEVER;
      }
      return n;
    });

const envSchema = z.object({
  NODE_ENV: optionalString,
  VERCEL: optionalString,
  REQUIRE_SERVICES: flag,
  DATA_DIR: optionalString,
  PUBLIC_BASE_URL: optionalString,
  ALLOW_LOOPBACK_WEBHOOKS: flag,
  TRUST_FORWARDED_HOST: flag,
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error", "silent"]).optional(),

  DATABASE_URL: optionalString,
  DATABASE_DRIVER: z.enum(["auto", "pg", "neon"]).optional(),
  NEON_WS_PROXY: optionalString,

  API_KEY_PEPPERS: optionalString,
  API_KEY_CACHE_SECONDS: optionalString,
  ENCRYPTION_KEYS: optionalString,

  UPSTASH_REDIS_REST_URL: optionalString,
  UPSTASH_REDIS_REST_TOKEN: optionalString,
  RATE_LIMIT_TIMEOUT_MS: intSetting(1000, 1),

  INNGEST_EVENT_KEY: optionalString,
  INNGEST_SIGNING_KEY: optionalString,
  INNGEST_SIGNING_KEY_FALLBACK: optionalString,
  INNGEST_DEV: optionalString,
  INNGEST_BASE_URL: optionalString,

  INSTANCE_PROVIDER: z.enum(["local", "fly"]).optional(),
  LOCAL_PROVIDER_DELAY_MS: intSetting(2000),
  LOCAL_FAILING_IMAGES: optionalString,
  FLY_API_TOKEN: optionalString,
  FLY_ORG_SLUG: optionalString,
  FLY_API_BASE_URL: optionalString,
  /** Retired: refused when set (see RETIRED_OPENCLAW_IMAGE). */
  OPENCLAW_IMAGE: optionalString,
  INSTANCE_DOMAIN: optionalString,
  DEFAULT_REGION: optionalString,
  OPERATION_DEADLINE_SECONDS: intSetting(900, 30),
  OPERATION_RETENTION_DAYS: intSetting(90, 30),
  OBSERVE_INTERVAL_SECONDS: intSetting(60, 10),
  OBSERVE_FLY_REQUESTS_PER_SECOND: intSetting(200, 1),
  OBSERVE_CONCURRENCY: intSetting(10, 1),
  OPERATOR_TOKEN: optionalString.refine((v) => v === undefined || v.length >= 32, "must be at least 32 characters"),
});

export type Secret = { version: number; value: string };

export interface Config {
  /** true on Vercel or with REQUIRE_SERVICES=1: embedded defaults are refused. */
  production: boolean;
  /**
   * Which rules apply (DESIGN 2): "embedded" only for a process that is
   * embedded in fact, with no production service configured (no Postgres
   * server, Upstash, Inngest Cloud or Fly, not on Vercel, no REQUIRE_SERVICES);
   * anything else is "production".
   */
  rules: { mode: "embedded" | "production"; because: string[] };
  /** Also accept http:// loopback webhook receivers: embedded mode, or ALLOW_LOOPBACK_WEBHOOKS=1. */
  allowLoopbackWebhooks: boolean;
  /**
   * Whether the request's X-Forwarded-Host / Host may name this deployment in
   * absolute links: embedded mode, on Vercel (its proxy sets them), or with
   * TRUST_FORWARDED_HOST=1. PUBLIC_BASE_URL, when set, wins over both.
   */
  trustForwardedHost: boolean;
  /**
   * Request headers that carry the client's address and that no client can set,
   * oldest hop first: Vercel's own (its edge overwrites them); none elsewhere.
   */
  clientAddressHeaders: readonly string[];
  dataDir: string;
  publicBaseUrl: string | undefined;
  logLevel: "debug" | "info" | "warn" | "error" | "silent";
  database:
    | { kind: "pglite"; dataDir: string | null /* null: in memory */; template?: string /* a dumped data dir to start from */ }
    | { kind: "pg"; url: string }
    | { kind: "neon"; url: string; wsProxy: string | undefined };
  /**
   * How long a verified key is remembered in this process at most. A change
   * made through the service (a revocation, the plan, the limits) reaches every
   * process that remembers the key at its next request through the rate
   * limiter's store (lib/keys/auth-version.ts): with Upstash, and with the
   * embedded database (one process by construction), the default is 300 s.
   * With a database server and the in-process limiter, processes do not share
   * that store, so a change made in another process takes up to this long: the
   * default there is 0 (off).
   */
  apiKeyCacheSeconds: number;
  /** Versioned peppers for API-key hashes; undefined: generated under DATA_DIR. */
  apiKeyPeppers: Secret[] | undefined;
  /** Versioned AES-256 keys for secrets at rest; undefined: generated under DATA_DIR. */
  encryptionKeys: Secret[] | undefined;
  rateLimit:
    | { kind: "memory" }
    | { kind: "upstash"; url: string; token: string; timeoutMs: number };
  jobs:
    | { kind: "local" }
    | { kind: "inngest"; eventKey: string | undefined; signingKey: string | undefined; dev: boolean; baseUrl: string | undefined };
  compute:
    | {
        kind: "local";
        delayMs: number;
        /** Images whose simulated assistant never answers healthy (LOCAL_FAILING_IMAGES): a failed upgrade, tried locally. */
        failingImages: string[];
      }
    | { kind: "fly"; token: string; org: string; apiBaseUrl: string };
  instanceDomain: string;
  defaultRegion: string;
  operationDeadlineSeconds: number;
  /** Finished operations older than this are deleted (never fewer than 30 days: the API promises that much history). */
  operationRetentionDays: number;
  /**
   * The regular observation of every live instance's machine (state and health check):
   * each at least once per `intervalSeconds`, spending at most `requestsPerSecond`
   * provider requests (Fly's API), in at most `concurrency` batches at once.
   */
  observation: { intervalSeconds: number; requestsPerSecond: number; concurrency: number };
  /** The operator endpoint's token (production); embedded mode generates one under DATA_DIR. */
  operatorToken: string | undefined;
}

/**
 * OPENCLAW_IMAGE named the one image every machine ran. Each instance now runs
 * the image of its OpenClaw version (the `openclaw_version` table; GET
 * /api/v1/versions), so the setting is refused rather than silently ignored.
 */
const RETIRED_OPENCLAW_IMAGE =
  "OPENCLAW_IMAGE is no longer read: each instance runs the image of its OpenClaw version, kept in the database. " +
  "Unset it, then offer that image as a version and make it the default: npm run admin -- versions add <tag> --image <ref> --default.";

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

function parseSecrets(name: string, raw: string, bytes: number | null): Secret[] {
  // "2:secret-two,1:secret-one": the highest version is the current one; the
  // others are kept to read what they wrote until it has been rewritten.
  const out: Secret[] = [];
  for (const part of raw.split(",").map((p) => p.trim()).filter(Boolean)) {
    const m = /^(\d+):(.+)$/.exec(part);
    if (!m) throw new ConfigError(`${name}: expected "version:secret[,version:secret...]"`);
    const value = m[2]!;
    if (bytes !== null && Buffer.from(value, "base64").length !== bytes) {
      throw new ConfigError(`${name}: version ${m[1]} must be ${bytes} bytes, base64-encoded`);
    }
    if (bytes === null && value.length < 32) {
      throw new ConfigError(`${name}: version ${m[1]} must be at least 32 characters`);
    }
    out.push({ version: Number(m[1]), value });
  }
  if (out.length === 0) throw new ConfigError(`${name}: no secret given`);
  if (new Set(out.map((s) => s.version)).size !== out.length) {
    throw new ConfigError(`${name}: a version appears twice`);
  }
  return out.sort((a, b) => b.version - a.version);
}

function parseCacheSeconds(raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 300) throw new ConfigError("API_KEY_CACHE_SECONDS: a whole number of seconds, 0-300");
  return n;
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join("\n")}`);
  }
  const e = parsed.data;
  if (e.OPENCLAW_IMAGE) throw new ConfigError(RETIRED_OPENCLAW_IMAGE);
  const failingImages = (e.LOCAL_FAILING_IMAGES ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  for (const image of failingImages) {
    const problem = imageRefProblem(image);
    if (problem) throw new ConfigError(`LOCAL_FAILING_IMAGES: ${problem}`);
  }
  const production = Boolean(e.VERCEL) || e.REQUIRE_SERVICES;
  const missing: string[] = [];
  const need = (name: keyof typeof e) => {
    if (production && !e[name]) missing.push(name);
  };

  need("DATABASE_URL");
  need("API_KEY_PEPPERS");
  need("ENCRYPTION_KEYS");
  need("UPSTASH_REDIS_REST_URL");
  need("UPSTASH_REDIS_REST_TOKEN");
  const inngestDev = e.INNGEST_DEV === "1" || e.INNGEST_DEV === "true";
  if (!inngestDev) {
    need("INNGEST_EVENT_KEY");
    need("INNGEST_SIGNING_KEY");
  }
  if (production && !e.INSTANCE_PROVIDER) missing.push("INSTANCE_PROVIDER");
  if (e.INSTANCE_PROVIDER === "fly") {
    for (const name of ["FLY_API_TOKEN", "FLY_ORG_SLUG", "INSTANCE_DOMAIN"] as const) {
      if (!e[name]) missing.push(name);
    }
  }
  if (missing.length > 0) {
    throw new ConfigError(
      `Missing settings: ${[...new Set(missing)].join(", ")}.\n` +
        (production
          ? "Embedded defaults are refused on Vercel and with REQUIRE_SERVICES=1. See .env.example."
          : "See .env.example."),
    );
  }

  const dataDir = e.DATA_DIR ?? ".data";
  let database: Config["database"];
  const url = e.DATABASE_URL;
  if (!url) database = { kind: "pglite", dataDir };
  else if (url.startsWith("memory://")) {
    // memory://?template=<file>: start from a dumped, already migrated data dir (tests: skips initdb).
    const template = new URL(url.replace("memory://", "memory://x/")).searchParams.get("template") ?? undefined;
    database = { kind: "pglite", dataDir: null, template };
  }
  else if (/^postgres(ql)?:\/\//.test(url)) {
    const driver = e.DATABASE_DRIVER ?? "auto";
    const neon = driver === "neon" || (driver === "auto" && /\.neon\.tech(:\d+)?\//.test(url));
    database = neon ? { kind: "neon", url, wsProxy: e.NEON_WS_PROXY } : { kind: "pg", url };
  } else {
    throw new ConfigError("DATABASE_URL: expected a postgres:// or postgresql:// URL (or memory:// for tests)");
  }

  const upstash = e.UPSTASH_REDIS_REST_URL && e.UPSTASH_REDIS_REST_TOKEN;
  const inngest = e.INNGEST_EVENT_KEY || e.INNGEST_SIGNING_KEY || inngestDev;

  // Any production service configured means production rules: the relaxations
  // of embedded mode belong to a process that is embedded in fact.
  const because = [
    e.VERCEL && "VERCEL",
    e.REQUIRE_SERVICES && "REQUIRE_SERVICES",
    (database.kind === "pg" || database.kind === "neon") && "DATABASE_URL",
    (e.UPSTASH_REDIS_REST_URL || e.UPSTASH_REDIS_REST_TOKEN) && "UPSTASH_REDIS_REST_URL",
    !inngestDev && (e.INNGEST_EVENT_KEY || e.INNGEST_SIGNING_KEY) && "INNGEST_EVENT_KEY",
    e.INSTANCE_PROVIDER === "fly" && "INSTANCE_PROVIDER=fly",
  ].filter((v): v is string => typeof v === "string");
  const embedded = because.length === 0;

  return {
    production,
    rules: { mode: embedded ? "embedded" : "production", because },
    allowLoopbackWebhooks: embedded || e.ALLOW_LOOPBACK_WEBHOOKS,
    trustForwardedHost: embedded || Boolean(e.VERCEL) || e.TRUST_FORWARDED_HOST,
    clientAddressHeaders: e.VERCEL ? ["x-vercel-forwarded-for", "x-real-ip"] : [],
    dataDir,
    publicBaseUrl: e.PUBLIC_BASE_URL?.replace(/\/+$/, ""),
    logLevel: e.LOG_LEVEL ?? (e.NODE_ENV === "test" ? "silent" : "info"),
    database,
    apiKeyCacheSeconds: parseCacheSeconds(e.API_KEY_CACHE_SECONDS, database.kind === "pglite" || upstash ? 300 : 0),
    apiKeyPeppers: e.API_KEY_PEPPERS ? parseSecrets("API_KEY_PEPPERS", e.API_KEY_PEPPERS, null) : undefined,
    encryptionKeys: e.ENCRYPTION_KEYS ? parseSecrets("ENCRYPTION_KEYS", e.ENCRYPTION_KEYS, 32) : undefined,
    rateLimit: upstash
      ? { kind: "upstash", url: e.UPSTASH_REDIS_REST_URL!, token: e.UPSTASH_REDIS_REST_TOKEN!, timeoutMs: e.RATE_LIMIT_TIMEOUT_MS }
      : { kind: "memory" },
    jobs: inngest
      ? { kind: "inngest", eventKey: e.INNGEST_EVENT_KEY, signingKey: e.INNGEST_SIGNING_KEY, dev: inngestDev, baseUrl: e.INNGEST_BASE_URL }
      : { kind: "local" },
    compute:
      e.INSTANCE_PROVIDER === "fly"
        ? {
            kind: "fly",
            token: e.FLY_API_TOKEN!,
            org: e.FLY_ORG_SLUG!,
            apiBaseUrl: (e.FLY_API_BASE_URL ?? "https://api.machines.dev").replace(/\/+$/, ""),
          }
        : { kind: "local", delayMs: e.LOCAL_PROVIDER_DELAY_MS, failingImages },
    instanceDomain: e.INSTANCE_DOMAIN ?? "localhost",
    defaultRegion: e.DEFAULT_REGION ?? "iad",
    operationDeadlineSeconds: e.OPERATION_DEADLINE_SECONDS,
    operationRetentionDays: e.OPERATION_RETENTION_DAYS,
    observation: {
      intervalSeconds: e.OBSERVE_INTERVAL_SECONDS,
      requestsPerSecond: e.OBSERVE_FLY_REQUESTS_PER_SECOND,
      concurrency: e.OBSERVE_CONCURRENCY,
    },
    operatorToken: e.OPERATOR_TOKEN,
  };
}

const holder = globalThis as unknown as { __mocConfig?: Config };

/** The configuration of this process, read and validated on first use. */
export function config(): Config {
  holder.__mocConfig ??= loadConfig();
  return holder.__mocConfig;
}

/** Tests only: forget the cached configuration so the next call re-reads the environment. */
export function resetConfig(): void {
  delete holder.__mocConfig;
}
