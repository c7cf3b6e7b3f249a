import type { LookupAddress } from "node:dns";
import { setupServer } from "msw/node";
import { http as mswHttp, HttpResponse } from "msw";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attemptDelivery } from "@/lib/webhooks/attempt";
import type { LookupFn } from "@/lib/webhooks/ssrf";
import { startWebhookReceiver, type WebhookReceiver } from "@/tests/support/webhook-receiver";

const resolvesTo = (...addresses: string[]): LookupFn => async () =>
  addresses.map((address): LookupAddress => ({ address, family: address.includes(":") ? 6 : 4 }));

describe("attemptDelivery under msw (as later Inngest-function tests will run it)", () => {
  const server = setupServer(mswHttp.post("https://mocked.example.com/hook", () => HttpResponse.json({}, { status: 202 })));
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    server.listen({
      onUnhandledRequest(req, print) {
        const host = new URL(req.url).hostname;
        if (host === "127.0.0.1" || host === "localhost" || host === "[::1]") return;
        print.error();
      },
    });
    receiver = await startWebhookReceiver();
  });
  afterAll(async () => {
    server.close();
    await receiver.close();
  });

  it("msw handlers answer node:http requests", async () => {
    const r = await attemptDelivery({
      url: "https://mocked.example.com/hook",
      body: "{}",
      headers: {},
      mode: { allowLoopbackHttp: false },
      lookup: resolvesTo("93.184.215.14"),
    });
    expect(r).toMatchObject({ ok: true, responseStatus: 202 });
  });

  it("a mocked answer never reaches the socket, so the DNS guard is not exercised for mocked hosts", async () => {
    // Documenting msw's behaviour: SSRF behaviour must be tested without msw (ssrf/attempt tests).
    let called = false;
    const r = await attemptDelivery({
      url: "https://mocked.example.com/hook",
      body: "{}",
      headers: {},
      mode: { allowLoopbackHttp: false },
      lookup: async () => {
        called = true;
        return [{ address: "127.0.0.1", family: 4 }];
      },
    });
    expect(r).toMatchObject({ ok: true, responseStatus: 202 });
    expect(called).toBe(false);
  });

  it("loopback passthrough still reaches a real receiver", async () => {
    const r = await attemptDelivery({ url: receiver.url, body: "{}", headers: {}, mode: { allowLoopbackHttp: true } });
    expect(r).toMatchObject({ ok: true, responseStatus: 200 });
  });

  it("the connect-time guard still applies on passthrough", async () => {
    const before = receiver.connections;
    const r = await attemptDelivery({
      url: `http://localhost:${receiver.port}/hook`,
      body: "{}",
      headers: {},
      mode: { allowLoopbackHttp: true },
      lookup: resolvesTo("192.168.1.20"),
    });
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/disallowed address/);
    expect(receiver.connections).toBe(before);
  });
});
