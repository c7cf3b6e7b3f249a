import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "@/lib/config";

describe("configuration", () => {
  it("falls back to the embedded defaults when nothing is configured", () => {
    const c = loadConfig({});
    expect(c.production).toBe(false);
    expect(c.database).toEqual({ kind: "pglite", dataDir: ".data" });
    expect(c.rateLimit.kind).toBe("memory");
    expect(c.jobs.kind).toBe("local");
    expect(c.compute).toEqual({ kind: "local", delayMs: 2000, failingImages: [] });
  });

  it("on Vercel or with REQUIRE_SERVICES=1, refuses to start and names every missing variable", () => {
    for (const env of [{ VERCEL: "1" }, { REQUIRE_SERVICES: "1" }]) {
      let message = "";
      try {
        loadConfig(env);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        message = (err as Error).message;
      }
      for (const name of ["DATABASE_URL", "API_KEY_PEPPERS", "ENCRYPTION_KEYS", "UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_TOKEN", "INNGEST_EVENT_KEY", "INNGEST_SIGNING_KEY", "INSTANCE_PROVIDER"]) {
        expect(message).toContain(name);
      }
    }
  });

  it("asks for Fly's settings when the fly provider is chosen", () => {
    expect(() => loadConfig({ INSTANCE_PROVIDER: "fly" })).toThrow(/FLY_API_TOKEN, FLY_ORG_SLUG, INSTANCE_DOMAIN/);
  });

  it("starts with every production setting present", () => {
    const c = loadConfig({
      VERCEL: "1",
      DATABASE_URL: "postgresql://u:p@ep-cool-1.eu-central-1.aws.neon.tech/db?sslmode=require",
      API_KEY_PEPPERS: "2:" + "b".repeat(40) + ",1:" + "a".repeat(40),
      ENCRYPTION_KEYS: "1:" + Buffer.alloc(32, 1).toString("base64"),
      UPSTASH_REDIS_REST_URL: "https://x.upstash.io",
      UPSTASH_REDIS_REST_TOKEN: "t",
      INNGEST_EVENT_KEY: "e",
      INNGEST_SIGNING_KEY: "s",
      INSTANCE_PROVIDER: "fly",
      FLY_API_TOKEN: "f",
      FLY_ORG_SLUG: "org",
      INSTANCE_DOMAIN: "example.com",
    });
    expect(c.database.kind).toBe("neon");
    expect(c.apiKeyPeppers!.map((p) => p.version)).toEqual([2, 1]);
    expect(c.rateLimit).toMatchObject({ kind: "upstash", timeoutMs: 1000 });
    expect(c.compute).toEqual({ kind: "fly", token: "f", org: "org", apiBaseUrl: "https://api.machines.dev" });
  });

  it("refuses malformed values with a message naming the setting", () => {
    expect(() => loadConfig({ DATABASE_URL: "mysql://x" })).toThrow(/DATABASE_URL/);
    expect(() => loadConfig({ ENCRYPTION_KEYS: "1:short" })).toThrow(/ENCRYPTION_KEYS/);
    expect(() => loadConfig({ API_KEY_PEPPERS: "nope" })).toThrow(/API_KEY_PEPPERS/);
    expect(() => loadConfig({ LOCAL_PROVIDER_DELAY_MS: "-5" })).toThrow(/LOCAL_PROVIDER_DELAY_MS/);
    expect(() => loadConfig({ INSTANCE_PROVIDER: "aws" })).toThrow(/INSTANCE_PROVIDER/);
  });
});

describe("the verified-key cache setting", () => {
  it("is on (300 s) where every process learns of changes (embedded, or Upstash), off with a database server alone, and settable", () => {
    expect(loadConfig({}).apiKeyCacheSeconds).toBe(300);
    const upstash = { UPSTASH_REDIS_REST_URL: "https://x.upstash.io", UPSTASH_REDIS_REST_TOKEN: "t" };
    expect(loadConfig({ DATABASE_URL: "postgres://u:p@localhost/db", ...upstash }).apiKeyCacheSeconds).toBe(300);
    expect(loadConfig({ DATABASE_URL: "postgres://u:p@localhost/db" }).apiKeyCacheSeconds).toBe(0);
    expect(loadConfig({ DATABASE_URL: "postgres://u:p@localhost/db", API_KEY_CACHE_SECONDS: "5" }).apiKeyCacheSeconds).toBe(5);
    expect(() => loadConfig({ API_KEY_CACHE_SECONDS: "-1" })).toThrow(/API_KEY_CACHE_SECONDS/);
  });
});

describe("OpenClaw images", () => {
  it("refuses the retired OPENCLAW_IMAGE, saying what replaced it", () => {
    expect(() => loadConfig({ OPENCLAW_IMAGE: "ghcr.io/openclaw/openclaw:2026.12.1" })).toThrow(
      /OPENCLAW_IMAGE is no longer read: .*versions add <tag> --image <ref> --default/,
    );
    expect(loadConfig({ OPENCLAW_IMAGE: "" }).compute.kind).toBe("local"); // set but empty is unset
  });

  it("reads LOCAL_FAILING_IMAGES as a list of pinned images", () => {
    const c = loadConfig({ LOCAL_FAILING_IMAGES: " ghcr.io/openclaw/openclaw:2026.12.0-broken , example.com:5000/team/openclaw@sha256:" + "0".repeat(64) });
    expect(c.compute).toMatchObject({ failingImages: ["ghcr.io/openclaw/openclaw:2026.12.0-broken", `example.com:5000/team/openclaw@sha256:${"0".repeat(64)}`] });
    expect(() => loadConfig({ LOCAL_FAILING_IMAGES: "ghcr.io/openclaw/openclaw:latest" })).toThrow(/LOCAL_FAILING_IMAGES: .*latest/);
  });
});

describe("the observation and retention settings", () => {
  it("default to an observation every 60 s within 200 provider requests a second in 10 batches, and 90 days of operations", () => {
    const c = loadConfig({});
    expect(c.observation).toEqual({ intervalSeconds: 60, requestsPerSecond: 200, concurrency: 10 });
    expect(c.operationRetentionDays).toBe(90);
    expect(
      loadConfig({ OBSERVE_INTERVAL_SECONDS: "30", OBSERVE_FLY_REQUESTS_PER_SECOND: "50", OBSERVE_CONCURRENCY: "5", OPERATION_RETENTION_DAYS: "365" }),
    ).toMatchObject({ observation: { intervalSeconds: 30, requestsPerSecond: 50, concurrency: 5 }, operationRetentionDays: 365 });
  });

  it("never keep operations under 30 days (the API promises that much history), and refuse nonsense", () => {
    expect(() => loadConfig({ OPERATION_RETENTION_DAYS: "29" })).toThrow(/OPERATION_RETENTION_DAYS: must be an integer >= 30/);
    expect(loadConfig({ OPERATION_RETENTION_DAYS: "30" }).operationRetentionDays).toBe(30);
    expect(() => loadConfig({ OBSERVE_INTERVAL_SECONDS: "5" })).toThrow(/OBSERVE_INTERVAL_SECONDS/);
    expect(() => loadConfig({ OBSERVE_FLY_REQUESTS_PER_SECOND: "0" })).toThrow(/OBSERVE_FLY_REQUESTS_PER_SECOND/);
    expect(() => loadConfig({ OBSERVE_CONCURRENCY: "two" })).toThrow(/OBSERVE_CONCURRENCY/);
  });
});

describe("which rules apply (DESIGN 2: embedded relaxations only for a process embedded in fact)", () => {
  const fly = { INSTANCE_PROVIDER: "fly", FLY_API_TOKEN: "t", FLY_ORG_SLUG: "o", INSTANCE_DOMAIN: "example.com" };
  it("is embedded with nothing configured, with the in-memory database of the tests, and with an Inngest dev server", () => {
    for (const env of [{}, { DATABASE_URL: "memory://" }, { DATABASE_URL: "memory://?template=%2Ftmp%2Fx.tar" }, { INNGEST_DEV: "1" }]) {
      const c = loadConfig(env);
      expect(c.rules, JSON.stringify(env)).toEqual({ mode: "embedded", because: [] });
      expect(c.allowLoopbackWebhooks).toBe(true);
      expect(c.trustForwardedHost).toBe(true);
      expect(c.clientAddressHeaders).toEqual([]);
    }
  });

  it("is production as soon as any production service is configured, naming it, without VERCEL or REQUIRE_SERVICES", () => {
    const cases: [Record<string, string>, string][] = [
      [{ DATABASE_URL: "postgres://u:p@db.internal/x" }, "DATABASE_URL"],
      [{ UPSTASH_REDIS_REST_URL: "https://x.upstash.io", UPSTASH_REDIS_REST_TOKEN: "t" }, "UPSTASH_REDIS_REST_URL"],
      [{ INNGEST_EVENT_KEY: "e", INNGEST_SIGNING_KEY: "s" }, "INNGEST_EVENT_KEY"],
      [fly, "INSTANCE_PROVIDER=fly"],
    ];
    for (const [env, because] of cases) {
      const c = loadConfig(env);
      expect(c.rules, because).toEqual({ mode: "production", because: [because] });
      expect(c.allowLoopbackWebhooks, because).toBe(false);
      expect(c.trustForwardedHost, because).toBe(false);
    }
    // The deployment: everything real, no flag.
    const all = loadConfig({ DATABASE_URL: "postgres://u:p@db.internal/x", UPSTASH_REDIS_REST_URL: "https://x.upstash.io", UPSTASH_REDIS_REST_TOKEN: "t", INNGEST_EVENT_KEY: "e", INNGEST_SIGNING_KEY: "s", ...fly });
    expect(all.rules.because).toEqual(["DATABASE_URL", "UPSTASH_REDIS_REST_URL", "INNGEST_EVENT_KEY", "INSTANCE_PROVIDER=fly"]);
    expect(all.allowLoopbackWebhooks).toBe(false);
  });

  it("takes each relaxation back only by an explicit, documented setting", () => {
    const base = { DATABASE_URL: "postgres://u:p@db.internal/x" };
    expect(loadConfig({ ...base, ALLOW_LOOPBACK_WEBHOOKS: "1" })).toMatchObject({ allowLoopbackWebhooks: true, trustForwardedHost: false, rules: { mode: "production" } });
    expect(loadConfig({ ...base, TRUST_FORWARDED_HOST: "1" })).toMatchObject({ allowLoopbackWebhooks: false, trustForwardedHost: true });
    expect(() => loadConfig({ ...base, ALLOW_LOOPBACK_WEBHOOKS: "yes" })).toThrow(/ALLOW_LOOPBACK_WEBHOOKS/);
  });

  it("on Vercel trusts the host its proxy sets and the client address in Vercel's own headers", () => {
    const c = loadConfig({
      VERCEL: "1",
      DATABASE_URL: "postgresql://u:p@ep-cool-1.eu-central-1.aws.neon.tech/db",
      API_KEY_PEPPERS: "1:" + "a".repeat(40),
      ENCRYPTION_KEYS: "1:" + Buffer.alloc(32, 1).toString("base64"),
      UPSTASH_REDIS_REST_URL: "https://x.upstash.io",
      UPSTASH_REDIS_REST_TOKEN: "t",
      INNGEST_EVENT_KEY: "e",
      INNGEST_SIGNING_KEY: "s",
      ...fly,
    });
    expect(c).toMatchObject({ allowLoopbackWebhooks: false, trustForwardedHost: true, clientAddressHeaders: ["x-vercel-forwarded-for", "x-real-ip"] });
  });
});
