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
/** The longest API_KEY_CACHE_SECONDS allows: a revocation need not be remembered longer than an entry can live. */
const MAX_ENTRY_MS = 300_000;
const holder = globalThis as unknown as { __mocKeyCache?: { entries: LRUCache<string, Entry>; revoked: LRUCache<string, true> } };
// Both bounded: the least recently used entry goes first.
const state = () =>
  (holder.__mocKeyCache ??= {
    entries: new LRUCache({ max: MAX_ENTRIES }),
    revoked: new LRUCache({ max: MAX_ENTRIES, ttl: MAX_ENTRY_MS }),
  });

/** The cache key: a digest of the whole token, so the token itself is never kept. */
export const tokenDigest = (token: string) => createHash("sha256").update(token).digest("base64url");

/**
 * A verified key remembered for `apiKeyCacheSeconds`, so the hot path skips
 * the key lookup. A hit is refused (and looked up again) once the key's own
 * expiry has passed or when this process revoked it.
 */
export function cachedVerification(digest: string, now = Date.now()): Verified | null {
  const s = state();
  const e = s.entries.get(digest);
  if (!e) return null;
  if (e.until <= now || (e.expiresAt !== null && e.expiresAt <= now) || s.revoked.has(e.v.principal.key.id)) {
    s.entries.delete(digest);
    return null;
  }
  return e.v;
}

export function rememberVerification(digest: string, v: Verified, expiresAt: Date | null, now = Date.now()): void {
  const ttl = config().apiKeyCacheSeconds;
  if (ttl === 0) return;
  state().entries.set(digest, { v, expiresAt: expiresAt?.getTime() ?? null, until: now + ttl * 1000 });
}

/** A key revoked by this process: never served from the cache again. */
export function forgetKey(keyId: string): void {
  state().revoked.set(keyId, true);
}

/** After a plan or limit change: every cached principal may be stale. */
export function forgetAllKeys(): void {
  state().entries.clear();
}
