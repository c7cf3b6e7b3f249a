import { config, type Config } from "@/lib/config";
import type { Deps } from "@/lib/deps";
import { observeRequestedEvent } from "@/lib/jobs/events";
import { defineFunction } from "@/lib/jobs/types";
import { dueInstances } from "@/lib/services/observation";

/** Batch events one step sends: a few hundred KB at most, well under an event request's limit. */
const EVENTS_PER_SEND = 50;
/** A batch should take about this long at its share of the budget: short steps, even on serverless. */
const BATCH_SECONDS = 10;
const MAX_BATCH = 100;
const MIN_BATCH = 10;
/** A pass plans no more than the budget can observe before the next one starts, with room for latency and retries. */
const CAPACITY_SHARE = 0.9;
/**
 * The batches pace themselves at this share of the budget. Each batch keeps its own
 * even pace, and when one ends and a queued one starts, their requests can fall closer
 * together than the pace: at exactly the budget, a provider limiting at the same rate
 * (a token bucket, as Fly's API does) would answer some of them 429. The headroom lets
 * its bucket refill (npm run bench:observe, 10,000 instances for 3 minutes: 71 429s in 30,000 calls at 100 %, 12 at 95 %).
 */
const PACE_SHARE = 0.95;

export type ObservationSettings = Config["observation"];

/** How a minute is divided into passes, and how many instances a pass and a batch take, from the settings. */
export function observationPlan(s: ObservationSettings) {
  const passes = Math.max(1, Math.floor(60 / s.intervalSeconds));
  const spacingMs = 60_000 / passes;
  const perBatchPerSecond = (s.requestsPerSecond * PACE_SHARE) / s.concurrency;
  return {
    passes,
    spacingMs,
    /** Instances one pass plans: what the whole budget can observe before the next pass. */
    capacity: Math.max(1, Math.floor((s.requestsPerSecond * spacingMs * CAPACITY_SHARE) / 1000)),
    batchSize: Math.min(MAX_BATCH, Math.max(MIN_BATCH, Math.round(perBatchPerSecond * BATCH_SECONDS))),
    perBatchPerSecond,
  };
}

/**
 * Every minute: plans the observation of every live instance's machine (its
 * state and health check), so each is looked at at least once per
 * OBSERVE_INTERVAL_SECONDS however many there are. A pass takes the instances
 * due, stalest first, up to what the request budget allows before the next
 * pass, and fans them out in batches (observe-batch, a concurrency-limited
 * function, each batch paced at its share of the budget). With an interval
 * under a minute, the run makes several passes, a step.sleep apart.
 */
export function makeObserveInstances(deps: Deps, settings: ObservationSettings = config().observation) {
  const plan = observationPlan(settings);
  const intervalMs = settings.intervalSeconds * 1000;
  return defineFunction({
    id: "observe-instances",
    trigger: { cron: "* * * * *" },
    concurrency: { limit: 1 },
    retries: 2,
    async handler({ step, logger }) {
      const passes: { planned_at: string; due: number; batches: number; capacity_reached: boolean }[] = [];
      for (let pass = 0; pass < plan.passes; pass++) {
        if (pass > 0) await step.sleep(`wait-pass-${pass}`, plan.spacingMs);
        const due = await step.run(`plan-${pass}`, async () => {
          const now = deps.now();
          // Due: last observed long enough ago that waiting for the next pass would exceed the interval.
          const ids = await dueInstances(await deps.db(), new Date(now.getTime() - intervalMs + plan.spacingMs), plan.capacity + 1);
          return { plannedAt: now.toISOString(), ids: ids.slice(0, plan.capacity), capacityReached: ids.length > plan.capacity };
        });
        if (due.capacityReached) {
          logger.warn(
            `observe-instances: more instances are due than OBSERVE_FLY_REQUESTS_PER_SECOND=${settings.requestsPerSecond} can observe per pass (${plan.capacity}); the stalest go first, raise the budget`,
          );
        }
        const events = chunk(due.ids, plan.batchSize).map((ids, i) => observeRequestedEvent(new Date(due.plannedAt), i, ids));
        for (let i = 0; i < events.length; i += EVENTS_PER_SEND) {
          await step.sendEvent(`fan-out-${pass}-${i / EVENTS_PER_SEND}`, events.slice(i, i + EVENTS_PER_SEND));
        }
        passes.push({ planned_at: due.plannedAt, due: due.ids.length, batches: events.length, capacity_reached: due.capacityReached });
      }
      return { passes };
    },
  });
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
