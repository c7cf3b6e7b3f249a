import { getDb, type Db } from "@/db/client";
import { computeProvider } from "@/lib/compute";
import type { ComputeProvider } from "@/lib/compute/types";
import { sendEvents } from "@/lib/jobs/send";
import type { OutgoingEvent } from "@/lib/jobs/types";

/** What the durable functions need from the outside, passed in so tests can hand in their own. */
export interface JobDeps {
  db(): Promise<Db>;
  compute(): ComputeProvider;
  send(events: OutgoingEvent[]): Promise<void>;
  now(): Date;
}

export const defaultDeps: JobDeps = {
  db: getDb,
  compute: () => computeProvider(),
  send: sendEvents,
  now: () => new Date(),
};
