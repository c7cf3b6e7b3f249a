import { z } from "zod";
import { defineEvent, type EventData, type OutgoingEvent } from "../types";

/**
 * A batch of instances to observe (by observe-batch), planned by
 * observe-instances at `planned_at`: an instance observed since then by
 * another batch is left out.
 */
export const instancesObserveRequested = defineEvent(
  "instance/observe.requested",
  z.object({ instance_ids: z.array(z.string()).min(1), planned_at: z.string() }),
);

/** The event for one batch of a pass; its id names the pass and the batch, so a re-sent plan is not observed twice. */
export function observeRequestedEvent(
  plannedAt: Date,
  batch: number,
  instanceIds: string[],
): OutgoingEvent<EventData<typeof instancesObserveRequested>> & { id: string } {
  const at = plannedAt.toISOString();
  return { name: instancesObserveRequested.name, id: `observe-${at}-${batch}`, data: { instance_ids: instanceIds, planned_at: at } };
}
