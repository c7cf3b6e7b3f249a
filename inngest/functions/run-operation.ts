import type { Deps } from "@/lib/deps";
import { messagesPendingEvent, operationRequested } from "@/lib/jobs/events";
import { defineFunction } from "@/lib/jobs/types";
import type { OperationType } from "@/lib/operations/lifecycle";
import { finishOperation, loadOperation, machineRef, markRunning, type FinishOutcome } from "@/lib/services/operation-progress";
import { previousStatusOf } from "@/lib/services/operations";
import { rolloutEventsAfter } from "@/lib/services/rollouts";
import { STEPS } from "./operations";
import { operationRun, parseOperationError, permanent, type LoadedOperation, type OperationSteps } from "./operations/kit";

/**
 * Carries out one operation on one instance: marks it running, hands it to
 * its type's step function (./operations/, one per row of the lifecycle
 * table), then finishes it, which settles the instance as the table says and
 * writes the webhook outbox in the same transaction, and tells the dispatcher
 * (and the running rollouts that cover the instance).
 * One run at a time per instance.
 */
export function makeRunOperation(deps: Deps) {
  return defineFunction({
    id: "run-operation",
    trigger: { event: operationRequested },
    concurrency: { key: "event.data.instance_id", limit: 1 },
    retries: 4,
    async handler({ event, step }) {
      const opId = event.data.operation_id;
      const proceed = await step.run("mark-running", async () => markRunning(await deps.db(), opId));
      if (!proceed) return { skipped: "already finished" };

      const read = await step.run("load", async () => {
        const l = await loadOperation(await deps.db(), opId);
        if (!l) throw permanent("operation_missing", `Operation ${opId} no longer exists.`);
        return {
          type: l.op.type,
          instanceId: l.inst.id,
          subdomain: l.inst.subdomain,
          region: l.inst.flyRegion,
          ref: machineRef(l.inst),
          previousStatus: previousStatusOf(l.op),
        };
      });
      const loaded: LoadedOperation = { ...read, id: opId };
      const steps: OperationSteps | undefined = STEPS[loaded.type as OperationType];
      if (!steps) throw permanent("unsupported_operation", `Operations of type ${loaded.type} are not supported.`);
      const run = operationRun(deps, step, loaded);
      const outcome: FinishOutcome = { ...((await steps(run)) ?? { ok: true }), evidence: run.evidence() };

      const done = await step.run("finish", async () => {
        const op = await finishOperation(await deps.db(), opId, outcome);
        return op?.status ?? "already finished";
      });
      // The webhook dispatcher, and any running rollout that covers the instance (one of its upgrades ended, or a busy instance is free).
      await step.run("announce", async () =>
        deps.send([messagesPendingEvent(opId), ...(await rolloutEventsAfter(await deps.db(), loaded.instanceId, opId))]),
      );
      return { status: done };
    },

    async onFailure({ event, error }) {
      const { code, message } = parseOperationError(error);
      await finishOperation(await deps.db(), event.data.operation_id, { ok: false, code, message });
      const db = await deps.db();
      const rollouts = await rolloutEventsAfter(db, event.data.instance_id, event.data.operation_id).catch(() => []);
      await deps.send([messagesPendingEvent(event.data.operation_id), ...rollouts]).catch(() => undefined);
    },
  });
}
