import { LRUCache } from "lru-cache";
import type { Db } from "@/db/client";
import { runAfter } from "../after";
import { config } from "../config";
import { ApiError } from "../errors";
import { limitHeaders, retryAfterSeconds } from "../http/ratelimit";
import { errorMessage, log } from "../log";
import { rateLimiter } from "../ratelimit";
import { clientAddress, countFailure, knownFailureRefusal, type FailureSubject, type NamedResults } from "../ratelimit/failures";
import { cachedVerification, tokenDigest } from "./cache";
import { apiKeyPeppers } from "../secrets";
import { parseToken, verifySecret } from "./token";
import { afterVerified, needsAfterVerified, verifyToken, type StoredSecret, type Verification } from "./verify";

type Failure = Extract<Verification, { ok: false }>;

/** Bounds of this process's memory of tokens: the least recently used entry goes first. */
const MAX_ENTRIES = 10_000;
const FORGET_AFTER_MS = 10 * 60_000;

const holder = globalThis as unknown as {
  __mocTokenMemory?: {
    /** Known to fail, without asking the database: `id:<short id>` (no such key, revoked, expired) or a token's digest (wrong secret). */
    failing: LRUCache<string, Failure["reason"]>;
    /** Keys this process has seen, by short id: their stored secret, to vouch for a token without the database. */
    seen: LRUCache<string, StoredSecret>;
  };
};
const memory = () =>
  (holder.__mocTokenMemory ??= {
    failing: new LRUCache({ max: MAX_ENTRIES, ttl: FORGET_AFTER_MS }),
    seen: new LRUCache({ max: MAX_ENTRIES }),
  });

/**
 * The API-key check with failed authentications limited (DESIGN 3.1), as a
 * sequence:
 *  1. a verified key this process remembers (lib/keys/cache.ts; unless
 *     `reread`), marked `remembered`: the caller checks its auth version in
 *     the rate-limit round trip, and remembers a key read here once that
 *     version is found current (lib/http/ratelimit.ts);
 *  2. shape and checksum: a malformed token is refused for free;
 *  3. a token known to fail (no such key id, revoked, expired, wrong secret) is
 *     refused without a database query, and the failure counted;
 *  4. a token this process cannot vouch for (its key id unseen here, or its
 *     secret not the one seen) is refused with 429 before any lookup while its
 *     claimed key id, its client address or all failures together are over
 *     their limits: a key's own holder is not locked out by someone else's
 *     failures once this process has seen the key;
 *  5. the database lookup (a verified key's last use recorded after the
 *     response); a failure is remembered and counted, and answered 429
 *     instead of 401 once over a limit.
 * Answers the verification (failures as values); throws ApiError 429 when
 * failures are over a limit. `digest`: the token's tokenDigest, when the caller
 * has it already.
 */
export async function checkToken(
  db: Db,
  token: string,
  headers: Pick<Headers, "get">,
  opts: { reread?: boolean; digest?: string } = {},
): Promise<Verification> {
  const digest = opts.digest ?? tokenDigest(token);
  const cached = opts.reread ? null : cachedVerification(digest); // only well-formed tokens are ever remembered
  if (cached) {
    if (needsAfterVerified(cached)) {
      runAfter("key-last-used", () => afterVerified(db, token, { ...cached }));
      // Done once for every request this process serves with the key until the next is due.
      cached.lastUsedAt = new Date();
      cached.pepperVersion = apiKeyPeppers()[0]!.version;
    }
    return cached;
  }
  const parsed = parseToken(token);
  if (!parsed) return { ok: false, reason: "malformed" };

  const m = memory();
  const subject: FailureSubject = { claimedKeyId: parsed.shortId, clientAddress: clientAddress(headers, config().clientAddressHeaders) };
  const known = m.failing.get(digest) ?? m.failing.get(`id:${parsed.shortId}`);
  if (known) return failed(subject, { ok: false, reason: known });

  let seen = m.seen.get(parsed.shortId);
  if (seen && !apiKeyPeppers().some((p) => p.version === seen!.pepperVersion)) {
    // Hashed under a pepper since retired (the key has been re-hashed meanwhile): ask the database.
    m.seen.delete(parsed.shortId);
    seen = undefined;
  }
  const vouched = seen !== undefined && verifySecret(parsed.secret, seen.secretHash, seen.pepperVersion, apiKeyPeppers());
  if (seen && !vouched) {
    m.failing.set(digest, "unknown");
    return failed(subject, { ok: false, reason: "unknown" });
  }
  if (!vouched) {
    const refusal = knownFailureRefusal(rateLimiter(), subject);
    if (refusal) throw tooManyFailures(refusal);
  }

  const v = await verifyToken(db, token);
  if (v.ok) {
    m.seen.set(parsed.shortId, v.stored);
    if (needsAfterVerified(v)) runAfter("key-last-used", () => afterVerified(db, token, v));
    return v;
  }
  if (v.stored) m.seen.set(parsed.shortId, v.stored);
  // Revoked and expired keys stay so, and so does a key id no key has: remember the id. A wrong secret: only this token.
  m.failing.set(v.unknown === "wrong_secret" ? digest : `id:${parsed.shortId}`, v.reason);
  return failed(subject, v);
}

/** Counts the failure; over a limit it becomes a 429. */
async function failed(subject: FailureSubject, v: Failure): Promise<Failure> {
  let results: NamedResults;
  try {
    results = await countFailure(rateLimiter(), subject);
  } catch (err) {
    // The request is refused either way; an unreachable store only means this failure went uncounted.
    log.warn("failed authentication not counted: rate limiter unavailable", { error: errorMessage(err) });
    return v;
  }
  if (results.some(([, w]) => !w.success)) throw tooManyFailures(results);
  return v;
}

function tooManyFailures(results: NamedResults): ApiError {
  const now = rateLimiter().now();
  const [name, w] = results.find(([, r]) => !r.success) ?? results[0]!;
  const retryAfter = retryAfterSeconds(results.map(([, r]) => r), now);
  const which = name === "auth-failures-key" ? "for this key id" : name === "auth-failures-address" ? "from this address" : "overall";
  return new ApiError(
    "rate_limited",
    `Too many failed authentications ${which} (${w.limit} a minute). Check the API key, then retry in ${retryAfter} s.`,
    { extra: { limit: name }, headers: limitHeaders(results, now), retryAfter },
  );
}

/** Tests only: forget what this process learned about tokens. */
export function resetTokenMemory(): void {
  delete holder.__mocTokenMemory;
}
