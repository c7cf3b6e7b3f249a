import type { AnyFunctionDefinition } from "@/lib/jobs/types";
import { defaultDeps, type JobDeps } from "../deps";
import { makeDeliverWebhook } from "./deliver-webhook";
import { makeDispatchWebhooks } from "./dispatch-webhooks";
import { makeReconcile } from "./reconcile";
import { makeRunOperation } from "./run-operation";

/** Every durable function, built with its dependencies. */
export function allFunctions(deps: JobDeps = defaultDeps): AnyFunctionDefinition[] {
  return [makeRunOperation(deps), makeReconcile(deps), makeDispatchWebhooks(deps), makeDeliverWebhook(deps)];
}
