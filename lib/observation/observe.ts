import { ComputeError, type ComputeProvider, type MachineObservation, type MachineRef } from "../compute/types";
import { RequestPacer } from "./budget";

/** A provider's 429 without a Retry-After: wait this long before asking again. */
const DEFAULT_RETRY_AFTER_MS = 2000;

export interface Observed<T> {
  target: T;
  /** Taken before asking: anything written to the instance after this makes the answer stale. */
  askedAt: Date;
  /** When the answer arrived. */
  seenAt: Date;
  observation: MachineObservation;
}

export interface ObserveManyResult<T> {
  observed: Observed<T>[];
  /** Not asked yet, or refused with 429, when the provider asked us to wait: ask again after `retryAfterMs`. */
  remaining: T[];
  /** Asked, but the provider could not answer (network, 5xx, timeout): no observation of these, and no change. */
  unreachable: { target: T; error: string }[];
  /** Set when the provider answered 429: its Retry-After (ms). */
  retryAfterMs: number | null;
  /** Provider calls made (one per instance asked). */
  calls: number;
}

export interface ObserveManyOptions {
  provider: ComputeProvider;
  /** This caller's share of the request budget. */
  perSecond: number;
  /** Calls in flight at most (a slow provider must not pile requests up). */
  maxInFlight: number;
  now(): Date;
  sleep(ms: number): Promise<void>;
}

/**
 * Looks at each target's machine once (one provider call each), paced to
 * `perSecond`. A `429` stops the batch: calls in flight finish, nothing more
 * is asked, and what is left comes back as `remaining` with the provider's
 * Retry-After, for the caller to ask again after it. Any other provider
 * failure is no observation of that one instance. An error that is not a
 * provider's (a bug) is thrown once the calls in flight have finished.
 */
export async function observeMany<T extends { ref: MachineRef }>(targets: readonly T[], opts: ObserveManyOptions): Promise<ObserveManyResult<T>> {
  const pacer = new RequestPacer(opts.perSecond, { now: () => opts.now().getTime(), sleep: opts.sleep });
  const queue = [...targets];
  const out: ObserveManyResult<T> = { observed: [], remaining: [], unreachable: [], retryAfterMs: null, calls: 0 };
  const inFlight = new Set<Promise<void>>();
  let fatal: unknown = undefined;

  const ask = async (target: T) => {
    const askedAt = opts.now();
    try {
      const observation = await opts.provider.observe(target.ref);
      out.observed.push({ target, askedAt, seenAt: opts.now(), observation });
    } catch (err) {
      if (!(err instanceof ComputeError)) {
        fatal ??= err;
      } else if (err.status === 429) {
        out.remaining.push(target);
        out.retryAfterMs = Math.max(out.retryAfterMs ?? 0, err.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS);
        pacer.pauseUntil(opts.now().getTime() + out.retryAfterMs);
      } else {
        out.unreachable.push({ target, error: err.message });
      }
    }
  };

  while (queue.length > 0 && out.retryAfterMs === null && fatal === undefined) {
    if (inFlight.size >= opts.maxInFlight) {
      await Promise.race(inFlight);
      continue;
    }
    await pacer.take();
    if (out.retryAfterMs !== null || fatal !== undefined) break; // a 429 (or a bug) arrived while waiting for the slot
    const target = queue.shift()!;
    out.calls++;
    const call = ask(target).finally(() => inFlight.delete(call));
    inFlight.add(call);
  }
  await Promise.all(inFlight);
  if (fatal !== undefined) throw fatal;
  out.remaining.push(...queue);
  return out;
}
