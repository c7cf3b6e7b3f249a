import { config } from "../config";
import type { OutgoingEvent } from "./types";

/**
 * Sends events to whichever runtime carries out durable functions: Inngest
 * (cloud or dev server) when configured, else the in-process local runner.
 * Call it after the transaction that recorded the work has committed.
 */
export async function sendEvents(events: OutgoingEvent[]): Promise<void> {
  if (events.length === 0) return;
  if (config().jobs.kind === "inngest") {
    const { inngest } = await import("@/inngest/client");
    await inngest.send(events as never);
  } else {
    const { localRunner } = await import("@/inngest/local");
    await localRunner().send(events);
  }
}
