import { eventType, type EventType, type StandardSchemaV1 } from "inngest";
import type { Jsonify } from "inngest/types";

/**
 * A durable function, described once and run by either runtime:
 * `toInngestFunction` (lib/jobs/define.ts) registers it with Inngest, and
 * `LocalRunner` (lib/jobs/local-runner.ts) runs the same handler in-process in
 * embedded mode. Handlers see only the types below, so they cannot reach for an
 * Inngest-only feature the local runner would not honour.
 *
 * Semantics follow Inngest's (both runtimes behave the same way):
 * - The handler is re-invoked from the top on every retry and after every sleep;
 *   a step that already succeeded returns its remembered result instead of
 *   running again. Keep side effects inside steps.
 * - Step results and the function's result are stored as JSON: a `Date` comes
 *   back as a string, `undefined` as `null` (hence `Jsonify` in the types). On
 *   Inngest, code later in the same request may still see the raw value, but a
 *   replay sees the JSON; the local runner always hands out the JSON form.
 * - Each step has its own retry budget of `retries` attempts after the first.
 *   When it is spent (or the step throws `NonRetriableError` from "inngest"),
 *   the step throws an `Error` carrying the original `name` and `message` into
 *   the handler; if the handler lets it escape, the run fails at once.
 * - An error thrown outside any step is retried the same way.
 * - `onFailure` runs once, after the run has failed for good.
 * - `concurrency` limits code executing at once (per evaluated key), not runs in
 *   progress: a run that is sleeping or waiting to retry holds no slot.
 */

/** Inngest accepts 0 to 20 retries. */
export type RetryCount = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10 | 11 | 12 | 13 | 14 | 15 | 16 | 17 | 18 | 19 | 20;

/** The name Inngest gives to the event of a cron-triggered run. */
export const CRON_EVENT_NAME = "inngest/scheduled.timer";

/** An event as sent: `id` doubles as an idempotency key (a repeated id is ignored for 24 hours). */
export interface OutgoingEvent<TData = Record<string, unknown>> {
  name: string;
  data: TData;
  id?: string;
  ts?: number;
}

/** An event as a run receives it: both runtimes always fill in `id` and `ts`. */
export interface ReceivedEvent<TData> {
  name: string;
  data: TData;
  id: string;
  ts: number;
}

/** A typed event: its name and the schema its data must satisfy. See `defineEvent`. */
export interface EventDef<TName extends string = string, TData = Record<string, unknown>> {
  readonly name: TName;
  readonly schema: StandardSchemaV1<TData, TData>;
}

export type Trigger<TData> =
  | { event: string | EventDef<string, TData> }
  /** A 5-field cron expression, in UTC unless prefixed `TZ=<zone> `. The run's event is `{ name: CRON_EVENT_NAME, data: { cron } }`. */
  | { cron: string };

export interface JobLogger {
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
  debug(...args: unknown[]): void;
}

/** What a step's result looks like once stored (JSON) and read back; `void` becomes `null`. */
export type StepResult<T> = Jsonify<[T] extends [void] ? null : T>;

export interface Step {
  /** Runs `fn` once per run (retrying it on failure) and remembers its result under `id`. */
  run<T>(id: string, fn: () => T | Promise<T>): Promise<StepResult<Awaited<T>>>;
  /** Waits without holding a concurrency slot: `"30s"`, `"5m"`, `"1h30m"`, or milliseconds. */
  sleep(id: string, duration: string | number): Promise<void>;
  /** Sends events exactly once per run (use this, not the client, inside a function). */
  sendEvent(id: string, events: OutgoingEvent | OutgoingEvent[]): Promise<{ ids: string[] }>;
}

export interface JobContext<TData> {
  event: ReceivedEvent<TData>;
  step: Step;
  /** Zero-based attempt of the work now being tried (each step counts its own attempts). */
  attempt: number;
  runId: string;
  logger: JobLogger;
}

/** `event` is the failed run's triggering event and `runId` the failed run's id. */
export interface FailureContext<TData> extends JobContext<TData> {
  /** The error the run failed with (name and message as thrown). */
  error: Error;
}

export interface FunctionDefinition<TData = Record<string, unknown>> {
  /** Kebab-case and stable: Inngest keys run history and memoised state by it. */
  id: string;
  trigger: Trigger<TData>;
  /** `key` is an Inngest expression such as `"event.data.instance_id"`; without it the limit is per function. */
  concurrency?: { key?: string; limit: number };
  /** Attempts after the first, per step (Inngest's meaning). */
  retries: RetryCount;
  handler(ctx: JobContext<TData>): Promise<unknown>;
  onFailure?(ctx: FailureContext<TData>): Promise<unknown>;
}

/** Any definition, for lists of heterogeneous functions. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- handlers are contravariant in TData
export type AnyFunctionDefinition = FunctionDefinition<any>;

const KEBAB = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/**
 * Declares a function; infers `TData` from the trigger's `EventDef` and checks
 * what the type system cannot (kebab-case id, a whole number of retries, a
 * positive concurrency limit) when the module loads, not when the first run fails.
 */
export function defineFunction<TData = Record<string, unknown>>(def: FunctionDefinition<TData>): FunctionDefinition<TData> {
  if (!KEBAB.test(def.id)) throw new Error(`function id "${def.id}" must be kebab-case`);
  if (!Number.isInteger(def.retries) || def.retries < 0 || def.retries > 20) {
    throw new Error(`function "${def.id}": retries must be an integer from 0 to 20`);
  }
  if (def.concurrency && (!Number.isInteger(def.concurrency.limit) || def.concurrency.limit < 1)) {
    throw new Error(`function "${def.id}": concurrency.limit must be a positive integer`);
  }
  return def;
}

/** The name of the event a trigger listens for (cron triggers have none). */
export function triggerEventName(trigger: Trigger<unknown>): string | undefined {
  if (!("event" in trigger)) return undefined;
  return typeof trigger.event === "string" ? trigger.event : trigger.event.name;
}

/**
 * Inngest refuses schemas whose input and output types differ (zod `.default()`,
 * `.transform()`, coercion): the event is validated where it is received, and the
 * handler sees the data as sent, not as parsed. Checked here at compile time.
 */
type NoTransform<TSchema> =
  TSchema extends StandardSchemaV1<infer TIn, infer TOut>
    ? [TIn] extends [TOut]
      ? [TOut] extends [TIn]
        ? TSchema
        : "event schemas may not use .default(), transforms or coercion"
      : "event schemas may not use .default(), transforms or coercion"
    : never;

/**
 * A typed event. The result is Inngest v4's own `eventType(name, { schema })`,
 * so it also works directly as an Inngest trigger, with `inngest.send(e.create(data))`
 * and `step.waitForEvent`; and it satisfies `EventDef` for `FunctionDefinition`.
 *
 * ```ts
 * export const instanceStartRequested = defineEvent(
 *   "instance/start.requested",
 *   z.object({ instance_id: z.string(), operation_id: z.string() }),
 * );
 * await runner.send(instanceStartRequested.create({ instance_id, operation_id }));
 * ```
 */
export function defineEvent<TName extends string, TSchema extends StandardSchemaV1<Record<string, unknown>>>(
  name: TName,
  schema: NoTransform<TSchema>,
): EventType<TName, TSchema> {
  // The cast only restates what NoTransform has already proved.
  return eventType<TName, TSchema>(name, { schema: schema as never });
}

/** The data type of an event defined with `defineEvent`. */
export type EventData<TEvent> = TEvent extends EventType<string, infer TSchema>
  ? TSchema extends StandardSchemaV1<infer TData>
    ? TData
    : never
  : never;
