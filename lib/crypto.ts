import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import type { Secret } from "./config";
import { encryptionKeys } from "./secrets";

/**
 * Secrets at rest (gateway tokens, provider keys, bot tokens, webhook secrets)
 * are sealed with AES-256-GCM under the newest encryption key, and carry that
 * key's version so older keys can still open what they sealed.
 * Format: `v<version>.<iv>.<tag>.<ciphertext>`, base64url parts.
 */
export function seal(plaintext: string, keys: Secret[] = encryptionKeys()): string {
  const key = keys[0]!;
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", Buffer.from(key.value, "base64"), iv);
  const ct = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return ["v" + key.version, iv.toString("base64url"), cipher.getAuthTag().toString("base64url"), ct.toString("base64url")].join(".");
}

export function open(sealed: string, keys: Secret[] = encryptionKeys()): string {
  const [v, iv, tag, ct] = sealed.split(".");
  const version = Number(v?.slice(1));
  const key = keys.find((k) => k.version === version);
  if (!key || !iv || !tag || ct === undefined) throw new Error(`Cannot open a sealed value (key version ${v ?? "?"} unknown or value malformed)`);
  const decipher = createDecipheriv("aes-256-gcm", Buffer.from(key.value, "base64"), Buffer.from(iv, "base64url"));
  decipher.setAuthTag(Buffer.from(tag, "base64url"));
  return Buffer.concat([decipher.update(Buffer.from(ct, "base64url")), decipher.final()]).toString("utf8");
}

/** Whether `sealed` was sealed under an older key and should be re-sealed. */
export function needsReseal(sealed: string, keys: Secret[] = encryptionKeys()): boolean {
  return !sealed.startsWith(`v${keys[0]!.version}.`);
}
