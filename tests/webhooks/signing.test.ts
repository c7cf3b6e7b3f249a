import { randomBytes } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { generateSecret, isValidSecret, signHeaders } from "@/lib/webhooks/signing";

const body = JSON.stringify({ type: "operation.succeeded", timestamp: "2026-01-01T00:00:00.000Z", data: { id: "op_1" } });

describe("generateSecret", () => {
  it("returns whsec_ + base64 of 32 random bytes, different every time", () => {
    const a = generateSecret();
    const b = generateSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
    expect(Buffer.from(a.slice("whsec_".length), "base64")).toHaveLength(32);
    expect(a).not.toBe(b);
    expect(isValidSecret(a)).toBe(true);
    // the library accepts it
    expect(() => new Webhook(a)).not.toThrow();
  });

  it("isValidSecret refuses malformed secrets", () => {
    expect(isValidSecret("")).toBe(false);
    expect(isValidSecret("abc")).toBe(false);
    expect(isValidSecret("whsec_")).toBe(false);
    expect(isValidSecret("whsec_not base64!")).toBe(false);
    expect(isValidSecret("whsec_" + randomBytes(8).toString("base64"))).toBe(false); // too short
    expect(isValidSecret("whsec_" + randomBytes(24).toString("base64"))).toBe(true); // Svix-sized
  });
});

describe("signHeaders", () => {
  it("produces Standard Webhooks headers the library verifies", () => {
    const secret = generateSecret();
    const now = new Date();
    const headers = signHeaders({ secrets: [secret], msgId: "msg_abc123", timestamp: now, body });
    expect(headers["webhook-id"]).toBe("msg_abc123");
    expect(headers["webhook-timestamp"]).toBe(String(Math.floor(now.getTime() / 1000)));
    expect(headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]+={0,2}$/);
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
  });

  it("reproduces the Standard Webhooks specification's known-answer vector", () => {
    // The spec's own example (https://github.com/standard-webhooks/standard-webhooks, spec/standard-webhooks.md),
    // also the reference library's "sign function works" test (libraries/javascript/src/webhook.test.ts):
    // HMAC-SHA256 of "<id>.<timestamp>.<body>" under the base64-decoded secret. An oracle independent of the
    // library the signing uses, so a change of library, encoding or signed string would show here.
    const headers = signHeaders({
      secrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
      msgId: "msg_p5jXN8AQM9LWM0D4loKWxJek",
      timestamp: new Date(1614265330 * 1000),
      body: '{"test": 2432232314}',
    });
    expect(headers).toEqual({
      "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
      "webhook-timestamp": "1614265330",
      "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    });
  });

  it("fails verification for a tampered body, another id or another secret", () => {
    const secret = generateSecret();
    const headers = signHeaders({ secrets: [secret], msgId: "msg_1", timestamp: new Date(), body });
    expect(() => new Webhook(secret).verify(body + " ", headers)).toThrow();
    expect(() => new Webhook(secret).verify(body, { ...headers, "webhook-id": "msg_2" })).toThrow();
    expect(() => new Webhook(generateSecret()).verify(body, headers)).toThrow();
  });

  it("signs with every secret (current + rotated-out): each verifies on its own", () => {
    const current = generateSecret();
    const previous = generateSecret();
    const headers = signHeaders({ secrets: [current, previous], msgId: "msg_rot", timestamp: new Date(), body });
    const parts = headers["webhook-signature"].split(" ");
    expect(parts).toHaveLength(2);
    for (const p of parts) expect(p).toMatch(/^v1,[A-Za-z0-9+/]+={0,2}$/);
    expect(new Webhook(current).verify(body, headers)).toEqual(JSON.parse(body));
    expect(new Webhook(previous).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(generateSecret()).verify(body, headers)).toThrow();
  });

  it("signs a duplicated secret once", () => {
    const s = generateSecret();
    const headers = signHeaders({ secrets: [s, s], msgId: "msg_d", timestamp: new Date(), body });
    expect(headers["webhook-signature"].split(" ")).toHaveLength(1);
  });

  it("refuses bad input", () => {
    const s = generateSecret();
    expect(() => signHeaders({ secrets: [], msgId: "m", timestamp: new Date(), body })).toThrow();
    expect(() => signHeaders({ secrets: ["nope"], msgId: "m", timestamp: new Date(), body })).toThrow();
    expect(() => signHeaders({ secrets: [s], msgId: "", timestamp: new Date(), body })).toThrow();
    expect(() => signHeaders({ secrets: [s], msgId: "a b", timestamp: new Date(), body })).toThrow();
    expect(() => signHeaders({ secrets: [s], msgId: "m", timestamp: new Date(Number.NaN), body })).toThrow();
  });
});
