import ipaddr from "ipaddr.js";
import type { RateLimiter, WindowResult, WindowSpec } from "./types";

/**
 * Failed authentications allowed per minute (sliding windows, as for
 * requests): per claimed key id (the public `moc_<id>_` part of a token), per
 * client address where the deployment can tell it reliably, and overall. Over
 * any of them a failed authentication is answered 429 instead of 401, and a
 * token this process cannot vouch for is refused before the database is asked.
 */
export const AUTH_FAILURE_LIMITS = { key: 10, address: 30, overall: 600 } as const;

/** Who failed: the key id the token claims, and the client's address when known. */
export interface FailureSubject {
  claimedKeyId: string;
  clientAddress: string | null;
}

/** The windows a failure counts against, with the names the rate-limit headers give them. */
export function failureWindows(s: FailureSubject): (readonly [string, WindowSpec])[] {
  const out: (readonly [string, WindowSpec])[] = [["auth-failures-key", { id: `authfail:key:${s.claimedKeyId}`, limit: AUTH_FAILURE_LIMITS.key }]];
  if (s.clientAddress) out.push(["auth-failures-address", { id: `authfail:address:${s.clientAddress}`, limit: AUTH_FAILURE_LIMITS.address }]);
  out.push(["auth-failures", { id: "authfail:all", limit: AUTH_FAILURE_LIMITS.overall }]);
  return out;
}

export type NamedResults = (readonly [string, WindowResult])[];

/** Counts one failed authentication; answers every window's result. Throws RateLimiterUnavailable as `hit` does. */
export async function countFailure(limiter: RateLimiter, s: FailureSubject): Promise<NamedResults> {
  const windows = failureWindows(s);
  const results = await limiter.hit(windows.map(([, w]) => w));
  return windows.map(([name], i) => [name, results[i]!] as const);
}

/** Whether this process already knows the subject's failures are over a limit (no round trip): their results, else null. */
export function knownFailureRefusal(limiter: RateLimiter, s: FailureSubject): NamedResults | null {
  const windows = failureWindows(s);
  const results = limiter.knownRefusal(windows.map(([, w]) => w));
  return results ? windows.map(([name], i) => [name, results[i]!] as const) : null;
}

/**
 * The client's address from headers the deployment itself sets and no client
 * can (`config().clientAddressHeaders`: Vercel's `x-vercel-forwarded-for`,
 * `x-real-ip`); null elsewhere, where any such header may be forged.
 */
export function clientAddress(headers: Pick<Headers, "get">, trusted: readonly string[]): string | null {
  for (const name of trusted) {
    const v = headers.get(name)?.split(",")[0]?.trim();
    if (v && ipaddr.isValid(v)) return ipaddr.process(v).toString();
  }
  return null;
}
