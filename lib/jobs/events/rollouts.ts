import { z } from "zod";
import { defineEvent, type EventData, type OutgoingEvent } from "../types";

/**
 * A rollout may be able to move on (run-rollout advances it one step): sent
 * when it starts or resumes, when an operation on one of its instances
 * finishes, by the reconciler every minute, and at embedded start-up.
 * `reason` says who sent it, for the run history.
 */
export const rolloutAdvanceRequested = defineEvent(
  "rollout/advance.requested",
  z.object({ rollout_id: z.string(), reason: z.string() }),
);

/**
 * The event that advances a rollout. `dedupeKey`, when given, makes its id, so
 * the same cause (one operation finishing, one resume) advances it once.
 */
export function rolloutAdvanceEvent(rolloutId: string, reason: string, dedupeKey?: string): OutgoingEvent<EventData<typeof rolloutAdvanceRequested>> {
  return {
    name: rolloutAdvanceRequested.name,
    ...(dedupeKey ? { id: `${rolloutId}-${dedupeKey}` } : {}),
    data: { rollout_id: rolloutId, reason },
  };
}
