import { createHash } from "node:crypto";
import { and, eq, gt, lte, sql } from "drizzle-orm";
import { z } from "zod";
import type { Tx } from "@/db/client";
import { idempotencyKey } from "@/db/schema";
import { canonicalJson } from "../canonical-json";
import { open, seal } from "../crypto";
import { ApiError } from "../errors";

/** How long a key and its response are kept (DESIGN 3.5). */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
/** Headers of the first response that a replay repeats. */
const REPLAYED_HEADERS = ["location", "operation-location", "content-type", "config-unchanged"];

/** An idempotency key (DESIGN 3.5): 1-255 printable ASCII characters (U+0020-U+007E). */
const KEY = "[\\x20-\\x7e]{1,255}";

/** An idempotency key's value, as a JSON argument gives it (no quoting). */
export const idempotencyKeyValue = z.string().regex(new RegExp(`^${KEY}$`), "Must be 1-255 printable ASCII characters.");

/**
 * The Idempotency-Key header's value: a key, bare or as a quoted string (the
 * IETF draft's Structured Field form, draft-ietf-httpapi-idempotency-key-header
 * section 2). A bare value that starts and ends with `"` is read as quoted, so
 * `""` is no key. The one definition of the rule: the wrapper reads the header
 * with it and the OpenAPI document shows its pattern.
 */
const IDEMPOTENCY_KEY_PATTERN = new RegExp(`^(?:"${KEY}"|(?!"[\\s\\S]*"$)${KEY})$`);

export const idempotencyKeyHeader = z
  .string()
  .trim()
  .regex(IDEMPOTENCY_KEY_PATTERN, "Idempotency-Key must be 1-255 printable ASCII characters, bare or in double quotes.")
  .transform((v) => (v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v))
  .meta({
    description:
      "Makes the request safe to retry: for 24 hours, the same key with the same request (method, path, body) replays the first answer " +
      "(with `Idempotent-Replayed: true`) instead of executing again. Scoped to the API key that sends it: the same string from another " +
      "key, even of the same account, is a new request, so a replay never hands one key what another was given. " +
      "1-255 printable ASCII characters, bare or in double quotes.",
    example: "deploy-4f9c0d2",
  });

/** Reads the Idempotency-Key header (`idempotencyKeyHeader`); absent: null. */
export function readIdempotencyKey(req: Request): string | null {
  const raw = req.headers.get("idempotency-key");
  if (raw === null) return null;
  const parsed = idempotencyKeyHeader.safeParse(raw);
  if (!parsed.success) throw new ApiError("invalid_idempotency_key", parsed.error.issues[0]!.message);
  return parsed.data;
}

/** The request's fingerprint: method, path and body, the body canonicalised so key order and spacing do not matter. */
export function requestFingerprint(method: string, path: string, body: unknown): string {
  return createHash("sha256")
    .update(canonicalJson([method, path, body]))
    .digest("hex");
}

export interface StoredResponse {
  status: number;
  body: string;
  headers: Record<string, string>;
}

/**
 * Whose stored requests a key belongs to: the API key that sent it (DESIGN
 * 3.5). Another key of the same account sending the same string makes a new
 * request, so a replay never hands a key what only another key could get (a
 * new key's token, a webhook secret).
 */
export interface IdempotencyScope {
  accountId: string;
  keyId: string;
}

/**
 * Claims `key` for this request inside the request's transaction, or answers
 * how an earlier request with the same key ended:
 *  - a transaction-scoped advisory lock on (API key, key): a second request
 *    arriving while the first still runs gets 409 instead of waiting;
 *  - a stored response for the same fingerprint is replayed; for another
 *    fingerprint the answer is 422.
 * The response is stored by `remember` in the same transaction that wrote the
 * request's effects (e.g. the operation), so N identical concurrent requests
 * create exactly one.
 */
export async function claim(tx: Tx, scope: IdempotencyScope, key: string, fingerprint: string, now = new Date()): Promise<StoredResponse | null> {
  const lock = await tx.execute<{ locked: boolean }>(
    sql`select pg_try_advisory_xact_lock(hashtextextended(${scope.keyId + ":" + key}, 0)) as locked`,
  );
  const locked = (lock as unknown as { rows: { locked: boolean }[] }).rows[0]?.locked;
  if (!locked) {
    throw new ApiError("idempotency_key_in_use", "A request with this Idempotency-Key is still executing. Retry once it has finished.");
  }
  const [row] = await tx
    .select()
    .from(idempotencyKey)
    .where(and(eq(idempotencyKey.apiKeyId, scope.keyId), eq(idempotencyKey.key, key), gt(idempotencyKey.expiresAt, now)))
    .limit(1);
  if (!row) return null;
  if (row.requestHash !== fingerprint) {
    throw new ApiError(
      "idempotency_key_reused",
      "This Idempotency-Key was used with a different request (method, path or body). Use a new key for a new request.",
    );
  }
  return { status: row.responseStatus ?? 200, body: row.responseBody ? open(row.responseBody) : "", headers: row.responseHeaders ?? {} };
}

/**
 * Stores the response of a request that succeeded, in its transaction. The
 * body is sealed: a replayed response may hold a secret shown once (a new
 * key's token, a webhook secret), and secrets are never stored in plaintext.
 */
export async function remember(tx: Tx, scope: IdempotencyScope, key: string, fingerprint: string, res: StoredResponse, now = new Date()): Promise<void> {
  const headers = Object.fromEntries(Object.entries(res.headers).filter(([k]) => REPLAYED_HEADERS.includes(k)));
  // An expired row with the same key may still be there: the key is free again.
  await tx.delete(idempotencyKey).where(and(eq(idempotencyKey.apiKeyId, scope.keyId), eq(idempotencyKey.key, key), lte(idempotencyKey.expiresAt, now)));
  await tx.insert(idempotencyKey).values({
    accountId: scope.accountId,
    apiKeyId: scope.keyId,
    key,
    requestHash: fingerprint,
    responseStatus: res.status,
    responseBody: seal(res.body),
    responseHeaders: headers,
    createdAt: now,
    expiresAt: new Date(now.getTime() + IDEMPOTENCY_TTL_MS),
  });
}

/**
 * Runs a mutation's `respond` at most once per (API key, Idempotency-Key),
 * inside the mutation's transaction `tx` (the REST wrapper's, and the MCP
 * server's for a tool call with `idempotency_key`): without a key it simply
 * responds; with one it claims the key (409 `idempotency_key_in_use`, 422
 * `idempotency_key_reused`, see `claim`), replays the stored response with
 * `Idempotent-Replayed: true` over `headers`, or responds and, when the
 * response is a success, stores it in the same transaction.
 */
export async function respondOnce(
  tx: Tx,
  scope: IdempotencyScope,
  key: string | null,
  fingerprint: string,
  headers: HeadersInit,
  respond: () => Promise<Response>,
): Promise<Response> {
  if (!key) return respond();
  const stored = await claim(tx, scope, key, fingerprint);
  if (stored) {
    const h = new Headers(headers);
    for (const [k, v] of Object.entries(stored.headers)) h.set(k, v);
    h.set("idempotent-replayed", "true");
    return new Response(stored.status === 204 ? null : stored.body, { status: stored.status, headers: h });
  }
  const res = await respond();
  if (res.ok) {
    await remember(tx, scope, key, fingerprint, { status: res.status, body: await res.clone().text(), headers: Object.fromEntries(res.headers) });
  }
  return res;
}
