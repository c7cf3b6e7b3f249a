import { NonRetriableError, RetryAfterError, StepError } from "inngest";
import { describe, expect, it, vi } from "vitest";
import { LocalRunner, parseCron, type LocalRunnerOptions } from "@/lib/jobs/local-runner";
import { CRON_EVENT_NAME, defineFunction, type AnyFunctionDefinition } from "@/lib/jobs/types";
import { exampleRequested, makeExample } from "./example";

/** A runner whose sleeps return at once but are recorded, and whose log is kept. */
function harness(defs: AnyFunctionDefinition[], options: LocalRunnerOptions = {}) {
  const sleeps: number[] = [];
  const logged: unknown[][] = [];
  const log = (...args: unknown[]) => void logged.push(args);
  const runner = new LocalRunner(defs, {
    sleep: async (ms) => void sleeps.push(ms),
    backoffMs: (attempt) => attempt * 100,
    logger: { info: log, warn: log, error: log, debug: log },
    ...options,
  });
  return { runner, sleeps, logged };
}

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

describe("LocalRunner: running a function", () => {
  it("runs it to completion and keeps its JSON result", async () => {
    const { def, calls } = makeExample();
    const { runner, sleeps } = harness([def]);

    const { ids } = await runner.send(exampleRequested.create({ key: "a", n: 3 }));
    await runner.idle();

    const [run] = runner.runs();
    expect(run).toMatchObject({ functionId: "example-sum", status: "succeeded", event: { id: ids[0], data: { key: "a", n: 3 } } });
    expect(run!.output).toEqual({ total: 7, at: "1970-01-01T00:00:00.000Z" });
    expect(calls).toMatchObject({ double: 1, add: 1, failures: [] });
    // The sleep ends one invocation; the handler is invoked again past it, as on Inngest.
    expect(calls.handler).toBe(2);
    expect(sleeps).toEqual([5000]);
  });

  it("does not re-run a step that succeeded when a later step fails and is retried", async () => {
    const { def, calls } = makeExample({ addFailures: 1 });
    const { runner, sleeps } = harness([def]);

    await runner.send(exampleRequested.create({ key: "a", n: 3 }));
    await runner.idle();

    expect(runner.runs()[0]).toMatchObject({ status: "succeeded", output: { total: 7 } });
    expect(calls.double).toBe(1);
    expect(calls.add).toBe(2);
    expect(calls.failures).toEqual([]);
    expect(sleeps).toEqual([5000, 100]); // the sleep, then the backoff before retry 1
  });

  it("gives each step its own retry budget", async () => {
    let first = 0;
    let second = 0;
    const def = defineFunction({
      id: "two-flaky-steps",
      trigger: { event: "test/flaky" },
      retries: 1,
      async handler({ step }) {
        await step.run("first", () => {
          if (++first === 1) throw new Error("first flaked");
        });
        await step.run("second", () => {
          if (++second === 1) throw new Error("second flaked");
        });
        return "done";
      },
    });
    const { runner } = harness([def]);
    await runner.send({ name: "test/flaky", data: {} });
    await runner.idle();
    expect(runner.runs()[0]).toMatchObject({ status: "succeeded", output: "done" });
    expect([first, second]).toEqual([2, 2]);
  });

  it("calls onFailure once, with the error, when the retries are spent", async () => {
    const { def, calls } = makeExample({ addFailures: 99, retries: 2 });
    const { runner, sleeps } = harness([def]);

    await runner.send(exampleRequested.create({ key: "a", n: 3 }));
    await runner.idle();

    const [run] = runner.runs();
    expect(run!.status).toBe("failed");
    expect(run!.error).toBeInstanceOf(StepError);
    expect(run!.error!.message).toBe("add failed (3)");
    expect(calls.add).toBe(3); // the first attempt and 2 retries
    expect(calls.double).toBe(1);
    expect(calls.failures).toEqual([
      { eventName: "test/example.requested", n: 3, errorName: "Error", message: "add failed (3)", runId: run!.runId },
    ]);
    expect(sleeps).toEqual([5000, 100, 200]);
  });

  it("fails at once on NonRetriableError and calls onFailure", async () => {
    const { def, calls } = makeExample({ fatal: true, retries: 5 });
    const { runner, sleeps } = harness([def]);

    await runner.send(exampleRequested.create({ key: "a", n: 3 }));
    await runner.idle();

    expect(runner.runs()[0]!.status).toBe("failed");
    expect(calls.add).toBe(1);
    expect(calls.failures).toHaveLength(1);
    expect(calls.failures[0]).toMatchObject({ errorName: "NonRetriableError", message: "bad input" });
    expect(sleeps).toEqual([5000]); // no backoff: nothing was retried
  });

  it("retries code outside steps too, and NonRetriableError there is final", async () => {
    let tries = 0;
    const failures: string[] = [];
    const def = defineFunction({
      id: "outside-steps",
      trigger: { event: "test/outside" },
      retries: 3,
      async handler({ attempt }) {
        tries++;
        if (attempt < 2) throw new Error(`attempt ${attempt}`);
        throw new NonRetriableError("give up");
      },
      async onFailure({ error }) {
        failures.push(error.message);
      },
    });
    const { runner } = harness([def]);
    await runner.send({ name: "test/outside", data: {} });
    await runner.idle();
    expect(tries).toBe(3);
    expect(failures).toEqual(["give up"]);
  });

  it("lets the handler catch a step that failed for good", async () => {
    let tries = 0;
    const def = defineFunction({
      id: "catches",
      trigger: { event: "test/catch" },
      retries: 1,
      async handler({ step }) {
        try {
          await step.run("flaky", () => {
            tries++;
            throw new TypeError("still broken");
          });
        } catch (err) {
          return { caught: (err as Error).name, message: (err as Error).message, stepError: err instanceof StepError };
        }
      },
    });
    const { runner } = harness([def]);
    await runner.send({ name: "test/catch", data: {} });
    await runner.idle();
    expect(tries).toBe(2);
    expect(runner.runs()[0]).toMatchObject({
      status: "succeeded",
      output: { caught: "TypeError", message: "still broken", stepError: true },
    });
  });

  it("waits a RetryAfterError's delay instead of the backoff", async () => {
    let tries = 0;
    const def = defineFunction({
      id: "retry-after",
      trigger: { event: "test/retry-after" },
      retries: 1,
      async handler({ step }) {
        return step.run("call", () => {
          if (++tries === 1) throw new RetryAfterError("rate limited", "30s");
          return "ok";
        });
      },
    });
    const { runner, sleeps } = harness([def]);
    await runner.send({ name: "test/retry-after", data: {} });
    await runner.idle();
    expect(runner.runs()[0]).toMatchObject({ status: "succeeded", output: "ok" });
    expect(sleeps).toEqual([30_000]);
  });

  it("refuses an event that does not match the trigger's schema, without retrying", async () => {
    const { def, calls } = makeExample({ retries: 3 });
    const { runner } = harness([def]);
    await runner.send({ name: exampleRequested.name, data: { key: "a", n: "three" } });
    await runner.idle();
    expect(calls.handler).toBe(0);
    expect(calls.failures).toHaveLength(1);
    expect(calls.failures[0]!.errorName).toBe("EventValidationError");
    expect(calls.failures[0]!.message).toMatch(/^n: /);
  });

  it("gives repeated step ids Inngest's suffixes and memoises each one", async () => {
    let checks = 0;
    const def = defineFunction({
      id: "poller",
      trigger: { event: "test/poll" },
      retries: 0,
      async handler({ step }) {
        for (;;) {
          const ready = await step.run("check", () => ++checks >= 3);
          if (ready) return checks;
          await step.sleep("wait", 1000);
        }
      },
    });
    const { runner, sleeps } = harness([def]);
    await runner.send({ name: "test/poll", data: {} });
    await runner.idle();
    expect(runner.runs()[0]).toMatchObject({ status: "succeeded", output: 3 });
    expect(checks).toBe(3); // "check", "check:1", "check:2", each run once
    expect(sleeps).toEqual([1000, 1000]);
  });

  it("never lets an error escape as an unhandled rejection", async () => {
    const def = defineFunction({
      id: "fails-twice",
      trigger: { event: "test/boom" },
      retries: 0,
      async handler() {
        throw new Error("handler broke");
      },
      async onFailure() {
        throw new Error("onFailure broke too");
      },
    });
    const { runner, logged } = harness([def]);
    await runner.send({ name: "test/boom", data: {} });
    await runner.idle();
    expect(runner.runs()[0]!.status).toBe("failed");
    const messages = logged.flat().filter((x): x is Error => x instanceof Error).map((e) => e.message);
    expect(messages).toContain("handler broke");
    expect(messages).toContain("onFailure broke too");
  });
});

describe("LocalRunner: sleeps", () => {
  it("waits through the injected sleep before the next step", async () => {
    const { def, calls } = makeExample();
    const pending: { ms: number; wake: () => void }[] = [];
    const { runner } = harness([def], {
      sleep: (ms) => new Promise<void>((wake) => pending.push({ ms, wake })),
    });

    await runner.send(exampleRequested.create({ key: "a", n: 1 }));
    await vi.waitFor(() => expect(pending).toHaveLength(1));
    expect(pending[0]!.ms).toBe(5000);
    expect(calls.add).toBe(0);

    pending[0]!.wake();
    await runner.idle();
    expect(calls.add).toBe(1);
    expect(runner.runs()[0]!.status).toBe("succeeded");
  });
});

describe("LocalRunner: concurrency", () => {
  function gated(withSleep = false) {
    const gates = new Map<string, ReturnType<typeof gate>>();
    const started: string[] = [];
    const def = defineFunction<{ key: string; label: string }>({
      id: "gated",
      trigger: { event: "test/gated" },
      concurrency: { key: "event.data.key", limit: 1 },
      retries: 0,
      async handler({ event, step }) {
        if (withSleep) await step.sleep("nap", "1m");
        await step.run("work", async () => {
          started.push(event.data.label);
          await gates.get(event.data.label)!.opened;
        });
        return event.data.label;
      },
    });
    const send = (runner: LocalRunner, key: string, label: string) => {
      gates.set(label, gate());
      return runner.send({ name: "test/gated", data: { key, label } });
    };
    return { def, gates, started, send };
  }

  it("runs one at a time per key, in order, and different keys side by side", async () => {
    const { def, gates, started, send } = gated();
    const { runner } = harness([def]);

    await send(runner, "k1", "a");
    await send(runner, "k1", "b");
    await send(runner, "k2", "c");
    await vi.waitFor(() => expect(started).toEqual(["a", "c"]));
    await new Promise((r) => setTimeout(r, 20));
    expect(started).toEqual(["a", "c"]); // b waits for a's slot

    gates.get("a")!.open();
    await vi.waitFor(() => expect(started).toEqual(["a", "c", "b"]));
    gates.get("b")!.open();
    gates.get("c")!.open();
    await runner.idle();
    expect(runner.runs().map((r) => r.output)).toEqual(["a", "b", "c"]);
  });

  it("frees the slot while a run sleeps, as Inngest does", async () => {
    const { def, gates, started, send } = gated(true);
    const naps: (() => void)[] = [];
    const { runner } = harness([def], { sleep: () => new Promise<void>((wake) => naps.push(wake)) });

    await send(runner, "k1", "a");
    await send(runner, "k1", "b");
    await vi.waitFor(() => expect(naps).toHaveLength(2)); // both are asleep: neither holds the slot
    naps[0]!();
    naps[1]!();
    await vi.waitFor(() => expect(started).toEqual(["a"]));
    await new Promise((r) => setTimeout(r, 20));
    expect(started).toEqual(["a"]); // awake, b queues behind a's step
    gates.get("a")!.open();
    gates.get("b")!.open();
    await runner.idle();
    expect(started).toEqual(["a", "b"]);
  });

  it("refuses a key expression it cannot evaluate", () => {
    const def = defineFunction({
      id: "odd-key",
      trigger: { event: "test/odd" },
      concurrency: { key: "event.data.a + event.data.b", limit: 1 },
      retries: 0,
      handler: async () => null,
    });
    expect(() => new LocalRunner([def])).toThrow(/concurrency key .* is not supported/);
  });
});

describe("LocalRunner: events", () => {
  it("chains functions through step.sendEvent, sending once per run", async () => {
    const received: number[] = [];
    const first = defineFunction({
      id: "chain-first",
      trigger: { event: "test/chain.start" },
      retries: 1,
      async handler({ event, step, attempt }) {
        const { ids } = await step.sendEvent("pass-on", { name: "test/chain.next", data: { v: Number(event.data.v) + 1 } });
        if (attempt === 0) throw new Error("fail after sending"); // the retry must not send again
        return ids;
      },
    });
    const second = defineFunction<{ v: number }>({
      id: "chain-second",
      trigger: { event: "test/chain.next" },
      retries: 0,
      async handler({ event, step }) {
        await step.run("record", () => received.push(event.data.v));
      },
    });
    const { runner } = harness([first, second]);
    await runner.send({ name: "test/chain.start", data: { v: 1 } });
    await runner.idle();
    expect(received).toEqual([2]);
    const [a, b] = runner.runs();
    expect(a!.output).toEqual([b!.event.id]);
  });

  it("ignores an event whose id it has already seen", async () => {
    const { def, calls } = makeExample();
    const { runner } = harness([def]);
    const first = await runner.send(exampleRequested.create({ key: "a", n: 1 }, { id: "op_1" }));
    const again = await runner.send({ name: exampleRequested.name, id: "op_1", data: { key: "a", n: 1 } });
    await runner.idle();
    expect(first.ids).toEqual(["op_1"]);
    expect(again.ids).toEqual(["op_1"]);
    expect(runner.runs()).toHaveLength(1);
    expect(calls.double).toBe(1);
  });
});

describe("LocalRunner: crons", () => {
  it("starts runs on schedule between startCrons() and stop()", async () => {
    const fired: string[] = [];
    const def = defineFunction<{ cron: string }>({
      id: "every-five",
      trigger: { cron: "*/5 * * * *" },
      retries: 0,
      async handler({ event }) {
        fired.push(`${new Date(event.ts).toISOString()} ${event.name} ${event.data.cron}`);
      },
    });
    let clock = Date.parse("2026-03-01T00:03:30Z");
    const end = Date.parse("2026-03-01T00:16:00Z");
    // The cron loop's clock: each sleep moves time on; past `end`, the test stops the runner.
    const runner: LocalRunner = new LocalRunner([def], {
      now: () => clock,
      sleep: async (ms) => {
        clock += ms;
        if (clock >= end) runner.stop();
      },
      logger: { info() {}, warn() {}, error() {}, debug() {} },
    });
    runner.startCrons();
    await vi.waitFor(() => expect(clock).toBeGreaterThanOrEqual(end));
    await runner.idle();
    expect(fired).toEqual([
      `2026-03-01T00:05:00.000Z ${CRON_EVENT_NAME} */5 * * * *`,
      `2026-03-01T00:10:00.000Z ${CRON_EVENT_NAME} */5 * * * *`,
      `2026-03-01T00:15:00.000Z ${CRON_EVENT_NAME} */5 * * * *`,
    ]);
    const stoppedAt = clock;
    await new Promise((r) => setTimeout(r, 20));
    expect(clock).toBe(stoppedAt); // stopped: the clock loop no longer sleeps
  });

  it("matches cron expressions in UTC", () => {
    const at = (iso: string) => new Date(iso);
    expect(parseCron("* * * * *")(at("2026-03-01T12:34:00Z"))).toBe(true);
    expect(parseCron("*/15 * * * *")(at("2026-03-01T12:45:00Z"))).toBe(true);
    expect(parseCron("*/15 * * * *")(at("2026-03-01T12:40:00Z"))).toBe(false);
    expect(parseCron("0 9 * * 1-5")(at("2026-03-02T09:00:00Z"))).toBe(true); // a Monday
    expect(parseCron("0 9 * * 1-5")(at("2026-03-01T09:00:00Z"))).toBe(false); // a Sunday
    expect(parseCron("0 0 * * 7")(at("2026-03-01T00:00:00Z"))).toBe(true); // 7 is Sunday too
    expect(parseCron("5,35 2-4 * * *")(at("2026-03-01T03:35:00Z"))).toBe(true);
    expect(parseCron("0 0 1 * 1")(at("2026-03-02T00:00:00Z"))).toBe(true); // day 1 OR Monday
    expect(parseCron("0 0 1 * 1")(at("2026-03-03T00:00:00Z"))).toBe(false);
  });

  it("takes what Inngest takes: names, nicknames and a time zone", () => {
    const at = (iso: string) => new Date(iso);
    expect(parseCron("0 9 * * MON")(at("2026-03-02T09:00:00Z"))).toBe(true);
    expect(parseCron("@hourly")(at("2026-03-02T17:00:00Z"))).toBe(true);
    expect(parseCron("@hourly")(at("2026-03-02T17:01:00Z"))).toBe(false);
    expect(parseCron("TZ=Europe/Paris 0 9 * * *")(at("2026-03-02T08:00:00Z"))).toBe(true); // 9:00 in Paris (UTC+1)
    expect(parseCron("TZ=Europe/Paris 0 9 * * *")(at("2026-03-02T09:00:00Z"))).toBe(false);
  });

  it("refuses a cron it cannot follow, when built", () => {
    for (const cron of ["60 * * * *", "* * * *", "0 0 9 * * *", "*/0 * * * *", "@reboot", "TZ=Nowhere/Land 0 9 * * *"]) {
      expect(() => parseCron(cron), cron).toThrow(/not supported/);
    }
    const def = defineFunction({ id: "bad-cron", trigger: { cron: "61 * * * *" }, retries: 0, handler: async () => null });
    expect(() => new LocalRunner([def])).toThrow(/not supported/);
  });
});

describe("defineFunction", () => {
  it("checks what the types cannot", () => {
    const base = { trigger: { event: "x" }, retries: 0 as const, handler: async () => null };
    expect(() => defineFunction({ ...base, id: "Not_Kebab" })).toThrow(/kebab-case/);
    expect(() => defineFunction({ ...base, id: "ok", retries: 1.5 as never })).toThrow(/retries/);
    expect(() => defineFunction({ ...base, id: "ok", concurrency: { limit: 0 } })).toThrow(/limit/);
    expect(() => new LocalRunner([defineFunction({ ...base, id: "dup" }), defineFunction({ ...base, id: "dup" })])).toThrow(/two functions/);
  });
});
