// Standard Webhooks signing (https://www.standardwebhooks.com), via the
// `standardwebhooks` package: no hand-written HMAC here.
//
// One message keeps its `webhook-id` across every retry (receivers use it to
// de-duplicate); `webhook-timestamp` is the time of the attempt being sent, so
// receivers' 5-minute tolerance holds on late retries.

import { randomBytes } from "node:crypto";
import { Webhook } from "standardwebhooks";

export const SECRET_PREFIX = "whsec_";
const SECRET_BYTES = 32;

export type WebhookSignatureHeaders = {
  "webhook-id": string;
  "webhook-timestamp": string;
  "webhook-signature": string;
};

/** A new endpoint secret: `whsec_` + base64 of 32 random bytes. */
export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString("base64");
}

/** True when `secret` is `whsec_<base64>` decoding to 24-64 bytes. */
export function isValidSecret(secret: string): boolean {
  if (typeof secret !== "string" || !secret.startsWith(SECRET_PREFIX)) return false;
  const b64 = secret.slice(SECRET_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) return false;
  const n = Buffer.from(b64, "base64").length;
  return n >= 24 && n <= 64;
}

/**
 * The three Standard Webhooks headers for one attempt. With several secrets
 * (the current one plus a rotated-out one still inside its 24 h grace period)
 * `webhook-signature` is a space-separated list of `v1,<base64>` signatures, one
 * per secret, current first; a receiver holding either secret verifies it.
 *
 * `body` must be exactly the bytes that will be sent.
 */
export function signHeaders(input: {
  secrets: readonly string[];
  msgId: string;
  timestamp: Date;
  body: string;
}): WebhookSignatureHeaders {
  const { secrets, msgId, timestamp, body } = input;
  if (!Array.isArray(secrets) || secrets.length === 0) throw new Error("signHeaders: at least one secret is required");
  if (typeof msgId !== "string" || msgId.length === 0 || /[\s,]/.test(msgId)) {
    throw new Error("signHeaders: msgId must be a non-empty string without whitespace or commas");
  }
  if (!(timestamp instanceof Date) || Number.isNaN(timestamp.getTime())) {
    throw new Error("signHeaders: timestamp must be a valid Date");
  }
  if (typeof body !== "string") throw new Error("signHeaders: body must be a string");

  const signatures: string[] = [];
  for (const secret of new Set(secrets)) {
    if (!isValidSecret(secret)) throw new Error("signHeaders: invalid webhook secret");
    signatures.push(new Webhook(secret).sign(msgId, timestamp, body));
  }
  return {
    "webhook-id": msgId,
    "webhook-timestamp": String(Math.floor(timestamp.getTime() / 1000)),
    "webhook-signature": signatures.join(" "),
  };
}
