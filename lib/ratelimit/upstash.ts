import { Redis } from "@upstash/redis";
import { LRUCache } from "lru-cache";
import {
  RATE_WINDOW_MS,
  RateLimiterUnavailable,
  requestWindows,
  type AuthVersionCheck,
  type AuthVersionState,
  type RateCheck,
  type RateLimiter,
  type RateOutcome,
  type WindowResult,
  type WindowSpec,
} from "./types";
import { refusalAt, rolled, usedAt, windowResult, windowStart, type WindowCounts } from "./window";

export interface UpstashRateLimiterOptions {
  /** UPSTASH_REDIS_REST_URL */
  url: string;
  /** UPSTASH_REDIS_REST_TOKEN */
  token: string;
  /** The whole check (one HTTP round trip) must answer within this, or the request is refused. */
  timeoutMs: number;
  /** Prefix of every Redis key this limiter writes. Tests use their own. */
  prefix?: string;
}

/**
 * How long the store keeps an account's auth version after it last changed.
 * One that expired counts as newer than any remembered principal (each process
 * reads its principals again once), so this only bounds what idle accounts
 * keep in Redis.
 */
const VERSION_TTL_SECONDS = 7 * 24 * 3600;

/**
 * Every window of one decision, atomically, and the account's auth version
 * when asked: reads each window's current and previous fixed-window counts,
 * decides with @upstash/ratelimit's sliding-window formula, counts the event in
 * every window only when every window admits it, and answers the counts so the
 * caller can say exactly when quota comes back (@upstash/ratelimit answers the
 * end of the fixed minute, which is not when a sliding window has room again,
 * and no counts).
 * KEYS: current, previous for each window; then the version key when ARGV[3] is
 * not "none". ARGV: now (ms), window (ms), version mode ("none", "fresh",
 * "remembered"), the principal's version, limits...
 * Answer: {admitted, previous1, current1, previous2, current2, ..., version state}
 * with the version state 0 current, 1 newer, 2 stale (see AuthVersionState); a
 * stale principal's request is not counted.
 */
const SLIDING_WINDOWS = `
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local mode = ARGV[3]
local weight = 1 - (now % window) / window
local n = #ARGV - 4
local state = 0
if mode ~= "none" then
  local versionKey = KEYS[2 * n + 1]
  local given = tonumber(ARGV[4])
  local stored = tonumber(redis.call("GET", versionKey) or "-1")
  if mode == "fresh" then
    if stored < given then redis.call("SET", versionKey, ARGV[4], "EX", ${VERSION_TTL_SECONDS}) end
    if stored > given then state = 1 end
  elseif stored < 0 or stored > given then
    state = 2
  end
end
local counts = {}
local admitted = 1
if state == 2 then admitted = 0 end
for i = 1, n do
  local current = tonumber(redis.call("GET", KEYS[2 * i - 1]) or "0")
  local previous = tonumber(redis.call("GET", KEYS[2 * i]) or "0")
  counts[2 * i - 1] = previous
  counts[2 * i] = current
  if math.floor(previous * weight) + current >= tonumber(ARGV[4 + i]) then admitted = 0 end
end
if admitted == 1 then
  for i = 1, n do
    local current = redis.call("INCR", KEYS[2 * i - 1])
    if current == 1 then redis.call("PEXPIRE", KEYS[2 * i - 1], window * 2 + 1000) end
    counts[2 * i] = current
  end
end
local out = {admitted}
for i = 1, 2 * n do out[i + 1] = counts[i] end
out[2 * n + 2] = state
return out
`;

/** Raises an account's auth version, never lowers it. KEYS: the version key. ARGV: the version. */
const PUBLISH_VERSION = `
local stored = tonumber(redis.call("GET", KEYS[1]) or "-1")
if stored < tonumber(ARGV[1]) then redis.call("SET", KEYS[1], ARGV[1], "EX", ${VERSION_TTL_SECONDS}) end
return 1
`;

const VERSION_STATES: AuthVersionState[] = ["current", "newer", "stale"];

const DEFAULT_PREFIX = "moc:ratelimit";

/** The Redis key that holds an account's auth version, under the limiter's key prefix. */
export function authVersionKey(accountId: string, prefix = DEFAULT_PREFIX): string {
  return `${prefix}:authv:${accountId}`;
}

/** Windows whose last known counts this process keeps, to refuse without a round trip (knownRefusal). */
const MAX_KNOWN = 50_000;

/**
 * The production limiter: the same sliding windows as MemoryRateLimiter, kept
 * in Upstash Redis so every serverless instance shares them, decided by one
 * Lua script per check (SLIDING_WINDOWS): one HTTP round trip, one atomic
 * decision over the key's and the account's window (a request refused by one
 * window is not counted in the other), and the exact counts the headers need.
 *
 * Fails closed: the Redis client has no retries and aborts every HTTP request
 * after `timeoutMs`, and any throw or any answer of an unexpected shape becomes
 * RateLimiterUnavailable (the caller answers 503).
 *
 * The script is sent by hash (EVALSHA) and, the first time a Redis has not seen
 * it, whole (EVAL). Its clock is this process's (`now`, as @upstash/ratelimit
 * does), so tests can move it.
 */
export class UpstashRateLimiter implements RateLimiter {
  readonly kind = "upstash" as const;
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly timeoutMs: number;
  private readonly script;
  private readonly publishScript;
  /** Last counts read per window: they only grow until they age out, so they bound what Redis would say from below. */
  private readonly known = new LRUCache<string, WindowCounts>({ max: MAX_KNOWN });

  constructor(
    opts: UpstashRateLimiterOptions,
    readonly now: () => number = Date.now,
  ) {
    if (!Number.isInteger(opts.timeoutMs) || opts.timeoutMs < 1) throw new TypeError("timeoutMs must be a positive integer");
    this.timeoutMs = opts.timeoutMs;
    this.prefix = opts.prefix ?? DEFAULT_PREFIX;
    this.redis = new Redis({
      url: opts.url,
      token: opts.token,
      // One attempt (the client's "no retry" still re-sends once after a network
      // error, within the same signal), each HTTP request aborted after timeoutMs.
      retry: false,
      // A function: a fresh signal per request. A signal object would abort once, for good.
      signal: () => AbortSignal.timeout(this.timeoutMs),
      enableAutoPipelining: true,
      enableTelemetry: false,
    });
    this.script = this.redis.createScript<unknown>(SLIDING_WINDOWS);
    this.publishScript = this.redis.createScript<unknown>(PUBLISH_VERSION);
  }

  async check(c: RateCheck): Promise<RateOutcome> {
    const { results, authVersion } = await this.decide(requestWindows(c), c.authVersion && { accountId: c.accountId, ...c.authVersion });
    const [key, account] = results;
    return authVersion ? { key: key!, account: account!, authVersion } : { key: key!, account: account! };
  }

  async hit(windows: readonly WindowSpec[]): Promise<WindowResult[]> {
    return (await this.decide(windows)).results;
  }

  async publishAuthVersion(accountId: string, version: number): Promise<void> {
    if (!Number.isInteger(version) || version < 0) throw new TypeError(`an auth version is a non-negative integer, got ${version}`);
    try {
      await deadline(this.publishScript.exec([this.versionKey(accountId)], [String(version)]), this.timeoutMs + 100);
    } catch (err) {
      throw new RateLimiterUnavailable(`rate-limit store unavailable: ${describe(err)}`, { cause: err });
    }
  }

  private versionKey(accountId: string): string {
    return authVersionKey(accountId, this.prefix);
  }

  /** One script call: the windows' decision and, when asked, the auth version's state. */
  private async decide(
    windows: readonly WindowSpec[],
    version?: AuthVersionCheck & { accountId: string },
  ): Promise<{ results: WindowResult[]; authVersion?: AuthVersionState }> {
    for (const w of windows) {
      if (!Number.isInteger(w.limit) || w.limit < 0) throw new TypeError(`the limit of ${w.id} must be a non-negative integer, got ${w.limit}`);
    }
    if (version && (!Number.isInteger(version.version) || version.version < 0)) {
      throw new TypeError(`an auth version is a non-negative integer, got ${version.version}`);
    }
    const t = this.now();
    const start = windowStart(t);
    const index = start / RATE_WINDOW_MS;
    const keys = windows.flatMap((w) => [`${this.prefix}:${w.id}:${index}`, `${this.prefix}:${w.id}:${index - 1}`]);
    if (version) keys.push(this.versionKey(version.accountId));
    const mode = version ? (version.fresh ? "fresh" : "remembered") : "none";
    const args = [String(t), String(RATE_WINDOW_MS), mode, String(version?.version ?? 0), ...windows.map((w) => String(w.limit))];
    let reply: unknown;
    try {
      reply = await deadline(this.script.exec(keys, args), this.timeoutMs + 100);
    } catch (err) {
      throw new RateLimiterUnavailable(`rate-limit store unavailable: ${describe(err)}`, { cause: err });
    }
    const numbers = Array.isArray(reply) ? reply.map(Number) : [];
    if (numbers.length !== 2 + 2 * windows.length || !numbers.every((n) => Number.isInteger(n) && n >= 0) || numbers.at(-1)! > 2) {
      throw new RateLimiterUnavailable("rate-limit store gave no usable answer (malformed reply)");
    }
    const admitted = numbers[0] === 1;
    const results = windows.map((w, i) => {
      const counts: WindowCounts = { start, previous: numbers[1 + 2 * i]!, current: numbers[2 + 2 * i]! };
      this.known.set(w.id, counts);
      // A window that admitted a refused event still says so (it was not counted there).
      const admits = admitted || usedAt(counts, t) < w.limit;
      return windowResult(counts, w.limit, t, admits);
    });
    return version ? { results, authVersion: VERSION_STATES[numbers.at(-1)!]! } : { results };
  }

  knownRefusal(windows: readonly WindowSpec[]): WindowResult[] | null {
    const t = this.now();
    const counts = windows.map((w) => {
      const c = this.known.get(w.id);
      return c ? rolled(c, t) : { start: windowStart(t), previous: 0, current: 0 };
    });
    return refusalAt(windows, counts, t);
  }
}

function deadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? ` (${err.cause.message})` : "";
    return `${err.name}: ${err.message}${cause}`.slice(0, 300);
  }
  return String(err).slice(0, 300);
}
