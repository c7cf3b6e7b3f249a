import { afterEach, describe, expect, it, vi } from "vitest";
import { config, resetConfig } from "@/lib/config";
import { logRules } from "@/lib/startup";
import { client, createAccount } from "../support/fixtures";
import { useApiServer } from "../support/security";

// Production rules whenever a production service is configured (DESIGN 2),
// through HTTP: loopback webhook receivers refused, and absolute links never
// taken from a header a client can set. Inngest Cloud's keys stand for "a
// production service" here: the routes under test send no event.
const server = useApiServer();
const SETTINGS = ["INNGEST_EVENT_KEY", "INNGEST_SIGNING_KEY", "PUBLIC_BASE_URL", "ALLOW_LOOPBACK_WEBHOOKS", "TRUST_FORWARDED_HOST", "LOG_LEVEL"];
const saved = Object.fromEntries(SETTINGS.map((k) => [k, process.env[k]]));

function rules(env: Record<string, string>) {
  for (const k of SETTINGS) delete process.env[k];
  Object.assign(process.env, { LOG_LEVEL: "silent", ...env });
  resetConfig();
}
const production = (extra: Record<string, string> = {}) => rules({ INNGEST_EVENT_KEY: "evt", INNGEST_SIGNING_KEY: "signkey-test", ...extra });
afterEach(() => {
  for (const k of SETTINGS) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
  resetConfig();
});

const spoofed = { "x-forwarded-host": "evil.example", "x-forwarded-proto": "https" };

describe("webhook URLs under production rules", () => {
  it("refuses http:// loopback receivers once a production service is configured, with no flag set (the issue's case)", async () => {
    const me = await createAccount();
    const api = client(server.url, me.token);
    production();
    for (const url of ["http://127.0.0.1:4000/hook", "http://localhost:22/", "http://[::1]:6379/", "https://127.0.0.1/hook"]) {
      const res = await api.post("/api/v1/webhooks", { url, events: ["operation.succeeded"] });
      expect(res.status, url).toBe(422);
      expect(res.body.code).toBe("webhook_url_not_allowed");
    }
    expect((await api.get("/api/v1/webhooks")).body).toEqual([]);
  });

  it("accepts them with the documented opt-in, and always in embedded mode", async () => {
    const me = await createAccount();
    const api = client(server.url, me.token);
    production({ ALLOW_LOOPBACK_WEBHOOKS: "1" });
    expect((await api.post("/api/v1/webhooks", { url: "http://127.0.0.1:4000/hook", events: ["operation.succeeded"] })).status).toBe(201);
    // With nothing set (the server-backed CI legs are production by their DATABASE_URL).
    rules({});
    const embedded = config().rules.mode === "embedded";
    expect((await api.post("/api/v1/webhooks", { url: "http://127.0.0.1:4001/hook", events: ["operation.succeeded"] })).status).toBe(embedded ? 201 : 422);
    // Never private or link-local addresses, in any mode.
    expect((await api.post("/api/v1/webhooks", { url: "http://10.0.0.1/hook", events: ["operation.succeeded"] })).status).toBe(422);
  });
});

describe("absolute links under production rules", () => {
  it("never take a spoofed X-Forwarded-Host into Location, nor into its idempotent replay: relative without PUBLIC_BASE_URL", async () => {
    const me = await createAccount();
    production();
    const api = client(server.url, me.token, spoofed);
    const first = await api.post("/api/v1/keys", { name: "k", scopes: ["read"] }, { headers: { "idempotency-key": "loc-1" } });
    expect(first.status).toBe(201);
    expect(first.headers.get("location")).toBe(`/api/v1/keys/${first.body.id}`);
    const replay = await api.post("/api/v1/keys", { name: "k", scopes: ["read"] }, { headers: { "idempotency-key": "loc-1" } });
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.headers.get("location")).toBe(`/api/v1/keys/${first.body.id}`);
    const page = await api.get("/api/v1/keys?limit=1");
    expect(page.headers.get("link")).toMatch(/^<\/api\/v1\/keys\?limit=1&cursor=key_[0-9a-z]+>; rel="next"$/);
    const doc = await api.get("/api/v1/openapi.json");
    expect(doc.body.servers).toEqual([{ url: "/", description: "This deployment" }]);
    expect(doc.text).not.toContain("evil.example");
  });

  it("come from PUBLIC_BASE_URL when it is set, whatever the request's headers say", async () => {
    const me = await createAccount();
    production({ PUBLIC_BASE_URL: "https://api.example.com/" });
    const api = client(server.url, me.token, spoofed);
    const res = await api.post("/api/v1/keys", { name: "k", scopes: ["read"] });
    expect(res.headers.get("location")).toBe(`https://api.example.com/api/v1/keys/${res.body.id}`);
    expect((await api.get("/api/v1/openapi.json")).body.servers[0].url).toBe("https://api.example.com");
  });

  it("come from the forwarded host only where the deployment vouches for it (TRUST_FORWARDED_HOST=1, embedded mode)", async () => {
    const me = await createAccount();
    production({ TRUST_FORWARDED_HOST: "1" });
    const res = await client(server.url, me.token, spoofed).post("/api/v1/keys", { name: "k", scopes: ["read"] });
    expect(res.headers.get("location")).toBe(`https://evil.example/api/v1/keys/${res.body.id}`);
    rules({});
    const local = await client(server.url, me.token).post("/api/v1/keys", { name: "k", scopes: ["read"] });
    const base = config().rules.mode === "embedded" ? server.url : ""; // the server-backed CI legs are production
    expect(local.headers.get("location")).toBe(`${base}/api/v1/keys/${local.body.id}`);
  });
});

describe("start-up says which rules apply", () => {
  it("logs production rules with their cause, and warns when links must stay relative", () => {
    production({ LOG_LEVEL: "info" });
    const out = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const err = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      logRules(config());
      const info = JSON.parse(String(out.mock.calls.find((c) => String(c[0]).includes("rules"))?.[0]));
      expect(info).toMatchObject({ msg: "production rules", loopback_webhooks: "refused", absolute_links_from: "relative" });
      expect(info.because).toContain("INNGEST_EVENT_KEY"); // and DATABASE_URL on the server-backed CI legs
      expect(String(err.mock.calls[0]?.[0])).toContain("PUBLIC_BASE_URL is not set");
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
  });
});
