import { LocalRunner } from "@/lib/jobs/local-runner";
import { log } from "@/lib/log";
import { allFunctions } from "./functions";

const holder = globalThis as unknown as { __mocLocalRunner?: LocalRunner };

/**
 * The embedded runtime of the durable functions: the same definitions Inngest
 * serves, run in this process. One per process, kept across module reloads.
 */
export function localRunner(): LocalRunner {
  holder.__mocLocalRunner ??= new LocalRunner(allFunctions(), {
    logger: {
      info: (...a: unknown[]) => log.info("job", { detail: a.map(String).join(" ") }),
      warn: (...a: unknown[]) => log.warn("job", { detail: a.map(String).join(" ") }),
      error: (...a: unknown[]) => log.error("job", { detail: a.map(String).join(" ") }),
      debug: (...a: unknown[]) => log.debug("job", { detail: a.map(String).join(" ") }),
    },
  });
  return holder.__mocLocalRunner;
}

/** Tests only: stop and forget the runner (a new one is made on next use). */
export async function resetLocalRunner(): Promise<void> {
  const r = holder.__mocLocalRunner;
  delete holder.__mocLocalRunner;
  if (r) {
    await r.stop();
  }
}

/** Tests only: make this runner (e.g. one whose sleeps take no time) the process's, until reset. */
export function setLocalRunner(runner: LocalRunner): void {
  holder.__mocLocalRunner = runner;
}
