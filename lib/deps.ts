import type { Db } from "@/db/client";
import type { ComputeProvider } from "./compute/types";
import type { OutgoingEvent } from "./jobs/types";

/**
 * What services and durable functions need from the outside world: the
 * database, the event sender (Inngest or the in-process runner), the compute
 * provider and the clock. Built once, by the composition root
 * (inngest/runtime.ts), and handed down: to durable functions as `deps`, to
 * services through their `ctx` (the request wrapper sends a request's events
 * with `send`). A test builds its own and hands it in the same way.
 */
export interface Deps {
  db(): Promise<Db>;
  /** Sends events to the job runtime; call it only after the transaction that recorded their work has committed. */
  send(events: OutgoingEvent[]): Promise<void>;
  compute(): ComputeProvider;
  now(): Date;
}

// On globalThis: Next.js bundles instrumentation.ts (which installs them) apart from the route
// handlers (which read them), and reloads modules in development.
const holder = globalThis as unknown as { __mocDeps?: Deps };

/** Makes `deps` the process's: what the request wrapper hands to services. The composition root calls it at start-up. */
export function installDeps(deps: Deps): void {
  holder.__mocDeps = deps;
}

/** Whether start-up (or a test) has installed the process's dependencies. */
export function hasInstalledDeps(): boolean {
  return holder.__mocDeps !== undefined;
}

/** The process's dependencies. Throws when none were installed: start-up (instrumentation.ts) did not run. */
export function installedDeps(): Deps {
  const deps = holder.__mocDeps;
  if (!deps) throw new Error("No dependencies installed: the composition root (inngest/runtime.ts) installs them at start-up.");
  return deps;
}
