import { createHash } from "node:crypto";
import { LRUCache } from "lru-cache";
import { config } from "../config";
import type { Verification } from "./verify";

type Verified = Extract<Verification, { ok: true }>;
interface Entry {
  v: Verified;
  expiresAt: number | null;
  until: number;
}

const MAX_ENTRIES = 10_000;
const holder = globalThis as unknown as { __mocKeyCache?: LRUCache<string, Entry> };
// Bounded: the least recently used entry goes first.
const entries = () => (holder.__mocKeyCache ??= new LRUCache({ max: MAX_ENTRIES }));

/** The cache key: a digest of the whole token, so the token itself is never kept. */
export const tokenDigest = (token: string) => createHash("sha256").update(token).digest("base64url");

/**
 * A verified key remembered for at most `apiKeyCacheSeconds`, so the hot path
 * skips the key lookup. What a remembered key carries is checked at every
 * request against its account's auth version, in the rate-limit round trip
 * (lib/keys/auth-version.ts); a hit is refused (and looked up again) once the
 * key's own expiry has passed. Answers it marked `remembered`.
 */
export function cachedVerification(digest: string, now = Date.now()): Verified | null {
  const e = entries().get(digest);
  if (!e) return null;
  if (e.until <= now || (e.expiresAt !== null && e.expiresAt <= now)) {
    entries().delete(digest);
    return null;
  }
  return e.v;
}

/** Remembers a key read from the database (once its auth version was found current). */
export function rememberVerification(digest: string, v: Verified, now = Date.now()): void {
  const ttl = config().apiKeyCacheSeconds;
  if (ttl === 0) return;
  entries().set(digest, { v: { ...v, remembered: true }, expiresAt: v.expiresAt?.getTime() ?? null, until: now + ttl * 1000 });
}

/** Forgets a remembered key whose auth version went stale. */
export function forgetVerification(digest: string): void {
  entries().delete(digest);
}
