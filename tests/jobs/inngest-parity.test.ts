import { InngestTestEngine, mockCtx } from "@inngest/test";
import { Inngest, serializeError, type InngestFunction } from "inngest";
import { describe, expect, it } from "vitest";
import { toInngestFunction } from "@/lib/jobs/define";
import { LocalRunner } from "@/lib/jobs/local-runner";
import { defineFunction } from "@/lib/jobs/types";
import { exampleRequested, makeExample, type ExampleBehaviour } from "./example";

// The same definition, run by the local runner and by Inngest's own execution
// engine (through @inngest/test), must come to the same end.

const silent = { info() {}, warn() {}, error() {}, debug() {} };
const client = new Inngest({ id: "jobs-test", logger: silent });

async function runLocally(behaviour: ExampleBehaviour) {
  const { def, calls } = makeExample(behaviour);
  const runner = new LocalRunner([def], { sleep: async () => {}, backoffMs: () => 0, logger: silent });
  await runner.send(exampleRequested.create({ key: "k", n: 3 }));
  await runner.idle();
  return { run: runner.runs()[0]!, calls };
}

/** A fresh engine per scenario; the sleep is mocked by its step id, or execute() never returns. */
async function runOnInngest(behaviour: ExampleBehaviour) {
  const { def, calls } = makeExample(behaviour);
  const engine = new InngestTestEngine({
    function: toInngestFunction(client, def),
    events: [{ name: exampleRequested.name, data: { key: "k", n: 3 } }],
    steps: [{ id: "pause", handler: () => null }],
  });
  const { result, error } = await engine.execute();
  return { result, error: error as { name?: string; message?: string } | undefined, calls };
}

describe("the same definition on Inngest (@inngest/test) and on the local runner", () => {
  it("gives the same result, running each step body once", async () => {
    const local = await runLocally({});
    const inngest = await runOnInngest({});

    expect(inngest.error).toBeUndefined();
    // Inngest stores the result as JSON (the Date becomes a string) but hands the
    // raw value to code later in the same request, and @inngest/test shows that
    // raw value; the local runner always gives the stored form, which is what the
    // types (Jsonify) promise in both runtimes.
    expect(JSON.parse(JSON.stringify(inngest.result))).toEqual({ total: 7, at: "1970-01-01T00:00:00.000Z" });
    expect(local.run.output).toEqual(JSON.parse(JSON.stringify(inngest.result)));
    expect(inngest.calls).toMatchObject({ double: 1, add: 1 });
    expect(local.calls).toMatchObject({ double: 1, add: 1 });
  });

  it("fails the same way on NonRetriableError", async () => {
    const local = await runLocally({ fatal: true });
    const inngest = await runOnInngest({ fatal: true });

    expect(inngest.result).toBeUndefined();
    expect(inngest.error).toMatchObject({ name: "NonRetriableError", message: "bad input" });
    expect(local.run.status).toBe("failed");
    expect({ name: local.run.error!.name, message: local.run.error!.message }).toEqual({
      name: inngest.error!.name,
      message: inngest.error!.message,
    });
    expect([local.calls.add, inngest.calls.add]).toEqual([1, 1]);
  });

  it("reports a failed step's error the same way", async () => {
    const local = await runLocally({ addFailures: 99, retries: 0 });
    const inngest = await runOnInngest({ addFailures: 99, retries: 0 });

    expect(inngest.error).toMatchObject({ message: "add failed (1)" });
    expect(local.run.error!.message).toBe(inngest.error!.message);
    expect([local.calls.add, inngest.calls.add]).toEqual([1, 1]);
  });

  it("hands onFailure the failed run's event, run id and error", async () => {
    const { def, calls } = makeExample();
    const fn = toInngestFunction(client, def);
    // @inngest/test cannot run an onFailure handler itself; Inngest runs it as a
    // separate function triggered by "inngest/function.failed", so do just that.
    const onFailure = (fn as unknown as { opts: { onFailure: Parameters<typeof client.createFunction>[1] } }).opts.onFailure;
    const failureFn = client.createFunction({ id: "example-sum-failure", triggers: [{ event: "inngest/function.failed" }] }, onFailure);
    const error = new Error("it broke");
    const engine = new InngestTestEngine({
      function: failureFn,
      events: [
        {
          name: "inngest/function.failed",
          data: {
            function_id: "jobs-test-example-sum",
            run_id: "run_original",
            error: serializeError(error),
            event: { name: exampleRequested.name, data: { key: "k", n: 3 }, id: "evt_1", ts: 1 },
          },
        },
      ],
      // What Inngest's engine adds for a failure handler.
      transformCtx: (ctx) => ({ ...mockCtx(ctx), error }),
    });
    const { error: failed } = await engine.execute();
    expect(failed).toBeUndefined();
    expect(calls.failures).toEqual([
      { eventName: "test/example.requested", n: 3, errorName: "Error", message: "it broke", runId: "run_original" },
    ]);
  });
});

describe("toInngestFunction", () => {
  type WithConfig = { getConfig(o: { baseUrl: URL; appPrefix: string }): Record<string, unknown>[] };
  const configOf = (fn: InngestFunction.Any) =>
    (fn as unknown as WithConfig).getConfig({ baseUrl: new URL("http://localhost:3000/api/inngest"), appPrefix: "myopenclaw" });

  it("registers id, trigger, concurrency, retries and the failure handler as Inngest expects", () => {
    const { def } = makeExample({ retries: 4 });
    const [main, failure, ...rest] = configOf(toInngestFunction(client, def));
    expect(rest).toEqual([]);
    expect(main).toMatchObject({
      id: "myopenclaw-example-sum",
      triggers: [{ event: "test/example.requested" }],
      concurrency: { key: "event.data.key", limit: 1 },
      steps: { step: { retries: { attempts: 4 } } },
    });
    expect(failure).toMatchObject({
      id: "myopenclaw-example-sum-failure",
      triggers: [{ event: "inngest/function.failed", expression: "event.data.function_id == 'myopenclaw-example-sum'" }],
    });
  });

  it("registers a cron trigger, and no failure function when there is no onFailure", () => {
    const def = defineFunction({ id: "sweep", trigger: { cron: "*/5 * * * *" }, retries: 0, handler: async () => null });
    const configs = configOf(toInngestFunction(client, def));
    expect(configs).toHaveLength(1);
    expect(configs[0]).toMatchObject({ id: "myopenclaw-sweep", triggers: [{ cron: "*/5 * * * *" }] });
    expect(configs[0]!.concurrency).toBeUndefined();
  });

  it("lets Inngest validate received events against the trigger's schema, as the local runner does", async () => {
    const { def, calls } = makeExample();
    const engine = new InngestTestEngine({
      function: toInngestFunction(client, def),
      events: [{ name: exampleRequested.name, data: { key: "k", n: "three" } }],
      steps: [{ id: "pause", handler: () => null }],
    });
    const { error } = await engine.execute();
    expect(calls.handler).toBe(0);

    const local = makeExample();
    const runner = new LocalRunner([local.def], { logger: silent });
    await runner.send({ name: exampleRequested.name, data: { key: "k", n: "three" } });
    await runner.idle();
    expect(local.calls.handler).toBe(0);
    const localError = runner.runs()[0]!.error!;
    expect(error).toMatchObject({ name: "EventValidationError", message: localError.message });
    expect(localError.name).toBe("EventValidationError");
  });
});
