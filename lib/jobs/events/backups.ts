import { z } from "zod";
import { defineEvent, type EventData, type OutgoingEvent } from "../types";

/** One instance's backups to bring in step with its provider's snapshots, and its volume's retention with its plan. */
export const backupSyncRequested = defineEvent("instance/backups.sync-requested", z.object({ instance_id: z.string() }));

/** The event that starts one instance's backup sync (sent by the hourly pass). */
export function backupSyncRequestedEvent(instanceId: string): OutgoingEvent<EventData<typeof backupSyncRequested>> {
  return { name: backupSyncRequested.name, data: { instance_id: instanceId } };
}
