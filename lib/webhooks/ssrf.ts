// SSRF guard for customer webhook endpoints (DESIGN.md 3.7).
//
// Three layers, all built on the same address policy:
//   1. checkWebhookUrl      - registration (and delivery) time, no network: scheme,
//                             credentials, IP literals, forbidden hostnames.
//   2. resolveAndCheck      - registration time: resolve DNS, refuse if ANY
//                             address is forbidden.
//   3. createGuardedLookup  - delivery time: a `lookup` for node:net/http/https
//                             that checks every resolved address right before the
//                             socket connects, so DNS rebinding between
//                             registration and delivery cannot reach a forbidden
//                             address.
//
// Address classification is done by ipaddr.js with an allowlist: only addresses
// ipaddr.js calls plain `unicast` (and, for IPv6, inside 2000::/3) are public.
// IPv4 literals in odd notations (decimal, octal, hex, short forms) are
// normalised by WHATWG URL parsing before they reach us.
//
// Kept free of database and HTTP-framework code on purpose.

import { lookup as dnsLookup } from "node:dns/promises";
import type { LookupAddress } from "node:dns";
import type { LookupFunction } from "node:net";
import ipaddr from "ipaddr.js";

export type WebhookUrlMode = {
  /** Embedded/local mode: also accept `http://` URLs, but only to loopback. */
  allowLoopbackHttp: boolean;
};

export type UrlCheckResult = { ok: true; url: URL } | { ok: false; reason: string };

export type ResolveCheckResult =
  | { ok: true; addresses: LookupAddress[] }
  | { ok: false; reason: string };

/** Same shape as `dns.promises.lookup(hostname, { all: true })`; injectable for tests. */
export type LookupFn = (hostname: string, options: { all: true }) => Promise<LookupAddress[]>;

export type AddressClass =
  | { kind: "public" }
  | { kind: "loopback" }
  | { kind: "forbidden"; range: string };

/** Policy applied to concrete addresses. */
export type AddressPolicy = {
  /** Loopback addresses are acceptable (embedded mode). */
  allowLoopback: boolean;
  /** Only loopback addresses are acceptable (an `http://` URL in embedded mode). */
  requireLoopback?: boolean;
};

const MAX_URL_LENGTH = 2048;
const DNS_TIMEOUT_MS = 5_000;

const defaultLookup: LookupFn = (hostname, options) => dnsLookup(hostname, options);

// ---------------------------------------------------------------------------
// Address classification

const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR("2000::/3");
const NAT64_WELL_KNOWN = ipaddr.IPv6.parseCIDR("64:ff9b::/96");

function classifyV4(addr: ipaddr.IPv4): AddressClass {
  const range = addr.range();
  if (range === "unicast") return { kind: "public" };
  if (range === "loopback") return { kind: "loopback" };
  return { kind: "forbidden", range };
}

function embeddedV4(addr: ipaddr.IPv6): ipaddr.IPv4 {
  const p = addr.parts;
  const hi = p[6] ?? 0;
  const lo = p[7] ?? 0;
  return new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
}

function classifyV6(addr: ipaddr.IPv6): AddressClass {
  // ::ffff:a.b.c.d reaches the IPv4 address itself: judge that.
  if (addr.isIPv4MappedAddress()) {
    const inner = classifyV4(addr.toIPv4Address());
    return inner.kind === "forbidden" ? { kind: "forbidden", range: `ipv4Mapped(${inner.range})` } : inner;
  }
  const range = addr.range();
  if (range === "loopback") return { kind: "loopback" };
  // NAT64 (64:ff9b::/96) reaches the embedded IPv4 address through a translator.
  if (addr.match(NAT64_WELL_KNOWN)) {
    const inner = classifyV4(embeddedV4(addr));
    // Loopback through a NAT64 translator is not *our* loopback: never allow it.
    return inner.kind === "public" ? inner : { kind: "forbidden", range: "rfc6052" };
  }
  // Everything outside global unicast is refused: ::/8 (unspecified, IPv4-compatible,
  // rfc6145), fc00::/7, fe80::/10, fec0::/10, ff00::/8, 100::/64, ...
  if (!addr.match(GLOBAL_UNICAST_V6)) {
    return { kind: "forbidden", range: range === "unicast" ? "reserved" : range };
  }
  // Inside 2000::/3 ipaddr.js still names special blocks (teredo, 6to4, documentation,
  // benchmarking, orchid, ...): only plain unicast is public.
  if (range === "unicast") return { kind: "public" };
  return { kind: "forbidden", range };
}

/** Classify one IP address (IPv4 dotted quad or IPv6, without brackets). */
export function classifyAddress(ip: string): AddressClass {
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    if (ipaddr.IPv4.isValidFourPartDecimal(ip)) addr = ipaddr.IPv4.parse(ip);
    else if (ipaddr.IPv6.isValid(ip)) addr = ipaddr.IPv6.parse(ip);
    else return { kind: "forbidden", range: "invalid" };
  } catch {
    return { kind: "forbidden", range: "invalid" };
  }
  return addr.kind() === "ipv4" ? classifyV4(addr as ipaddr.IPv4) : classifyV6(addr as ipaddr.IPv6);
}

/** null when the address is acceptable under the policy, otherwise why not. */
export function addressRefusal(ip: string, policy: AddressPolicy): string | null {
  const c = classifyAddress(ip);
  if (c.kind === "forbidden") return `forbidden address range (${c.range})`;
  if (c.kind === "loopback") return policy.allowLoopback ? null : "forbidden address range (loopback)";
  if (policy.requireLoopback) return "http:// is only allowed to loopback addresses";
  return null;
}

export function isAddressAllowed(ip: string, policy: AddressPolicy): boolean {
  return addressRefusal(ip, policy) === null;
}

// ---------------------------------------------------------------------------
// Hostnames

/** Exact names of cloud metadata services and similar internal-only endpoints. */
const FORBIDDEN_NAMES = new Set([
  "metadata",
  "metadata.google.internal",
  "metadata.goog",
  "metadata.azure.internal",
  "instance-data",
  "instance-data.ec2.internal",
  "kubernetes.default",
  "kubernetes.default.svc",
]);

/** Suffixes that never name a public host (RFC 6761/6762, cloud and Fly private DNS). */
const FORBIDDEN_SUFFIXES = [
  "localhost",
  "local",
  "internal",
  "intranet",
  "private",
  "corp",
  "home",
  "lan",
  "localdomain",
  "arpa",
  "flycast",
  "svc",
];

/** Strip brackets from an IPv6 URL hostname and trailing dots from names; lowercase. */
function bareHost(hostname: string): string {
  if (hostname.startsWith("[") && hostname.endsWith("]")) return hostname.slice(1, -1);
  return hostname.toLowerCase().replace(/\.+$/, "");
}

function isIpLiteral(host: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(host) || ipaddr.IPv6.isValid(host);
}

function nameRefusal(name: string, mode: WebhookUrlMode): string | null {
  if (name === "") return "URL has no host";
  if (name === "localhost") {
    return mode.allowLoopbackHttp ? null : "loopback hostnames are not allowed";
  }
  if (FORBIDDEN_NAMES.has(name)) return "hostname is an internal metadata service";
  for (const suffix of FORBIDDEN_SUFFIXES) {
    if (name === suffix || name.endsWith("." + suffix)) {
      return `hostnames under .${suffix} are not allowed`;
    }
  }
  if (!name.includes(".")) return "hostname must be a fully qualified domain name";
  return null;
}

// ---------------------------------------------------------------------------
// Registration-time checks

/**
 * Static check of a webhook URL (no network). https only; in embedded mode
 * (`allowLoopbackHttp`) also http:// to 127.0.0.0/8, ::1 or `localhost`.
 * Names are only checked syntactically here: also call resolveAndCheck.
 */
export function checkWebhookUrl(url: string, mode: WebhookUrlMode): UrlCheckResult {
  if (typeof url !== "string" || url.length === 0) return { ok: false, reason: "URL is required" };
  if (url.length > MAX_URL_LENGTH) return { ok: false, reason: `URL is longer than ${MAX_URL_LENGTH} characters` };
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { ok: false, reason: "URL is not valid" };
  }
  const isHttps = parsed.protocol === "https:";
  const isHttp = parsed.protocol === "http:";
  if (!isHttps && !isHttp) return { ok: false, reason: "URL must use https" };
  if (isHttp && !mode.allowLoopbackHttp) return { ok: false, reason: "URL must use https" };
  if (parsed.username !== "" || parsed.password !== "") {
    return { ok: false, reason: "URL must not contain credentials" };
  }

  const host = bareHost(parsed.hostname);
  const policy: AddressPolicy = { allowLoopback: mode.allowLoopbackHttp, requireLoopback: isHttp };

  if (isIpLiteral(host)) {
    const refusal = addressRefusal(host, policy);
    if (refusal) {
      return { ok: false, reason: `URL host is not allowed: ${refusal}` };
    }
    return { ok: true, url: parsed };
  }

  const refusal = nameRefusal(host, mode);
  if (refusal) return { ok: false, reason: refusal };
  if (isHttp && host !== "localhost") {
    return { ok: false, reason: "http:// is only allowed to loopback addresses (127.0.0.0/8, ::1, localhost)" };
  }
  return { ok: true, url: parsed };
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
    timer.unref?.();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Resolve `hostname` (a URL hostname; IPv6 may keep its brackets) and refuse if ANY
 * resolved address is not allowed. IP literals are classified without DNS.
 * Reasons never echo the resolved addresses (they may reveal internal DNS).
 */
export async function resolveAndCheck(
  hostname: string,
  mode: WebhookUrlMode,
  lookup: LookupFn = defaultLookup,
  policyOverride?: Partial<AddressPolicy>,
): Promise<ResolveCheckResult> {
  const policy: AddressPolicy = { allowLoopback: mode.allowLoopbackHttp, ...policyOverride };
  const host = bareHost(hostname);
  if (isIpLiteral(host)) {
    const refusal = addressRefusal(host, policy);
    if (refusal) return { ok: false, reason: `host is not allowed: ${refusal}` };
    return { ok: true, addresses: [{ address: host, family: host.includes(":") ? 6 : 4 }] };
  }
  const nameProblem = nameRefusal(host, mode);
  if (nameProblem) return { ok: false, reason: nameProblem };

  let addresses: LookupAddress[];
  try {
    addresses = await withTimeout(lookup(host, { all: true }), DNS_TIMEOUT_MS, "DNS lookup timed out");
  } catch {
    return { ok: false, reason: "hostname could not be resolved" };
  }
  if (!Array.isArray(addresses) || addresses.length === 0) {
    return { ok: false, reason: "hostname could not be resolved" };
  }
  for (const a of addresses) {
    const refusal = addressRefusal(a.address, policy);
    if (refusal) return { ok: false, reason: `hostname resolves to a disallowed address: ${refusal}` };
  }
  return { ok: true, addresses };
}

/**
 * Registration-time check in one call: checkWebhookUrl, then DNS through
 * resolveAndCheck (an http:// URL in embedded mode must resolve to loopback only).
 */
export async function validateWebhookUrl(
  url: string,
  mode: WebhookUrlMode,
  lookup: LookupFn = defaultLookup,
): Promise<UrlCheckResult> {
  const checked = checkWebhookUrl(url, mode);
  if (!checked.ok) return checked;
  const resolved = await resolveAndCheck(checked.url.hostname, mode, lookup, {
    requireLoopback: checked.url.protocol === "http:",
  });
  if (!resolved.ok) return resolved;
  return checked;
}

// ---------------------------------------------------------------------------
// Delivery-time (connect-time) guard

export class ForbiddenAddressError extends Error {
  readonly code = "ERR_WEBHOOK_ADDRESS_FORBIDDEN";
  constructor(message: string) {
    super(message);
    this.name = "ForbiddenAddressError";
  }
}

/** Callback-style lookup accepted by node:net, node:http and node:https (`lookup` option). */
export type NodeLookupFunction = LookupFunction;

/**
 * A `lookup` for node:net/http/https that resolves with `lookup` (all addresses),
 * refuses the connection if ANY address violates `policy`, and otherwise answers
 * in the shape the caller asked for (`all: true` with Node 20's autoSelectFamily,
 * or a single address). Node does not call `lookup` for IP literals: check those
 * with addressRefusal before connecting (attemptDelivery does).
 */
export function createGuardedLookup(policy: AddressPolicy, lookup: LookupFn = defaultLookup): NodeLookupFunction {
  return (hostname, options, callback) => {
    const family: unknown = options?.family;
    const wanted = family === 4 || family === "IPv4" ? 4 : family === 6 || family === "IPv6" ? 6 : 0;
    // Callbacks run on their own tick, outside the promise chain, as dns.lookup's do.
    const fail = (err: NodeJS.ErrnoException) =>
      process.nextTick(() => callback(err, options?.all ? [] : "", undefined));
    const notFound = (host: string) => {
      const err: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${host}`);
      err.code = "ENOTFOUND";
      return err;
    };
    const host = bareHost(hostname);
    withTimeout(Promise.resolve().then(() => lookup(host, { all: true })), DNS_TIMEOUT_MS, "DNS lookup timed out").then(
      (addresses) => {
        if (!Array.isArray(addresses) || addresses.length === 0) return fail(notFound(host));
        for (const a of addresses) {
          const refusal = addressRefusal(a.address, policy);
          if (refusal) return fail(new ForbiddenAddressError(`webhook host resolves to a disallowed address: ${refusal}`));
        }
        const usable = wanted === 0 ? addresses : addresses.filter((a) => a.family === wanted);
        const first = usable[0];
        if (!first) return fail(notFound(host));
        if (options?.all) process.nextTick(() => callback(null, usable));
        else process.nextTick(() => callback(null, first.address, first.family));
      },
      (e: unknown) => fail(e instanceof Error ? e : new Error(String(e))),
    );
  };
}

/** Policy for delivering to an already-parsed URL. */
export function deliveryPolicy(url: URL, mode: WebhookUrlMode): AddressPolicy {
  return { allowLoopback: mode.allowLoopbackHttp, requireLoopback: url.protocol === "http:" };
}

/** Exposed for attemptDelivery: the bare host of a URL and whether it is an IP literal. */
export function urlHost(url: URL): { host: string; isIp: boolean } {
  const host = bareHost(url.hostname);
  return { host, isIp: isIpLiteral(host) };
}
