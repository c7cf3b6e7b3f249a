import { setTimeout as delay } from "node:timers/promises";
import { config } from "@/lib/config";
import type { Deps } from "@/lib/deps";
import { instancesObserveRequested, messagesPendingEvent } from "@/lib/jobs/events";
import { defineFunction } from "@/lib/jobs/types";
import { observeMany } from "@/lib/observation/observe";
import { observationTargets, recordObservations, type RecordedChange } from "@/lib/services/observation";
import { observationPlan, type ObservationSettings } from "./observe-instances";

/** Rounds after a 429 before the rest is left to the next pass (where, being stalest, it goes first). */
const MAX_ROUNDS = 4;

export interface ObserveBatchOptions {
  settings?: ObservationSettings;
  /** The pacing's waits (tests and the benchmark hand in their own clock's). */
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Observes one batch of instances: one provider call each (Fly: one GET of the
 * machine, which gives its state and its checks), paced at the batch's share
 * of OBSERVE_FLY_REQUESTS_PER_SECOND, at most OBSERVE_CONCURRENCY batches at
 * once. What each call shows is written at once, conditionally (never over an
 * operation's change, see recordObservations), with the status and health
 * events. A 429 ends the step; the run sleeps for the Retry-After (holding no
 * concurrency slot) and asks about the rest in a new step. An instance whose
 * provider cannot answer is left as it was: no observation is no evidence.
 */
export function makeObserveBatch(deps: Deps, opts: ObserveBatchOptions = {}) {
  const settings = opts.settings ?? config().observation;
  const { perBatchPerSecond } = observationPlan(settings);
  const sleep = opts.sleep ?? ((ms: number) => delay(ms));
  // About a second's worth of calls may wait on a slow provider at once; more would only pile up.
  const maxInFlight = Math.max(4, Math.ceil(perBatchPerSecond));
  return defineFunction({
    id: "observe-batch",
    trigger: { event: instancesObserveRequested },
    concurrency: { limit: settings.concurrency },
    retries: 2,
    async handler({ event, step, logger }) {
      const plannedAt = new Date(event.data.planned_at);
      let ids = event.data.instance_ids;
      const totals = { calls: 0, recorded: 0, stale: 0, unreachable: 0, rate_limited: 0, left: 0, changes: [] as RecordedChange[] };
      for (let round = 0; ids.length > 0; round++) {
        if (round === MAX_ROUNDS) {
          totals.left = ids.length;
          break;
        }
        const asked = ids;
        const r = await step.run(`observe-${round}`, async () => {
          const db = await deps.db();
          const targets = await observationTargets(db, asked, plannedAt);
          const res = await observeMany(targets, { provider: deps.compute(), perSecond: perBatchPerSecond, maxInFlight, now: () => deps.now(), sleep });
          const written = await recordObservations(db, res.observed);
          return {
            calls: res.calls,
            recorded: written.recorded,
            stale: written.stale,
            changes: written.changes,
            unreachable: res.unreachable.length,
            firstError: res.unreachable[0]?.error ?? null,
            remaining: res.remaining.map((t) => t.id),
            retryAfterMs: res.retryAfterMs,
          };
        });
        totals.calls += r.calls;
        totals.recorded += r.recorded;
        totals.stale += r.stale;
        totals.unreachable += r.unreachable;
        totals.changes.push(...r.changes);
        if (r.firstError) logger.warn(`observe-batch: the provider could not answer about ${r.unreachable} instance(s), e.g. ${r.firstError}`);
        ids = r.remaining;
        if (ids.length > 0 && r.retryAfterMs !== null) {
          totals.rate_limited++;
          await step.sleep(`retry-after-${round}`, r.retryAfterMs);
        }
      }
      // The events just recorded are in the outbox: get the dispatcher going.
      if (totals.changes.length > 0) await step.run("announce", () => deps.send([messagesPendingEvent("observation")]));
      return totals;
    },
  });
}
