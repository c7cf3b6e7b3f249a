import net from "node:net";
import type { LookupAddress } from "node:dns";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  checkWebhookUrl,
  classifyAddress,
  createGuardedLookup,
  resolveAndCheck,
  urlHost,
  validateWebhookUrl,
  type LookupFn,
} from "@/lib/webhooks/ssrf";
import { startWebhookReceiver, type WebhookReceiver } from "@/tests/support/webhook-receiver";

const production = { allowLoopbackHttp: false };
const embedded = { allowLoopbackHttp: true };

/** A fake resolver answering fixed addresses for any name. */
function resolvesTo(...addresses: string[]): LookupFn & ReturnType<typeof vi.fn> {
  return vi.fn(async () => addresses.map((address): LookupAddress => ({ address, family: address.includes(":") ? 6 : 4 })));
}

describe("odd IPv4 notations: the guard classifies the address they name, not the text", () => {
  it.each([
    ["http://2130706433/", "127.0.0.1", /loopback/],
    ["http://0x7f.1/", "127.0.0.1", /loopback/],
    ["http://0177.0.0.1/", "127.0.0.1", /loopback/],
    ["http://127.1/", "127.0.0.1", /loopback/],
    ["http://0x7f000001/", "127.0.0.1", /loopback/],
    ["http://127.0.0.1./", "127.0.0.1", /loopback/],
    ["http://%31%32%37.0.0.1/", "127.0.0.1", /loopback/],
    ["http://[::ffff:127.0.0.1]/", "::ffff:7f00:1", /loopback/],
    ["http://2852039166/", "169.254.169.254", /linkLocal/],
    ["http://0xa9.0xfe.0xa9.0xfe/", "169.254.169.254", /linkLocal/],
    ["http://3232235777/", "192.168.1.1", /private/],
    ["http://0/", "0.0.0.0", /unspecified/],
  ] as const)("%s is %s", (input, address, refusal) => {
    // Refused in production by the class of the address it names...
    const prod = checkWebhookUrl(input.replace(/^http:/, "https:"), production);
    expect(prod).toEqual({ ok: false, reason: expect.stringMatching(refusal) });
    // ...and in embedded mode, an http:// URL is accepted exactly when that address is loopback.
    const local = checkWebhookUrl(input, embedded);
    expect(local.ok).toBe(refusal.source === "loopback");
    if (local.ok) expect(urlHost(local.url)).toEqual({ host: address, isIp: true });
  });
});

describe("checkWebhookUrl, production mode", () => {
  it.each([
    "https://example.com/hook",
    "https://hooks.example.com:8443/path?x=1",
    "https://93.184.215.14/x",
    "https://8.8.8.8/",
    "https://[2606:4700:4700::1111]/hook",
    "https://Example.COM./hook",
  ])("accepts %s", (url) => {
    const r = checkWebhookUrl(url, production);
    expect(r).toMatchObject({ ok: true });
    if (r.ok) expect(r.url).toBeInstanceOf(URL);
  });

  it.each([
    // scheme
    ["http://example.com/hook", /https/],
    ["ftp://example.com/", /https/],
    ["file:///etc/passwd", /https/],
    ["javascript:alert(1)", /https/],
    ["not a url", /not valid/],
    ["", /required/],
    // credentials
    ["https://user:pass@example.com/", /credentials/],
    ["https://user@example.com/", /credentials/],
    ["https://:pass@example.com/", /credentials/],
    // private
    ["https://10.0.0.1/", /private/],
    ["https://10.255.255.255/", /private/],
    ["https://172.16.0.1/", /private/],
    ["https://172.31.255.254/", /private/],
    ["https://192.168.1.1/", /private/],
    ["https://[fc00::1]/", /uniqueLocal/],
    ["https://[fd12:3456::1]/", /uniqueLocal/],
    ["https://[fd00:ec2::254]/", /uniqueLocal/], // AWS IMDS over IPv6
    // loopback
    ["https://127.0.0.1/", /loopback/],
    ["https://127.8.9.10/", /loopback/],
    ["https://[::1]/", /loopback/],
    ["https://[0:0:0:0:0:0:0:1]/", /loopback/],
    // link-local and metadata
    ["https://169.254.169.254/latest/meta-data/", /linkLocal/],
    ["https://169.254.1.1/", /linkLocal/],
    ["https://[fe80::1]/", /linkLocal/],
    // unspecified, broadcast, CGNAT, multicast, reserved
    ["https://0.0.0.0/", /unspecified/],
    ["https://[::]/", /unspecified/],
    ["https://255.255.255.255/", /broadcast/],
    ["https://100.64.0.1/", /carrierGradeNat/],
    ["https://100.100.100.200/", /carrierGradeNat/], // Alibaba metadata
    ["https://224.0.0.1/", /multicast/],
    ["https://[ff02::1]/", /multicast/],
    ["https://240.0.0.1/", /reserved/],
    ["https://192.0.2.1/", /reserved/],
    // IPv4-mapped / embedded IPv6 forms
    ["https://[::ffff:127.0.0.1]/", /ipv4Mapped\(loopback\)|loopback/],
    ["https://[::ffff:7f00:1]/", /loopback/],
    ["https://[::ffff:169.254.169.254]/", /linkLocal/],
    ["https://[0:0:0:0:0:ffff:a9fe:a9fe]/", /linkLocal/],
    ["https://[::ffff:10.0.0.1]/", /private/],
    ["https://[::127.0.0.1]/", /forbidden/], // IPv4-compatible (deprecated)
    ["https://[64:ff9b::a9fe:a9fe]/", /rfc6052/], // NAT64 of the metadata address
    ["https://[64:ff9b::7f00:1]/", /rfc6052/],
    ["https://[2002:7f00:1::]/", /6to4/],
    ["https://[2001::1]/", /teredo/],
    ["https://[2001:db8::1]/", /forbidden/],
    // decimal / octal / hex IPv4
    ["https://2130706433/", /loopback/],
    ["https://0x7f.1/", /loopback/],
    ["https://0177.0.0.1/", /loopback/],
    ["https://127.1/", /loopback/],
    ["https://2852039166/", /linkLocal/],
    ["https://0xa9fea9fe/", /linkLocal/],
    ["https://3232235777/", /private/],
    ["https://0/", /unspecified/],
    // names
    ["https://localhost/", /loopback/],
    ["https://LOCALHOST./", /loopback/],
    ["https://foo.localhost/", /localhost/],
    ["https://metadata.google.internal/computeMetadata/v1/", /metadata/],
    ["https://metadata.google.internal./", /metadata/],
    ["https://METADATA.GOOGLE.INTERNAL/", /metadata/],
    ["https://metadata/", /metadata/],
    ["https://metadata.goog/", /metadata/],
    ["https://instance-data.ec2.internal/", /metadata/],
    ["https://my-app.internal/", /\.internal/],
    ["https://my-app.flycast/", /\.flycast/],
    ["https://printer.local/", /\.local/],
    ["https://webhooks/", /fully qualified/],
    ["https://intranet/", /intranet/],
  ])("refuses %s", (url, reason) => {
    const r = checkWebhookUrl(url, production);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });
});

describe("checkWebhookUrl, embedded mode (allowLoopbackHttp)", () => {
  it.each([
    "http://127.0.0.1:3000/hook",
    "http://127.5.6.7/",
    "http://[::1]:8080/hook",
    "http://localhost:3000/hook",
    "http://2130706433:3000/", // decimal loopback is still loopback
    "https://localhost/",
    "https://example.com/hook",
  ])("accepts %s", (url) => {
    expect(checkWebhookUrl(url, embedded)).toMatchObject({ ok: true });
  });

  it.each([
    ["http://10.0.0.1/", /private/],
    ["http://192.168.1.10:8080/", /private/],
    ["https://10.0.0.1/", /private/],
    ["http://169.254.169.254/", /linkLocal/],
    ["https://169.254.169.254/", /linkLocal/],
    ["http://[fe80::1]/", /linkLocal/],
    ["http://[fd00::1]/", /uniqueLocal/],
    ["http://0.0.0.0:3000/", /unspecified/],
    ["http://[::ffff:a9fe:a9fe]/", /linkLocal/],
    ["http://example.com/", /loopback/], // http only to loopback
    ["http://8.8.8.8/", /loopback/],
    ["http://metadata.google.internal/", /metadata/],
    ["http://user:pw@localhost:3000/", /credentials/],
  ])("refuses %s", (url, reason) => {
    const r = checkWebhookUrl(url, embedded);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });
});

describe("classifyAddress", () => {
  it("classifies with ipaddr.js", () => {
    expect(classifyAddress("8.8.8.8")).toEqual({ kind: "public" });
    expect(classifyAddress("2606:4700:4700::1111")).toEqual({ kind: "public" });
    expect(classifyAddress("127.0.0.1")).toEqual({ kind: "loopback" });
    expect(classifyAddress("::1")).toEqual({ kind: "loopback" });
    expect(classifyAddress("::ffff:7f00:1")).toEqual({ kind: "loopback" });
    expect(classifyAddress("10.1.2.3")).toEqual({ kind: "forbidden", range: "private" });
    expect(classifyAddress("fe80::1%eth0").kind).toBe("forbidden");
    expect(classifyAddress("not-an-ip")).toEqual({ kind: "forbidden", range: "invalid" });
    expect(classifyAddress("2130706433")).toEqual({ kind: "forbidden", range: "invalid" }); // only normalised forms
  });
});

describe("resolveAndCheck", () => {
  it("refuses a name that resolves to 127.0.0.1 in production mode", async () => {
    const lookup = resolvesTo("127.0.0.1");
    const r = await resolveAndCheck("rebind.example.com", production, lookup);
    expect(r).toEqual({ ok: false, reason: expect.stringMatching(/loopback/) });
    expect(lookup).toHaveBeenCalledWith("rebind.example.com", { all: true });
  });

  it("refuses if ANY resolved address is forbidden", async () => {
    const r = await resolveAndCheck("mixed.example.com", production, resolvesTo("93.184.215.14", "10.0.0.7"));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.reason).toMatch(/private/);
      expect(r.reason).not.toContain("10.0.0.7"); // never echo internal DNS answers
    }
  });

  it.each([["169.254.169.254"], ["::ffff:127.0.0.1"], ["fd00::1"], ["fe80::1"], ["100.64.1.1"], ["0.0.0.0"]])(
    "refuses a name resolving to %s",
    async (addr) => {
      expect((await resolveAndCheck("x.example.com", production, resolvesTo(addr))).ok).toBe(false);
    },
  );

  it("accepts a name resolving only to public addresses", async () => {
    const r = await resolveAndCheck("hooks.example.com", production, resolvesTo("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"));
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.addresses).toHaveLength(2);
  });

  it("accepts a name resolving to loopback in embedded mode, but never private", async () => {
    expect((await resolveAndCheck("dev.example.com", embedded, resolvesTo("127.0.0.1"))).ok).toBe(true);
    expect((await resolveAndCheck("dev.example.com", embedded, resolvesTo("10.0.0.1"))).ok).toBe(false);
    expect((await resolveAndCheck("dev.example.com", embedded, resolvesTo("169.254.169.254"))).ok).toBe(false);
  });

  it("checks IP literals without DNS", async () => {
    const lookup = resolvesTo("8.8.8.8");
    expect((await resolveAndCheck("[::1]", production, lookup)).ok).toBe(false);
    expect((await resolveAndCheck("10.0.0.1", production, lookup)).ok).toBe(false);
    expect((await resolveAndCheck("8.8.4.4", production, lookup)).ok).toBe(true);
    expect(lookup).not.toHaveBeenCalled();
  });

  it("refuses names that do not resolve", async () => {
    const failing: LookupFn = async () => {
      throw Object.assign(new Error("getaddrinfo ENOTFOUND"), { code: "ENOTFOUND" });
    };
    expect(await resolveAndCheck("nx.example.com", production, failing)).toEqual({ ok: false, reason: "hostname could not be resolved" });
    expect((await resolveAndCheck("empty.example.com", production, resolvesTo())).ok).toBe(false);
  });

  it("uses the system resolver by default (localhost is loopback)", async () => {
    expect((await resolveAndCheck("localhost", embedded)).ok).toBe(true);
    expect((await resolveAndCheck("localhost", production)).ok).toBe(false);
  });
});

describe("validateWebhookUrl (static check + DNS)", () => {
  it("refuses https to a name resolving to loopback in production", async () => {
    const r = await validateWebhookUrl("https://hooks.example.com/x", production, resolvesTo("127.0.0.1"));
    expect(r.ok).toBe(false);
  });

  it("requires an http:// URL in embedded mode to resolve to loopback only", async () => {
    expect((await validateWebhookUrl("http://localhost:3000/x", embedded, resolvesTo("127.0.0.1", "::1"))).ok).toBe(true);
    expect((await validateWebhookUrl("http://localhost:3000/x", embedded, resolvesTo("127.0.0.1", "10.0.0.1"))).ok).toBe(false);
    expect((await validateWebhookUrl("http://localhost:3000/x", embedded, resolvesTo("8.8.8.8"))).ok).toBe(false);
  });

  it("passes a public https URL", async () => {
    const r = await validateWebhookUrl("https://hooks.example.com/x", production, resolvesTo("93.184.215.14"));
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.url.href).toBe("https://hooks.example.com/x");
  });
});

describe("createGuardedLookup (connect-time guard)", () => {
  let receiver: WebhookReceiver;
  beforeEach(async () => {
    receiver = await startWebhookReceiver();
  });
  afterEach(async () => {
    await receiver.close();
  });

  function connect(host: string, lookup: ReturnType<typeof createGuardedLookup>): Promise<"connected" | Error> {
    return new Promise((resolve) => {
      const socket = net.connect({ host, port: receiver.port, lookup });
      socket.once("connect", () => {
        socket.destroy();
        resolve("connected");
      });
      socket.once("error", (err) => resolve(err));
    });
  }

  it("stops a real socket from connecting when the name now resolves to loopback (rebinding)", async () => {
    const guarded = createGuardedLookup({ allowLoopback: false }, resolvesTo("127.0.0.1"));
    const outcome = await connect("rebind.example.com", guarded);
    expect(outcome).toBeInstanceOf(Error);
    expect((outcome as NodeJS.ErrnoException).code).toBe("ERR_WEBHOOK_ADDRESS_FORBIDDEN");
    await new Promise((r) => setTimeout(r, 50));
    expect(receiver.connections).toBe(0);
  });

  it("lets the same socket connect when loopback is allowed (positive control)", async () => {
    const guarded = createGuardedLookup({ allowLoopback: true }, resolvesTo("127.0.0.1"));
    expect(await connect("dev.example.com", guarded)).toBe("connected");
    await new Promise((r) => setTimeout(r, 50));
    expect(receiver.connections).toBe(1);
  });

  it("answers both callback shapes (all: true and single address) and filters by family", async () => {
    const guarded = createGuardedLookup({ allowLoopback: false }, resolvesTo("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"));
    const all = await new Promise<unknown>((resolve) => guarded("h.example.com", { all: true }, (err, a) => resolve(err ?? a)));
    expect(all).toHaveLength(2);
    const one = await new Promise<unknown[]>((resolve) => guarded("h.example.com", {}, (err, a, f) => resolve([err, a, f])));
    expect(one).toEqual([null, "93.184.215.14", 4]);
    const v6 = await new Promise<unknown[]>((resolve) => guarded("h.example.com", { family: 6 }, (err, a, f) => resolve([err, a, f])));
    expect(v6).toEqual([null, "2606:2800:21f:cb07:6820:80da:af6b:8b2c", 6]);
  });

  it("refuses when any address is forbidden, even if the first is public", async () => {
    const guarded = createGuardedLookup({ allowLoopback: false }, resolvesTo("93.184.215.14", "169.254.169.254"));
    const err = await new Promise<unknown>((resolve) => guarded("h.example.com", { all: true }, (e) => resolve(e)));
    expect(err).toMatchObject({ code: "ERR_WEBHOOK_ADDRESS_FORBIDDEN" });
  });

  it("with requireLoopback refuses public addresses (embedded http://)", async () => {
    const guarded = createGuardedLookup({ allowLoopback: true, requireLoopback: true }, resolvesTo("8.8.8.8"));
    const err = await new Promise<unknown>((resolve) => guarded("localhost", {}, (e) => resolve(e)));
    expect(err).toMatchObject({ code: "ERR_WEBHOOK_ADDRESS_FORBIDDEN" });
  });

  it("turns a throwing resolver into a lookup error", async () => {
    const guarded = createGuardedLookup({ allowLoopback: false }, () => {
      throw new Error("boom");
    });
    const err = await new Promise<unknown>((resolve) => guarded("h.example.com", {}, (e) => resolve(e)));
    expect(err).toBeInstanceOf(Error);
  });
});
