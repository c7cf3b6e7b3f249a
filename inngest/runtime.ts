import type { Inngest } from "inngest";
import { getDb } from "@/db/client";
import { createComputeProvider } from "@/lib/compute";
import type { ComputeProvider } from "@/lib/compute/types";
import { config, type Config } from "@/lib/config";
import { installDeps, type Deps } from "@/lib/deps";
import { operationRequestedEvent, rolloutAdvanceEvent } from "@/lib/jobs/events";
import { LocalRunner, type LocalRunnerOptions } from "@/lib/jobs/local-runner";
import type { AnyFunctionDefinition, JobLogger } from "@/lib/jobs/types";
import { errorMessage, log } from "@/lib/log";
import { unfinishedOperations } from "@/lib/services/maintenance";
import { runningRollouts } from "@/lib/services/rollouts";
import { inngest } from "./client";
import { allFunctions } from "./functions";

/**
 * The composition root: the one place that decides how durable work runs and
 * builds what everything else is handed. It picks the runtime from
 * `config().jobs` (Inngest, or the in-process LocalRunner in embedded mode),
 * builds the compute provider and the clock, and gives them out as `Deps`: to
 * the durable functions (`allFunctions(deps)`), and, installed with
 * `installDeps`, to the request wrapper, which gives services the sender
 * through their `ctx`. Nothing under lib/ imports this folder (a lint rule
 * says so), so there is no import circle between services, jobs and functions.
 *
 * Entry points: instrumentation.ts (server start-up), app/api/inngest/route.ts
 * (Inngest calls the functions there). A test builds its own with
 * `createRuntime(cfg, overrides)`, or its own `Deps`, and installs those.
 */
export interface Runtime {
  /** "inngest": Inngest (cloud or dev server) runs the functions through app/api/inngest; "local": this process does. */
  readonly kind: Config["jobs"]["kind"];
  readonly deps: Deps;
  readonly functions: AnyFunctionDefinition[];
  /** The client app/api/inngest serves the functions with (only its id in embedded mode, where nothing is sent through it). */
  readonly client: Inngest.Any;
  /** The in-process runner; null when Inngest runs the functions. */
  readonly runner: LocalRunner | null;
  /**
   * Embedded mode: starts the cron clock (the reconciler) and hands the
   * runner the operations a previous process left unfinished (their steps are
   * idempotent, so running them from the top finishes them, or fails them
   * with a clear error), and the rollouts it left running. With Inngest: nothing (Inngest keeps the crons and runs).
   */
  start(): Promise<void>;
  /** Stops the cron clock; runs in progress carry on (`runner.idle()` waits for them). */
  stop(): void;
}

export interface RuntimeOverrides {
  /** The compute provider (default: the one `cfg.compute` describes, built on first use). */
  compute?: ComputeProvider;
  /** The clock the functions read (default: the system clock). */
  now?: () => Date;
  /** The local runner's clock, sleeps, backoff and logger. */
  runner?: LocalRunnerOptions;
}

const jobLogger: JobLogger = {
  info: (...a: unknown[]) => log.info("job", { detail: a.map(String).join(" ") }),
  warn: (...a: unknown[]) => log.warn("job", { detail: a.map(String).join(" ") }),
  error: (...a: unknown[]) => log.error("job", { detail: a.map(String).join(" ") }),
  debug: (...a: unknown[]) => log.debug("job", { detail: a.map(String).join(" ") }),
};

export function createRuntime(
  cfg: Pick<Config, "jobs" | "compute" | "instanceDomain" | "dataDir" | "database"> = config(),
  overrides: RuntimeOverrides = {},
): Runtime {
  let compute = overrides.compute;
  let runner: LocalRunner | null = null;
  const deps: Deps = {
    db: getDb,
    compute: () => (compute ??= createComputeProvider(cfg)),
    now: overrides.now ?? (() => new Date()),
    async send(events) {
      if (events.length === 0) return;
      if (runner) await runner.send(events);
      else await inngest.send(events as never);
    },
  };
  const functions = allFunctions(deps);
  if (cfg.jobs.kind === "inngest") {
    return { kind: "inngest", deps, functions, client: inngest, runner: null, start: async () => undefined, stop: () => undefined };
  }
  const local = (runner = new LocalRunner(functions, { logger: jobLogger, ...overrides.runner }));
  return {
    kind: "local",
    deps,
    functions,
    client: inngest,
    runner: local,
    async start() {
      local.startCrons();
      const left = await unfinishedOperations(await deps.db());
      for (const op of left) {
        try {
          await deps.send([operationRequestedEvent(op)]);
        } catch (err) {
          log.error("could not resume operation", { operation_id: op.id, error: errorMessage(err) });
        }
      }
      if (left.length > 0) log.info("resumed unfinished operations", { count: left.length });
      // Running rollouts go on where they stopped: everything they know is in the database.
      const rollouts = await runningRollouts(await deps.db());
      try {
        await deps.send(rollouts.map((id) => rolloutAdvanceEvent(id, "start-up")));
      } catch (err) {
        log.error("could not resume rollouts", { error: errorMessage(err) });
      }
      if (rollouts.length > 0) log.info("resumed running rollouts", { count: rollouts.length });
    },
    stop: () => local.stop(),
  };
}

// Kept on globalThis: Next.js reloads modules in development, and a second
// runtime would lose the local runner's runs and the simulated machines.
const holder = globalThis as unknown as { __mocRuntime?: Runtime };

/**
 * This process's runtime, built from `config()` on first use, its deps
 * installed as the process's (what the request wrapper hands to services).
 */
export function processRuntime(): Runtime {
  if (!holder.__mocRuntime) {
    holder.__mocRuntime = createRuntime();
    installDeps(holder.__mocRuntime.deps);
  }
  return holder.__mocRuntime;
}
