import type { Queryable } from "@/db/client";
import type { Principal } from "../keys/verify";

/** What a service sees of a request: who asks, with which key, in which transaction. */
export interface ServiceContext {
  requestId: string;
  /** A transaction for mutations (everything a request writes commits together), the pool for reads. */
  db: Queryable;
  account: Principal["account"];
  key: Principal["key"];
  /** Work to run once the request's transaction has committed (sending events, never inside it). */
  afterCommit(fn: () => Promise<unknown> | unknown): void;
}
