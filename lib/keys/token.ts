import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { crc32 } from "node:zlib";
import type { Secret } from "../config";

/**
 * API tokens look like `moc_<short>_<secret><checksum>`:
 *  - `short` (8 base62 chars) is public: the database looks the key up by it;
 *  - `secret` (32 base62 chars, ~190 bits) is never stored, only its HMAC;
 *  - `checksum` (6 base62 chars) is a CRC32 of everything before it, as in
 *    GitHub's tokens: a mistyped or truncated token is refused before any
 *    database lookup, and secret scanners can tell a real token from noise.
 */
export const TOKEN_PREFIX = "moc";
const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const SHORT_LEN = 8;
const SECRET_LEN = 32;
const CHECKSUM_LEN = 6;
export const TOKEN_PATTERN = new RegExp(
  `^${TOKEN_PREFIX}_([0-9A-Za-z]{${SHORT_LEN}})_([0-9A-Za-z]{${SECRET_LEN}})([0-9A-Za-z]{${CHECKSUM_LEN}})$`,
);

function randomBase62(length: number): string {
  let out = "";
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      if (b < 248 && out.length < length) out += BASE62[b % 62]; // 248 = 4*62: no modulo bias
    }
  }
  return out;
}

function base62(n: number, width: number): string {
  let out = "";
  for (let i = 0; i < width; i++) {
    out = BASE62[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

function checksum(body: string): string {
  return base62(crc32(body) >>> 0, CHECKSUM_LEN);
}

export interface NewToken {
  token: string;
  shortId: string;
  secret: string;
  prefix: string;
}

export function generateToken(): NewToken {
  const shortId = randomBase62(SHORT_LEN);
  const secret = randomBase62(SECRET_LEN);
  return { token: formatToken(shortId, secret), shortId, secret, prefix: `${TOKEN_PREFIX}_${shortId}` };
}

/** `moc_<shortId>_<secret><checksum>`: the token for these parts, checksum included. */
export function formatToken(shortId: string, secret: string): string {
  const body = `${TOKEN_PREFIX}_${shortId}_${secret}`;
  return body + checksum(body);
}

/** Splits a token, or returns null when it is malformed or its checksum is wrong. */
export function parseToken(token: string): { shortId: string; secret: string } | null {
  const m = TOKEN_PATTERN.exec(token);
  if (!m) return null;
  const [, shortId, secret, sum] = m as unknown as [string, string, string, string];
  if (checksum(`${TOKEN_PREFIX}_${shortId}_${secret}`) !== sum) return null;
  return { shortId, secret };
}

export function hashSecret(secret: string, pepper: Secret): string {
  return createHmac("sha256", pepper.value).update(secret).digest("base64url");
}

/**
 * Checks a secret against a stored hash under the pepper it was made with.
 * Constant-time: the comparison takes as long whichever byte differs, so the
 * response time tells an attacker nothing about how close a guess was.
 */
export function verifySecret(secret: string, storedHash: string, pepperVersion: number, peppers: Secret[]): boolean {
  const pepper = peppers.find((p) => p.version === pepperVersion);
  if (!pepper) return false;
  const a = Buffer.from(hashSecret(secret, pepper));
  const b = Buffer.from(storedHash);
  return a.length === b.length && timingSafeEqual(a, b);
}
