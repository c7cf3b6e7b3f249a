import type { LookupAddress } from "node:dns";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { attemptDelivery } from "@/lib/webhooks/attempt";
import { generateSecret, signHeaders } from "@/lib/webhooks/signing";
import type { LookupFn } from "@/lib/webhooks/ssrf";
import { startWebhookReceiver, type WebhookReceiver } from "@/tests/support/webhook-receiver";

const production = { allowLoopbackHttp: false };
const embedded = { allowLoopbackHttp: true };

function resolvesTo(...addresses: string[]): LookupFn & ReturnType<typeof vi.fn> {
  return vi.fn(async () => addresses.map((address): LookupAddress => ({ address, family: address.includes(":") ? 6 : 4 })));
}

function event(id = "op_123") {
  return JSON.stringify({ type: "operation.succeeded", timestamp: new Date().toISOString(), data: { id, status: "succeeded" } });
}

const settle = () => new Promise((r) => setTimeout(r, 50));

describe("attemptDelivery against a real local receiver", () => {
  const current = generateSecret();
  const previous = generateSecret();
  let receiver: WebhookReceiver;
  let other: WebhookReceiver;

  beforeEach(async () => {
    receiver = await startWebhookReceiver({ secrets: [current, previous] });
    other = await startWebhookReceiver();
  });
  afterEach(async () => {
    await receiver.close();
    await other.close();
  });

  it("delivers a signed POST that the receiver's standardwebhooks verifier accepts", async () => {
    const body = event();
    const headers = signHeaders({ secrets: [current], msgId: "msg_1", timestamp: new Date(), body });
    const r = await attemptDelivery({ url: receiver.url, body, headers, mode: embedded });
    expect(r).toMatchObject({ ok: true, responseStatus: 200, error: null, disable: false });
    expect(Number.isInteger(r.durationMs)).toBe(true); // whole milliseconds, as delivery records show them

    expect(receiver.requests).toHaveLength(1);
    const req = receiver.requests[0]!;
    expect(req.method).toBe("POST");
    expect(req.path).toBe("/hook");
    expect(req.headers["content-type"]).toBe("application/json");
    expect(req.headers["webhook-id"]).toBe("msg_1");
    expect(req.body).toBe(body);
    expect(req.verifications[0]).toMatchObject({ ok: true, payload: JSON.parse(body) });
    // signed with the current secret only: the previous one does not verify
    expect(req.verifications[1]!.ok).toBe(false);
  });

  it("with two secrets (rotation grace), both verify, each on its own", async () => {
    const body = event();
    const headers = signHeaders({ secrets: [current, previous], msgId: "msg_2", timestamp: new Date(), body });
    const r = await attemptDelivery({ url: receiver.url, body, headers, mode: embedded });
    expect(r.ok).toBe(true);
    const req = receiver.requests[0]!;
    expect(String(req.headers["webhook-signature"]).split(" ")).toHaveLength(2);
    expect(req.verifications.map((v) => [v.secret, v.ok])).toEqual([
      [current, true],
      [previous, true],
    ]);
  });

  it("records a 5xx as a failure with its status", async () => {
    receiver.respondWith({ type: "status", status: 503, body: "down" });
    const r = await attemptDelivery({ url: receiver.url, body: event(), headers: {}, mode: embedded });
    expect(r).toMatchObject({ ok: false, responseStatus: 503, disable: false });
    expect(r.error).toMatch(/503/);
  });

  it("treats 4xx other than 410 as a plain failure", async () => {
    receiver.respondWith({ type: "status", status: 400 });
    expect(await attemptDelivery({ url: receiver.url, body: event(), headers: {}, mode: embedded })).toMatchObject({
      ok: false,
      responseStatus: 400,
      disable: false,
    });
  });

  it("410 Gone fails with disable: true", async () => {
    receiver.respondWith({ type: "status", status: 410 });
    const r = await attemptDelivery({ url: receiver.url, body: event(), headers: {}, mode: embedded });
    expect(r).toMatchObject({ ok: false, responseStatus: 410, disable: true });
  });

  it("accepts any 2xx", async () => {
    receiver.respondWith({ type: "status", status: 204 });
    expect(await attemptDelivery({ url: receiver.url, body: event(), headers: {}, mode: embedded })).toMatchObject({
      ok: true,
      responseStatus: 204,
    });
  });

  it("times out on a receiver that hangs", async () => {
    receiver.respondWith({ type: "hang" });
    const r = await attemptDelivery({ url: receiver.url, body: event(), headers: {}, mode: embedded, timeoutMs: 300 });
    expect(r).toMatchObject({ ok: false, responseStatus: null, disable: false });
    expect(r.error).toMatch(/timed out after 300 ms/);
    // The recorded duration is the time waited, not zero.
    expect(r.durationMs).toBeGreaterThanOrEqual(250);
    expect(receiver.requests).toHaveLength(1); // it did arrive
  });

  it.each([301, 302, 303, 307, 308] as const)("does not follow a %i redirect to the metadata address", async (status) => {
    receiver.respondWith({ type: "redirect", status, location: "http://169.254.169.254/latest/meta-data/" });
    const r = await attemptDelivery({ url: receiver.url, body: event(), headers: {}, mode: embedded, timeoutMs: 2_000 });
    expect(r).toMatchObject({ ok: false, responseStatus: status, disable: false });
    expect(r.error).toMatch(/redirect/);
    expect(receiver.requests).toHaveLength(1);
  });

  it("does not follow a redirect to a private address or to another host", async () => {
    receiver.respondWith({ type: "redirect", location: "http://10.0.0.1/internal" });
    expect((await attemptDelivery({ url: receiver.url, body: event(), headers: {}, mode: embedded })).ok).toBe(false);

    receiver.respondWith({ type: "redirect", location: other.url });
    const r = await attemptDelivery({ url: receiver.url, body: event(), headers: {}, mode: embedded });
    expect(r).toMatchObject({ ok: false, responseStatus: 302 });
    await settle();
    expect(other.connections).toBe(0);
    expect(other.requests).toHaveLength(0);
  });

  it("reads at most a few KB of the response body (an endless body does not stall the attempt)", async () => {
    receiver.respondWith({ type: "stream" });
    // Reading the whole endless body would run into the attempt's timeout and fail it.
    const r = await attemptDelivery({ url: receiver.url, body: event(), headers: {}, mode: embedded, timeoutMs: 20_000 });
    expect(r).toMatchObject({ ok: true, responseStatus: 200, error: null });
  });

  it("reports a refused connection as an error without status", async () => {
    const port = other.port;
    await other.close();
    const r = await attemptDelivery({ url: `http://127.0.0.1:${port}/hook`, body: event(), headers: {}, mode: embedded });
    expect(r).toMatchObject({ ok: false, responseStatus: null, disable: false });
    expect(r.error).toMatch(/ECONNREFUSED/);
    other = await startWebhookReceiver(); // for afterEach
  });

  it("never throws, and error strings never contain the secret or signature", async () => {
    const body = event();
    const headers = signHeaders({ secrets: [current], msgId: "msg_3", timestamp: new Date(), body });
    const results = await Promise.all([
      attemptDelivery({ url: "not a url", body, headers, mode: embedded }),
      attemptDelivery({ url: receiver.url, body, headers: { ...headers, "x-bad": "a\r\nb" }, mode: embedded }),
      attemptDelivery({ url: `http://127.0.0.1:1/hook?token=${current}`, body, headers, mode: embedded }),
    ]);
    for (const r of results) {
      expect(r.ok).toBe(false);
      expect(typeof r.error).toBe("string");
      expect(r.error).not.toContain(current.slice(6));
      expect(r.error).not.toContain(headers["webhook-signature"].slice(3));
    }
  });

  it("resolves names through the injected lookup (embedded: http://localhost -> 127.0.0.1)", async () => {
    const lookup = resolvesTo("127.0.0.1");
    const r = await attemptDelivery({ url: `http://localhost:${receiver.port}/hook`, body: event(), headers: {}, mode: embedded, lookup });
    expect(r.ok).toBe(true);
    expect(lookup).toHaveBeenCalled();
  });
});

describe("attemptDelivery SSRF guard", () => {
  let receiver: WebhookReceiver;
  beforeEach(async () => {
    receiver = await startWebhookReceiver();
  });
  afterEach(async () => {
    await receiver.close();
  });

  it("refuses http:// in production mode without connecting", async () => {
    const r = await attemptDelivery({ url: receiver.url, body: event(), headers: {}, mode: production });
    expect(r).toMatchObject({ ok: false, responseStatus: null, disable: false });
    expect(r.error).toMatch(/https/);
    await settle();
    expect(receiver.connections).toBe(0);
  });

  it("refuses a name that now resolves to 127.0.0.1 (DNS rebinding) at connect time", async () => {
    const lookup = resolvesTo("127.0.0.1");
    const r = await attemptDelivery({
      url: `https://hooks.example.com:${receiver.port}/hook`,
      body: event(),
      headers: {},
      mode: production,
      lookup,
    });
    expect(r).toMatchObject({ ok: false, responseStatus: null });
    expect(r.error).toMatch(/disallowed address.*loopback/);
    expect(lookup).toHaveBeenCalled();
    await settle();
    expect(receiver.connections).toBe(0);
  });

  it("refuses a name resolving to a private or metadata address even in embedded mode", async () => {
    for (const addr of ["10.0.0.1", "169.254.169.254", "::ffff:169.254.169.254", "fd00::1"]) {
      const r = await attemptDelivery({
        url: `https://hooks.example.com:${receiver.port}/hook`,
        body: event(),
        headers: {},
        mode: embedded,
        lookup: resolvesTo(addr),
      });
      expect(r.ok).toBe(false);
      expect(r.error).toMatch(/disallowed address/);
    }
  });

  it("refuses http://localhost in embedded mode if it resolves to a non-loopback address", async () => {
    const r = await attemptDelivery({
      url: `http://localhost:${receiver.port}/hook`,
      body: event(),
      headers: {},
      mode: embedded,
      lookup: resolvesTo("127.0.0.1", "192.168.1.20"),
    });
    expect(r.ok).toBe(false);
    await settle();
    expect(receiver.connections).toBe(0);
  });

  it.each([
    "http://10.0.0.1/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fe80::1]/",
    "http://2852039166/",
    "http://[::ffff:a9fe:a9fe]/",
    "https://192.168.0.1/",
  ])("refuses the IP literal %s in embedded mode without any network", async (url) => {
    const lookup = resolvesTo("127.0.0.1");
    const r = await attemptDelivery({ url, body: event(), headers: {}, mode: embedded, lookup, timeoutMs: 1_000 });
    expect(r).toMatchObject({ ok: false, responseStatus: null });
    expect(r.error).toMatch(/^URL refused/);
    expect(lookup).not.toHaveBeenCalled();
  });

  it.each(["https://[::1]/", "https://127.0.0.1/", "https://2130706433/", "https://[::ffff:127.0.0.1]/"])(
    "refuses the loopback literal %s in production mode",
    async (url) => {
      const r = await attemptDelivery({ url, body: event(), headers: {}, mode: production, timeoutMs: 1_000 });
      expect(r.ok).toBe(false);
      expect(r.error).toMatch(/^URL refused/);
    },
  );
});
