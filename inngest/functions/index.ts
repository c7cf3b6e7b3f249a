import type { AnyFunctionDefinition } from "@/lib/jobs/types";
import type { Deps } from "@/lib/deps";
import { makeDeliverWebhook } from "./deliver-webhook";
import { makeDispatchWebhooks } from "./dispatch-webhooks";
import { makeObserveBatch } from "./observe-batch";
import { makeObserveInstances } from "./observe-instances";
import { makeReconcile } from "./reconcile";
import { makeRunOperation } from "./run-operation";
import { makeRunRollout } from "./run-rollout";
import { makeScheduleBackupSync, makeSyncInstanceBackups } from "./sync-backups";

/** Every durable function, built with its dependencies (inngest/runtime.ts hands them in). */
export function allFunctions(deps: Deps): AnyFunctionDefinition[] {
  return [
    makeRunOperation(deps),
    makeReconcile(deps),
    makeDispatchWebhooks(deps),
    makeDeliverWebhook(deps),
    makeRunRollout(deps),
    makeObserveInstances(deps),
    makeObserveBatch(deps),
    makeScheduleBackupSync(deps),
    makeSyncInstanceBackups(deps),
  ];
}
