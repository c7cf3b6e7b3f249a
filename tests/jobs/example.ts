import { NonRetriableError } from "inngest";
import { z } from "zod";
import { defineEvent, defineFunction, type RetryCount } from "@/lib/jobs/types";

/**
 * A throwaway durable function used by the job tests only: it runs against both
 * the local runner and Inngest (@inngest/test), so both can be held to the same
 * results. Counters record how often each real step body ran.
 */
export const exampleRequested = defineEvent(
  "test/example.requested",
  z.object({ key: z.string(), n: z.number() }),
);

export interface ExampleBehaviour {
  /** How many times the "add-one" step fails before it succeeds. */
  addFailures?: number;
  /** "add-one" throws NonRetriableError. */
  fatal?: boolean;
  retries?: RetryCount;
}

export function makeExample(behaviour: ExampleBehaviour = {}) {
  const calls = {
    handler: 0,
    double: 0,
    add: 0,
    failures: [] as { eventName: string; n: number; errorName: string; message: string; runId: string }[],
  };
  const def = defineFunction({
    id: "example-sum",
    trigger: { event: exampleRequested },
    concurrency: { key: "event.data.key", limit: 1 },
    retries: behaviour.retries ?? 2,
    async handler({ event, step }) {
      calls.handler++;
      const doubled = await step.run("double", () => {
        calls.double++;
        return event.data.n * 2;
      });
      await step.sleep("pause", "5s");
      const sum = await step.run("add-one", () => {
        calls.add++;
        if (behaviour.fatal) throw new NonRetriableError("bad input");
        if (calls.add <= (behaviour.addFailures ?? 0)) throw new Error(`add failed (${calls.add})`);
        // A Date comes back as a string in both runtimes: results are stored as JSON.
        return { total: doubled + 1, at: new Date(0) };
      });
      return { total: sum.total, at: sum.at };
    },
    async onFailure({ event, error, runId }) {
      calls.failures.push({ eventName: event.name, n: event.data.n, errorName: error.name, message: error.message, runId });
    },
  });
  return { def, calls };
}
