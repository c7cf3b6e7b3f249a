import { randomUUID } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import { Cron } from "croner";
import { durationToMs, NonRetriableError, serializeError, StepError } from "inngest";
import {
  CRON_EVENT_NAME,
  triggerEventName,
  type AnyFunctionDefinition,
  type JobContext,
  type JobLogger,
  type OutgoingEvent,
  type ReceivedEvent,
  type Step,
} from "./types";

/**
 * Runs `FunctionDefinition`s in-process, the way Inngest runs them, for the
 * embedded mode (no Inngest settings). What it keeps is in memory only: runs in
 * progress are lost when the process exits.
 *
 * Like Inngest:
 * - the handler is re-invoked from the top after a failure and after every
 *   `step.sleep`; steps that succeeded return their stored (JSON) result;
 * - each step, and the code between steps, has `retries` attempts after the
 *   first, with backoff (or a `RetryAfterError`'s delay); `NonRetriableError`
 *   fails at once; a step that has failed for good throws a `StepError` into the
 *   handler, and if the handler lets it escape the run fails without retrying;
 * - `onFailure` runs once the run has failed (as its own little run, 1 retry);
 * - the trigger's schema is checked when a run starts (failure: EventValidationError,
 *   a NonRetriableError);
 * - an event whose `id` was seen in the last 24 hours is ignored;
 * - `concurrency` bounds code executing at once per evaluated key, FIFO; a run
 *   that sleeps or waits to retry gives up its slot and queues again to resume.
 *
 * Supported, and checked when the runner is built: concurrency keys
 * `event.data.<path>` or a quoted string; crons as Inngest takes them (see
 * parseCron). Crons run only between `startCrons()` and `stop()`.
 */

export interface LocalRunnerOptions {
  /** Waits `ms`; rejects when `signal` aborts. Used for step sleeps, retry backoff and the cron clock. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Milliseconds since the epoch. */
  now?: () => number;
  /** Delay before retry number `attempt` (1 for the first retry). */
  backoffMs?: (attempt: number) => number;
  logger?: JobLogger;
}

export interface RunRecord {
  runId: string;
  functionId: string;
  event: ReceivedEvent<unknown>;
  /** "running" covers a run waiting for a concurrency slot, sleeping or waiting to retry. */
  status: "running" | "succeeded" | "failed";
  output?: unknown;
  error?: Error;
}

type Memo = { ok: true; value: unknown } | { ok: false; error: Error };
type Outcome =
  | { kind: "returned"; value: unknown }
  | { kind: "threw"; error: unknown }
  | { kind: "sleep"; id: string; ms: number }
  | { kind: "retry"; error: Error };
interface RunState {
  runId: string;
  event: ReceivedEvent<unknown>;
  retries: number;
  /** Attempt of the work now pending; back to 0 whenever a step completes. */
  attempt: number;
  memo: Map<string, Memo>;
  /** StepErrors thrown for steps that failed for good: escaping the handler, they fail the run. */
  finalErrors: WeakSet<object>;
}
interface Slot {
  key: string;
  limit: number;
}
interface Registered {
  def: AnyFunctionDefinition;
  /** The function's concurrency key for an event. */
  key: (event: ReceivedEvent<unknown>) => string;
  cron?: (at: Date) => boolean;
}

const DEDUPE_MS = 24 * 60 * 60 * 1000;
const KEEP_RECORDS = 1000;
const never = <T>() => new Promise<T>(() => {});
const toJson = (value: unknown): unknown => JSON.parse(JSON.stringify(value ?? null));
const toError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));
const isNonRetriable = (e: Error) => e instanceof NonRetriableError || e.name === "NonRetriableError";

export class LocalRunner {
  private readonly defs: Registered[];
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly now: () => number;
  private readonly backoffMs: (attempt: number) => number;
  private readonly logger: JobLogger;
  private readonly active = new Set<Promise<void>>();
  private readonly slots = new Map<string, { active: number; waiting: (() => void)[] }>();
  private readonly seenEvents = new Map<string, number>();
  private readonly records: RunRecord[] = [];
  private cronAbort: AbortController | undefined;

  constructor(definitions: AnyFunctionDefinition[], options: LocalRunnerOptions = {}) {
    const ids = new Set<string>();
    this.defs = definitions.map((def) => {
      if (ids.has(def.id)) throw new Error(`two functions have the id "${def.id}"`);
      ids.add(def.id);
      return {
        def,
        key: compileKey(def.id, def.concurrency?.key),
        cron: "cron" in def.trigger ? parseCron(def.trigger.cron) : undefined,
      };
    });
    this.sleep = options.sleep ?? ((ms, signal) => delay(ms, undefined, { signal }));
    this.now = options.now ?? Date.now;
    this.backoffMs = options.backoffMs ?? ((attempt) => Math.min(1000 * 2 ** (attempt - 1), 60_000));
    this.logger = options.logger ?? console;
  }

  /** Starts every function triggered by these events; answers as `inngest.send` does. */
  async send(events: OutgoingEvent<unknown> | OutgoingEvent<unknown>[]): Promise<{ ids: string[] }> {
    const list = Array.isArray(events) ? events : [events];
    for (const e of list) {
      if (typeof e?.name !== "string" || e.name === "") throw new TypeError("an event needs a name");
    }
    const now = this.now();
    for (const [id, at] of this.seenEvents) {
      if (at > now - DEDUPE_MS) break; // insertion order is time order
      this.seenEvents.delete(id);
    }
    const ids: string[] = [];
    for (const e of list) {
      const event = { name: e.name, data: toJson(e.data ?? {}), id: e.id ?? randomUUID(), ts: e.ts ?? now };
      ids.push(event.id);
      if (this.seenEvents.has(event.id)) continue;
      this.seenEvents.set(event.id, now);
      for (const d of this.defs) {
        if (triggerEventName(d.def.trigger) === event.name) this.start(d, event);
      }
    }
    return { ids };
  }

  /** Resolves once no run is executing, sleeping, waiting to retry, or queued. */
  async idle(): Promise<void> {
    while (this.active.size > 0) await Promise.allSettled([...this.active]);
  }

  /** The latest runs (up to 1000), oldest first. */
  runs(): readonly RunRecord[] {
    return this.records;
  }

  /** Starts the cron clock: each minute (UTC), cron functions whose schedule matches start a run. */
  startCrons(): void {
    const crons = this.defs.filter((d) => d.cron);
    if (this.cronAbort || crons.length === 0) return;
    const abort = (this.cronAbort = new AbortController());
    const tick = async () => {
      let last = 0;
      while (!abort.signal.aborted) {
        const now = this.now();
        // Never the same minute twice, even if a timer fires a little early.
        const next = Math.max(Math.floor(now / 60_000) * 60_000 + 60_000, last + 60_000);
        await this.sleep(next - now, abort.signal);
        if (abort.signal.aborted) return;
        last = next;
        const at = new Date(next);
        for (const d of crons) {
          if (!d.cron!(at)) continue;
          const cron = (d.def.trigger as { cron: string }).cron;
          this.start(d, { name: CRON_EVENT_NAME, data: { cron }, id: randomUUID(), ts: next });
        }
      }
    };
    tick().catch((err: unknown) => {
      if (!abort.signal.aborted) this.logger.error("local runner: the cron clock stopped", err);
    });
  }

  /** Stops the cron clock. Runs in progress carry on: `await idle()` to let them finish. */
  stop(): void {
    this.cronAbort?.abort();
    this.cronAbort = undefined;
  }

  private start(d: Registered, event: ReceivedEvent<unknown>): void {
    const record: RunRecord = { runId: randomUUID(), functionId: d.def.id, event, status: "running" };
    this.records.push(record);
    if (this.records.length > KEEP_RECORDS) this.records.shift();
    const done = this.runToEnd(d, record)
      .catch((err: unknown) => this.logger.error(`local runner: run ${record.runId} of ${d.def.id} crashed`, err))
      .finally(() => this.active.delete(done));
    this.active.add(done);
  }

  private async runToEnd(d: Registered, record: RunRecord): Promise<void> {
    const { def } = d;
    const state = newState(record.runId, record.event, def.retries);
    const slot = def.concurrency ? { key: `${def.id}\n${d.key(record.event)}`, limit: def.concurrency.limit } : undefined;
    const result = await this.execute(
      state,
      async (ctx) => {
        await validateEvent(def, ctx.event);
        return def.handler(ctx);
      },
      slot,
    );
    if (result.ok) {
      Object.assign(record, { status: "succeeded", output: result.value });
      return;
    }
    this.logger.error(`local runner: ${def.id} run ${record.runId} failed`, result.error);
    if (def.onFailure) {
      const onFailure = def.onFailure.bind(def);
      const failure = await this.execute(newState(record.runId, record.event, 1), (ctx) =>
        onFailure({ ...ctx, error: result.error }),
      );
      if (!failure.ok) this.logger.error(`local runner: onFailure of ${def.id} failed`, failure.error);
    }
    Object.assign(record, { status: "failed", error: result.error });
  }

  /** Invokes the handler until it returns or fails for good. */
  private async execute(
    state: RunState,
    call: (ctx: JobContext<unknown>) => Promise<unknown>,
    slot?: Slot,
  ): Promise<{ ok: true; value: unknown } | { ok: false; error: Error }> {
    for (;;) {
      if (slot) await this.acquire(slot);
      let outcome: Outcome;
      try {
        outcome = await this.invoke(state, call);
      } finally {
        if (slot) this.release(slot);
      }
      if (outcome.kind === "returned") return { ok: true, value: toJson(outcome.value) };
      if (outcome.kind === "sleep") {
        await this.sleep(outcome.ms);
        state.memo.set(outcome.id, { ok: true, value: null });
        state.attempt = 0;
        continue;
      }
      if (outcome.kind === "threw") {
        const error = toError(outcome.error);
        if (state.finalErrors.has(error) || isNonRetriable(error) || state.attempt >= state.retries) {
          return { ok: false, error };
        }
        state.attempt++;
        await this.sleep(this.retryDelay(error, state.attempt));
        continue;
      }
      await this.sleep(this.retryDelay(outcome.error, state.attempt)); // a step to retry
    }
  }

  /**
   * One invocation of the handler, from the top. It ends when the handler
   * settles, or, as on Inngest, when it reaches a sleep not yet slept or a step
   * that failed and will be retried: that invocation is then abandoned (its
   * pending promise never settles) once steps already running have finished.
   */
  private invoke(state: RunState, call: (ctx: JobContext<unknown>) => Promise<unknown>): Promise<Outcome> {
    return new Promise((resolve) => {
      let ended = false;
      const running = new Set<Promise<unknown>>();
      const seen = new Map<string, number>();
      const end = (outcome: Outcome) => {
        if (ended) return;
        ended = true;
        void Promise.allSettled(running).then(() => resolve(outcome));
      };
      // A repeated id gets Inngest's suffix: "poll", "poll:1", "poll:2"...
      const uniqueId = (id: string) => {
        const n = seen.get(id) ?? 0;
        seen.set(id, n + 1);
        return n === 0 ? id : `${id}:${n}`;
      };

      const run = async (rawId: string, fn: () => unknown): Promise<unknown> => {
        if (ended) return never();
        const id = uniqueId(rawId);
        const memo = state.memo.get(id);
        if (memo) return memo.ok ? memo.value : this.throwFinal(state, id, memo.error);
        const body = (async () => fn())().then(
          (value) => ({ ok: true as const, value: toJson(value) }),
          (error: unknown) => ({ ok: false as const, error: toError(error) }),
        );
        running.add(body);
        const result = await body;
        if (result.ok) {
          state.memo.set(id, result); // kept even if the invocation was abandoned meanwhile
          if (ended) return never();
          state.attempt = 0;
          return result.value;
        }
        if (ended) return never();
        if (!isNonRetriable(result.error) && state.attempt < state.retries) {
          state.attempt++;
          end({ kind: "retry", error: result.error });
          return never();
        }
        state.memo.set(id, result);
        state.attempt = 0;
        return this.throwFinal(state, id, result.error);
      };

      // The runner is the implementation of Step's contract (results through JSON, as Jsonify says).
      const step = {
        run,
        sleep: async (rawId: string, duration: string | number) => {
          if (ended) return never();
          const id = uniqueId(rawId);
          if (state.memo.has(id)) return;
          end({ kind: "sleep", id, ms: durationToMs(duration, { name: `step.sleep("${rawId}")` }) });
          return never();
        },
        sendEvent: (rawId: string, events: OutgoingEvent | OutgoingEvent[]) => run(rawId, () => this.send(events)),
      } as Step;

      const ctx = { event: state.event, step, attempt: state.attempt, runId: state.runId, logger: this.logger };
      (async () => call(ctx))().then(
        (value) => end({ kind: "returned", value }),
        (error: unknown) => end({ kind: "threw", error }),
      );
    });
  }

  private throwFinal(state: RunState, id: string, error: Error): never {
    const stepError = new StepError(id, serializeError(error));
    state.finalErrors.add(stepError);
    throw stepError;
  }

  private retryDelay(error: Error, attempt: number): number {
    const retryAfter = (error as { retryAfter?: unknown }).retryAfter;
    if (error.name === "RetryAfterError" && typeof retryAfter === "string") {
      // RetryAfterError keeps either whole seconds or an ISO date.
      const ms = /^\d+$/.test(retryAfter) ? Number(retryAfter) * 1000 : Date.parse(retryAfter) - this.now();
      if (Number.isFinite(ms)) return Math.max(0, ms);
    }
    return this.backoffMs(attempt);
  }

  private async acquire({ key, limit }: Slot): Promise<void> {
    let s = this.slots.get(key);
    if (!s) this.slots.set(key, (s = { active: 0, waiting: [] }));
    if (s.active < limit) {
      s.active++;
      return;
    }
    await new Promise<void>((resolve) => s.waiting.push(resolve));
  }

  private release({ key }: Slot): void {
    const s = this.slots.get(key)!;
    const next = s.waiting.shift();
    if (next) next(); // hand the slot straight to the longest waiter
    else if (--s.active === 0) this.slots.delete(key);
  }
}

function newState(runId: string, event: ReceivedEvent<unknown>, retries: number): RunState {
  return { runId, event, retries, attempt: 0, memo: new Map(), finalErrors: new WeakSet() };
}

/** As Inngest names and words it: a NonRetriableError, so the run fails at once. */
class EventValidationError extends NonRetriableError {
  override name = "EventValidationError";
}

async function validateEvent(def: AnyFunctionDefinition, event: ReceivedEvent<unknown>): Promise<void> {
  if (!("event" in def.trigger) || typeof def.trigger.event === "string") return;
  const { issues } = await def.trigger.event.schema["~standard"].validate(event.data);
  if (!issues) return;
  const where = (path: readonly unknown[] | undefined) =>
    path?.length ? path.map((p) => (typeof p === "object" && p !== null && "key" in p ? p.key : p)).join(".") : "value";
  throw new EventValidationError(issues.map((i) => `${where(i.path)}: ${i.message}`).join(", ") || "Validation failed");
}

/** A concurrency key expression as a function of the event. */
function compileKey(fnId: string, expr: string | undefined): (event: ReceivedEvent<unknown>) => string {
  if (expr === undefined) return () => "";
  const literal = /^"([^"]*)"$|^'([^']*)'$/.exec(expr.trim());
  if (literal) return () => literal[1] ?? literal[2]!;
  const path = /^event\.data((?:\.[A-Za-z_$][\w$]*)+)$/.exec(expr.trim());
  if (!path) {
    throw new Error(`${fnId}: concurrency key "${expr}" is not supported here (use event.data.<path> or a quoted string)`);
  }
  const keys = path[1]!.slice(1).split(".");
  return (event) => {
    let v: unknown = event.data;
    for (const k of keys) v = v !== null && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined;
    return JSON.stringify(v ?? null);
  };
}

/**
 * A matcher for a cron expression as Inngest takes it: 5 fields (minute hour
 * day-of-month month day-of-week; names such as MON and nicknames such as
 * `@hourly` allowed; day-of-month and day-of-week OR-ed, as in every cron), in
 * UTC unless prefixed `TZ=<IANA zone> `. Read by croner. Throws when the
 * runner cannot follow it.
 */
export function parseCron(expr: string): (at: Date) => boolean {
  const tz = /^TZ=(\S+)\s+(.+)$/.exec(expr.trim());
  const [timezone, pattern] = tz ? [tz[1]!, tz[2]!] : ["UTC", expr.trim()];
  let cron: Cron;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: timezone }); // an unknown zone throws here, not at the first tick
    cron = new Cron(pattern, { timezone, mode: "5-part", domAndDow: false });
  } catch (err) {
    throw new Error(`cron "${expr}" is not supported by the local runner: ${(err as Error).message}`);
  }
  return (at) => cron.match(at);
}
