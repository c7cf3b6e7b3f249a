import type { LookupAddress } from "node:dns";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { config } from "@/lib/config";
import { client, createAccount, createRunningInstance, uniqueSubdomain, waitForOperation } from "../support/fixtures";
import { useApiServer } from "../support/security";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver";
import { jobs } from "./harness";

// Names resolve through this table (tests have no real DNS), looked up the way the
// SSRF guard calls the resolver (dns.promises.lookup with all: true), both at
// registration and at connect time.
const dns = vi.hoisted(() => ({ table: new Map<string, string[]>() }));
vi.mock("node:dns/promises", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:dns/promises")>();
  const lookup = async (host: string): Promise<LookupAddress[]> => {
    const addresses = dns.table.get(host);
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" });
    return addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  };
  return { ...actual, default: { ...actual, lookup }, lookup };
});

const server = useApiServer();
let receiver: WebhookReceiver;
beforeAll(async () => {
  receiver = await startWebhookReceiver();
});
afterAll(async () => {
  await jobs.idle();
  await receiver.close();
});

/** Production rules (any production service configured, DESIGN 2) decide which URLs are accepted; the rest of the test config stays. */
const embeddedRules = config().allowLoopbackWebhooks;
function productionMode(on: boolean) {
  config().allowLoopbackWebhooks = on ? false : embeddedRules;
}
beforeEach(() => {
  jobs.reset();
  dns.table.clear();
  dns.table.set("localhost", ["127.0.0.1", "::1"]);
  dns.table.set("hooks.example.com", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]);
  dns.table.set("loopback.example.com", ["127.0.0.1"]);
  dns.table.set("loopback6.example.com", ["::1"]);
  dns.table.set("private.example.com", ["10.20.30.40"]);
  dns.table.set("mixed.example.com", ["93.184.215.14", "192.168.1.20"]);
  dns.table.set("metadata.example.com", ["169.254.169.254"]);
});
afterEach(() => productionMode(false));

const create = async (api: ReturnType<typeof client>, url: string) => api.post("/api/v1/webhooks", { url, events: ["operation.succeeded"] });

async function expectRefused(api: ReturnType<typeof client>, url: string, reason: RegExp) {
  const res = await create(api, url);
  expect(res.status, url).toBe(422);
  expect(res.body.code, url).toBe("webhook_url_not_allowed");
  expect(res.body.detail, url).toMatch(reason);
  expect(res.body.errors[0].path).toBe("url");
}

describe("registration in production mode: https to public addresses only", () => {
  beforeEach(() => productionMode(true));

  it("accepts an https URL whose name resolves to public addresses only", async () => {
    const api = client(server.url, (await createAccount()).token);
    const res = await create(api, "https://hooks.example.com/openclaw?token=abc");
    expect(res.status).toBe(201);
    expect(res.body.url).toBe("https://hooks.example.com/openclaw?token=abc");
  });

  it("refuses http, even to loopback", async () => {
    const api = client(server.url, (await createAccount()).token);
    await expectRefused(api, "http://hooks.example.com/hook", /must use https/);
    await expectRefused(api, receiver.url, /must use https/);
  });

  it("refuses private, loopback, link-local and metadata addresses given as IP literals", async () => {
    const api = client(server.url, (await createAccount()).token);
    const cases: [string, RegExp][] = [
      ["https://127.0.0.1/hook", /loopback/],
      ["https://127.9.9.9:8443/hook", /loopback/],
      ["https://[::1]/hook", /loopback/],
      ["https://[::ffff:127.0.0.1]/hook", /loopback/],
      ["https://0x7f000001/hook", /loopback/], // the WHATWG parser makes it 127.0.0.1
      ["https://10.0.0.7/hook", /private/],
      ["https://172.16.5.4/hook", /private/],
      ["https://192.168.1.10/hook", /private/],
      ["https://[fd00::1]/hook", /uniqueLocal/],
      ["https://169.254.169.254/latest/meta-data/", /linkLocal/],
      ["https://[fe80::1]/hook", /linkLocal/],
      ["https://100.64.0.1/hook", /carrierGradeNat/],
      ["https://0.0.0.0/hook", /unspecified/],
    ];
    for (const [url, reason] of cases) await expectRefused(api, url, reason);
  });

  it("refuses names that resolve to a forbidden address (any one of them), internal names, and names that do not resolve", async () => {
    const api = client(server.url, (await createAccount()).token);
    await expectRefused(api, "https://loopback.example.com/hook", /resolves to a disallowed address.*loopback/);
    await expectRefused(api, "https://loopback6.example.com/hook", /resolves to a disallowed address.*loopback/);
    await expectRefused(api, "https://private.example.com/hook", /resolves to a disallowed address.*private/);
    await expectRefused(api, "https://mixed.example.com/hook", /resolves to a disallowed address.*private/);
    await expectRefused(api, "https://metadata.example.com/hook", /resolves to a disallowed address.*linkLocal/);
    await expectRefused(api, "https://localhost/hook", /loopback/);
    await expectRefused(api, "https://metadata.google.internal/computeMetadata/v1/", /metadata|internal/);
    await expectRefused(api, "https://nowhere.example.com/hook", /could not be resolved/);
    await expectRefused(api, "https://user:secret@hooks.example.com/hook", /credentials/);
    // The reason never shows what a name resolved to.
    const res = await create(api, "https://private.example.com/hook");
    expect(res.text).not.toContain("10.20.30.40");
    expect((await api.get("/api/v1/webhooks")).body).toEqual([]);
  });

  it("checks a URL changed with PATCH the same way", async () => {
    const api = client(server.url, (await createAccount()).token);
    const ep = await create(api, "https://hooks.example.com/hook");
    const res = await api.patch(`/api/v1/webhooks/${ep.body.id}`, { url: "https://loopback.example.com/hook" });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe("webhook_url_not_allowed");
    expect((await api.get(`/api/v1/webhooks/${ep.body.id}`)).body.url).toBe("https://hooks.example.com/hook");
  });
});

describe("registration in the embedded default: also http:// loopback, never private or link-local", () => {
  it("accepts http:// loopback URLs, so deliveries can be watched locally", async () => {
    const api = client(server.url, (await createAccount()).token);
    for (const url of [receiver.url, `http://localhost:${receiver.port}/hook`, `http://[::1]:${receiver.port}/hook`]) {
      expect((await create(api, url)).status, url).toBe(201);
    }
  });

  it("still refuses private, link-local and metadata addresses, and http:// to anything but loopback", async () => {
    const api = client(server.url, (await createAccount()).token);
    await expectRefused(api, "http://10.0.0.1/hook", /.+/);
    await expectRefused(api, "http://192.168.0.2:8080/hook", /.+/);
    await expectRefused(api, "http://169.254.169.254/latest/meta-data/", /.+/);
    await expectRefused(api, "https://169.254.169.254/latest/meta-data/", /linkLocal/);
    await expectRefused(api, "https://private.example.com/hook", /private/);
    await expectRefused(api, "http://hooks.example.com/hook", /only allowed to loopback/);
    await expectRefused(api, "http://loopback.example.com/hook", /only allowed to loopback/);
  });
});

describe("delivery-time checks", () => {
  it("refuses to connect when a registered name now resolves to a loopback address (DNS rebinding)", async () => {
    productionMode(true);
    const me = await createAccount({ limits: { heavy: 100 } });
    const api = client(server.url, me.token);
    const inst = await createRunningInstance(api, uniqueSubdomain("rebind"));
    await jobs.idle();
    dns.table.set("rebind.example.com", ["93.184.215.14"]);
    const ep = await create(api, `https://rebind.example.com:${receiver.port}/hook`);
    expect(ep.status).toBe(201);

    dns.table.set("rebind.example.com", ["127.0.0.1"]);
    const connectionsBefore = receiver.connections;
    const stop = await api.post(`/api/v1/instances/${inst.id}/stop`);
    await waitForOperation(api, stop.body.id);
    await jobs.idle();

    const [d] = (await api.get(`/api/v1/webhooks/${ep.body.id}/deliveries`)).body;
    expect(d.status).toBe("failed");
    expect(d.attempts).toHaveLength(8);
    for (const a of d.attempts) {
      expect(a).toMatchObject({ response_status: null, error: expect.stringMatching(/disallowed address.*loopback/) });
      expect(a.error).not.toContain("127.0.0.1");
    }
    expect(receiver.connections).toBe(connectionsBefore);
  });

  it("refuses an http:// loopback URL registered in the embedded default once production rules apply", async () => {
    const me = await createAccount({ limits: { heavy: 100 } });
    const api = client(server.url, me.token);
    const inst = await createRunningInstance(api, uniqueSubdomain("prod"));
    await jobs.idle();
    const ep = await create(api, receiver.url);
    expect(ep.status).toBe(201);

    productionMode(true);
    const requestsBefore = receiver.requests.length;
    const stop = await api.post(`/api/v1/instances/${inst.id}/stop`);
    await waitForOperation(api, stop.body.id);
    await jobs.idle();
    const [d] = (await api.get(`/api/v1/webhooks/${ep.body.id}/deliveries`)).body;
    expect(d.attempts[0]).toMatchObject({ response_status: null, error: "URL refused: URL must use https" });
    expect(receiver.requests.length).toBe(requestsBefore);
  });
});
