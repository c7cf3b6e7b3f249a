// The durable functions as the webhook tests run them: the real definitions
// (allFunctions) in a LocalRunner whose sleeps return at once and are recorded,
// with a clock the test can move (Deps.now), so the 28-hour retry schedule
// and the 24-hour rotation grace take milliseconds. Importing this module
// installs its Deps as the process's (lib/deps.ts), so the events the API's
// services send reach this runner too; the test API server then keeps them.
//
// Nothing here is production code: production reads no test setting.

import { Webhook } from "standardwebhooks";
import { vi } from "vitest";
import { getDb } from "@/db/client";
import { allFunctions } from "@/inngest/functions";
import { makeDeliverWebhook } from "@/inngest/functions/deliver-webhook";
import { makeReconcile } from "@/inngest/functions/reconcile";
import { createComputeProvider } from "@/lib/compute";
import { config } from "@/lib/config";
import { installDeps, type Deps } from "@/lib/deps";
import { LocalRunner } from "@/lib/jobs/local-runner";
import type { JobLogger } from "@/lib/jobs/types";
import type { ReceivedRequest } from "@/tests/support/webhook-receiver";

/** An attempt's deadline here: long enough for a loopback answer, short enough for a timeout test. */
export const TEST_ATTEMPT_TIMEOUT_MS = 400;

const quiet: JobLogger = { info() {}, warn() {}, error() {}, debug() {} };

function createJobHarness() {
  let offsetMs = 0;
  let sleeps: number[] = [];
  let hold: { released: Promise<void>; release: () => void } | null = null;
  const dropped = new Set<string>();
  const now = () => Date.now() + offsetMs;

  const compute = createComputeProvider(config());
  const deps: Deps = {
    db: getDb,
    compute: () => compute,
    now: () => new Date(now()),
    // What the functions send (an operation's "webhook/messages.pending") can be dropped, as if lost.
    send: async (events) => {
      const kept = events.filter((e) => !dropped.has(e.name));
      if (kept.length > 0) await runner.send(kept);
    },
  };
  const functions = allFunctions(deps).map((f) =>
    f.id === "deliver-webhook" ? makeDeliverWebhook(deps, { attemptTimeoutMs: TEST_ATTEMPT_TIMEOUT_MS }) : f,
  );
  const runner: LocalRunner = new LocalRunner(functions, {
    now,
    sleep: async (ms) => {
      sleeps.push(ms);
      while (hold) await hold.released;
    },
    backoffMs: () => 1,
    logger: process.env.DEBUG_JOBS ? console : quiet,
  });

  // What the API's services send goes straight to this runner, on the real clock.
  installDeps({ ...deps, now: () => new Date(), send: async (events) => void (await runner.send(events)) });

  return {
    runner,
    deps,
    /** Every sleep asked for (step sleeps and retry backoffs of 1 ms), in order. */
    get sleeps() {
      return sleeps;
    },
    /** Moves the functions' clock on (never the API's or the receiver's). */
    advance(ms: number) {
      offsetMs += ms;
    },
    /** Sleeps wait until `release()`: a delivery can be watched between attempts. */
    holdSleeps() {
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      hold = { released, release: () => ((hold = null), release()) };
      return hold;
    },
    /** Events of this name sent by the functions are lost until `restore()`. */
    drop(name: string) {
      dropped.add(name);
    },
    /** A fresh start for each test: real time, no holds, nothing dropped, no sleeps recorded. */
    reset() {
      offsetMs = 0;
      sleeps = [];
      hold?.release();
      dropped.clear();
    },
    restore() {
      dropped.clear();
    },
    idle: () => runner.idle(),
    /** Runs the reconciler once, as its every-minute cron would, and waits for what it set going. */
    async reconcileOnce() {
      let ticks = 0;
      let clock = now();
      const cron: LocalRunner = new LocalRunner([makeReconcile(deps)], {
        now: () => clock,
        sleep: async (ms) => {
          clock += ms;
          if (++ticks > 1) cron.stop(); // the first tick runs it; the second ends the clock
        },
        logger: quiet,
      });
      cron.startCrons();
      await vi.waitFor(() => {
        if (cron.runs().length === 0) throw new Error("the reconciler has not run yet");
      });
      await cron.idle();
      const run = cron.runs()[0]!;
      if (run.status !== "succeeded") throw new Error(`reconcile failed: ${run.error?.message}`);
      await runner.idle();
      return run.output as Record<string, unknown>;
    },
  };
}

export const jobs = createJobHarness();

/**
 * Verifies a recorded request with the standardwebhooks library's own verifier,
 * as of the moment it was signed: its tolerance check reads Date.now(), which a
 * moved job clock would otherwise fail.
 */
export function verifyAsSent(secret: string, req: ReceivedRequest): { ok: boolean; error?: string; payload?: unknown } {
  const at = Number(req.headers["webhook-timestamp"]) * 1000;
  vi.useFakeTimers({ toFake: ["Date"], now: at });
  try {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers[k] = v;
    return { ok: true, payload: new Webhook(secret).verify(req.body, headers) };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  } finally {
    vi.useRealTimers();
  }
}
