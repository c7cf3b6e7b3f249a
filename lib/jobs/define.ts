import { eventType, type Context, type FailureEventArgs, type Inngest, type InngestFunction, type Logger } from "inngest";
import type { AnyFunctionDefinition, ReceivedEvent, Step } from "./types";

type InngestTrigger = InngestFunction.Trigger<string>;

function toInngestTrigger(trigger: AnyFunctionDefinition["trigger"]): InngestTrigger {
  if ("cron" in trigger) return { cron: trigger.cron };
  const { event } = trigger;
  if (typeof event === "string") return { event };
  // An EventType carries its schema to Inngest, which validates received events
  // against it (a failure is a NonRetriableError), as the local runner does.
  return { event: eventType(event.name, { schema: event.schema as never }) };
}

/**
 * The Inngest side of a `FunctionDefinition`: Inngest v4's
 * `createFunction({ id, triggers, concurrency, retries, onFailure }, handler)`.
 *
 * The handler is handed Inngest's own context, narrowed to our `JobContext`.
 * Errors pass through untouched, so `NonRetriableError` and `RetryAfterError`
 * thrown by a handler or a step keep their meaning.
 */
export function toInngestFunction(client: Inngest.Any, def: AnyFunctionDefinition): InngestFunction.Any {
  const { onFailure } = def;
  return client.createFunction(
    {
      id: def.id,
      triggers: [toInngestTrigger(def.trigger)],
      concurrency: def.concurrency,
      retries: def.retries,
      onFailure: onFailure
        ? (ctx: Context.Any & FailureEventArgs & { logger: Logger }) =>
            onFailure({
              // Inngest runs onFailure as a separate function triggered by
              // "inngest/function.failed"; unwrap it to the failed run's event and id.
              event: ctx.event.data.event as ReceivedEvent<unknown>,
              runId: ctx.event.data.run_id,
              error: ctx.error,
              step: asStep(ctx.step),
              attempt: ctx.attempt,
              logger: ctx.logger,
            })
        : undefined,
    },
    (ctx) =>
      def.handler({
        // Inngest types `event` as the union of every trigger plus the
        // "inngest/function.invoked" event; we never invoke functions directly.
        event: ctx.event as ReceivedEvent<unknown>,
        runId: ctx.runId,
        step: asStep(ctx.step),
        attempt: ctx.attempt,
        logger: ctx.logger,
      }),
  ) as InngestFunction.Any;
}

/**
 * The one cast between the runtimes. Inngest's step tools are a superset of
 * `Step` with the same runtime contract for `run`, `sleep` and `sendEvent`, but
 * their TypeScript signatures differ in shape: `run` takes an options-or-id and
 * extra input arguments, and its result type goes through the client's
 * middleware transforms (which end in the same `Jsonify` we use), which TS
 * cannot relate to our simpler generic signature.
 */
function asStep(step: unknown): Step {
  return step as Step;
}
