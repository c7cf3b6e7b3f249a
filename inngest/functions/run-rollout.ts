import type { Deps } from "@/lib/deps";
import { rolloutAdvanceRequested } from "@/lib/jobs/events";
import { defineFunction } from "@/lib/jobs/types";
import { advanceRollout } from "@/lib/services/rollouts";

/**
 * Advances a fleet rollout one step (lib/services/rollouts.ts, advanceRollout):
 * halts it at its failure threshold, finishes it, or starts its next batch of
 * instance.upgrade operations. Event-driven: run when the rollout starts or
 * resumes, when an operation on one of its instances finishes (run-operation),
 * every minute by the reconciler, and at embedded start-up, so a lost event
 * or a restart only delays it. One run per rollout at a time; a step that
 * repeats does no harm, as everything it decides is read from the database.
 */
export function makeRunRollout(deps: Deps) {
  return defineFunction({
    id: "run-rollout",
    trigger: { event: rolloutAdvanceRequested },
    concurrency: { key: "event.data.rollout_id", limit: 1 },
    retries: 4,
    async handler({ event, step }) {
      return step.run("advance", async () => advanceRollout(await deps.db(), deps.send, event.data.rollout_id, deps.now()));
    },
  });
}
