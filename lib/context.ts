import type { Queryable } from "@/db/client";
import type { OutgoingEvent } from "./jobs/types";
import type { Principal } from "./keys/verify";

/**
 * What a service sees of a request: who asks, with which key, in which
 * transaction, and how to hand work to the job runtime. The request wrapper
 * (lib/http/route.ts) builds it; services know nothing of HTTP.
 */
export interface ServiceContext {
  requestId: string;
  /** A transaction for mutations (everything a request writes commits together), the pool for reads. */
  db: Queryable;
  account: Principal["account"];
  key: Principal["key"];
  /** Work to run once the request's transaction has committed (never inside it). */
  afterCommit(fn: () => Promise<unknown> | unknown): void;
  /**
   * Sends events to the job runtime once the request's transaction has
   * committed, so a run never starts on work that was rolled back. A send that
   * fails is logged; the reconciler sends a lost operation again.
   */
  sendAfterCommit(events: OutgoingEvent[]): void;
}
