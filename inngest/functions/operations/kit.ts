import { NonRetriableError, RetryAfterError } from "inngest";
import type { Db } from "@/db/client";
import { ComputeError, type ComputeProvider, type MachineRef } from "@/lib/compute/types";
import type { Deps } from "@/lib/deps";
import type { Step } from "@/lib/jobs/types";
import type { StoredDocuments } from "@/lib/openclaw/documents";
import type { OperationEvidence } from "@/lib/operations/health";
import { UNFINISHED, type InstanceStatus } from "@/lib/operations/lifecycle";
import { operationDocuments, renderInstanceConfig } from "@/lib/services/instance-config";
import { gatewayToken, loadOperation, type FinishOutcome } from "@/lib/services/operation-progress";

/**
 * What a step function is handed, and the steps it is made of. A step
 * function (one per operation type, in this folder) carries out its type's
 * work with these helpers and answers how it ended; run-operation records the
 * operation as running before and finishes it (settling the instance as the
 * lifecycle table says) after.
 */

/** How long one wait step may block: under a serverless function's time limit. */
const WAIT_STEP_MS = 50_000;
/** Health checks before an instance counts as unhealthy, 3 s apart. */
const HEALTH_CHECKS = 10;

/** The operation being carried out, as the run's `load` step read it (a JSON step result). */
export interface LoadedOperation {
  id: string;
  type: string;
  instanceId: string;
  subdomain: string;
  region: string;
  /** The instance's machine; null until its create provisioned one. */
  ref: MachineRef | null;
  /** The status the instance had when the operation began, for types that record it. */
  previousStatus: InstanceStatus | null;
}

/**
 * One operation type's work. Answers how it ended when the steps handled a
 * failure themselves (`{ ok: false, rolledBack: true, ... }`); answering
 * nothing means success. Anything thrown fails the run (NonRetriableError at
 * once, anything else after its retries), and the instance is marked failed.
 */
export type OperationSteps = (run: OperationRun) => Promise<FinishOutcome | void>;

/**
 * A failure that retrying will not mend, carrying a stable code for the
 * operation's `error`. The code travels in the message because a run's final
 * error reaches `onFailure` as name and message only.
 */
export function permanent(code: string, message: string): NonRetriableError {
  return new NonRetriableError(`[${code}] ${message}`);
}

/** The `{code, message}` an error carries (see `permanent`); `operation_failed` when it names none. */
export function parseOperationError(err: Error): { code: string; message: string } {
  const m = /^\[([a-z0-9_]+)\] ([\s\S]*)$/.exec(err.message);
  if (m) return { code: m[1]!, message: m[2]! };
  return { code: "operation_failed", message: err.message || "The operation failed." };
}

/** A message ending in a full stop, so another sentence can follow it. */
export const sentence = (message: string) => (/[.!?]$/.test(message) ? message : `${message}.`);

/**
 * A call to the compute provider, its failure translated for the runtime: a
 * permanent ComputeError stops the run, a retryable one is retried (after the
 * provider's Retry-After when it gave one).
 */
export async function callCompute<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ComputeError) {
      if (!err.retryable) throw permanent(err.code, err.message);
      const message = `[${err.code}] ${err.message}`;
      // The provider's own hint (a 429's Retry-After): retrying sooner only fails again.
      throw err.retryAfterMs !== undefined ? new RetryAfterError(message, err.retryAfterMs) : new Error(message);
    }
    throw err;
  }
}

/** The run's view of one operation, and its building blocks. Step ids are stable: Inngest keys a run's memory by them. */
export interface OperationRun {
  readonly op: LoadedOperation;
  readonly step: Step;
  readonly deps: Deps;
  readonly compute: ComputeProvider;
  /** The instance's machine; fails the run for good when its create never made one. */
  machine(): MachineRef;
  /** Throws unless the operation is still unfinished: call it before a step changes the machine (the reconciler may have timed it out meanwhile). */
  stillOpen(db: Db): Promise<void>;
  /** The config documents the operation carries (the applied ones when it carries none). */
  documents(db: Db): Promise<StoredDocuments>;
  /** A step `id` that changes the machine with one provider call, if the operation is still open. */
  change(id: string, fn: (compute: ComputeProvider) => Promise<unknown>): Promise<void>;
  /** Waits (in one step) until the machine is in `state`. `suffix` tells apart the step ids of a second pass (a roll-back). */
  waitFor(ref: MachineRef, state: "started" | "stopped", suffix?: string): Promise<void>;
  /** Checks health until the assistant answers healthy, 3 s apart; fails the run for good after HEALTH_CHECKS tries. */
  healthy(ref: MachineRef, suffix?: string): Promise<void>;
  /** Renders config documents and writes them to the machine, in one step: the opened secrets are never a step result. */
  applyDocuments(id: string, ref: MachineRef, documents: (db: Db) => Promise<StoredDocuments>): Promise<void>;
  /**
   * What the steps last saw of the machine: a wait that ended "stopped", or a
   * health check's answer (a wait for "started" alone proves nothing about
   * health, so it clears what came before). Replayed steps give the same, so
   * every invocation of the run agrees. The finish sets the instance's health from it.
   */
  evidence(): OperationEvidence | null;
  /**
   * A change that restarts the machine (new config documents, a new image), verified: after
   * `apply` the machine must start and its assistant answer healthy, and an instance that was
   * stopped is stopped again. If it does not get there, `restore` puts the previous state back,
   * verified the same way, and the answer is a rolled-back failure (`rolledBack` words it from
   * the reason; `restored` is false when the provider refused the change for good before the
   * machine changed, so there was nothing to put back). If restoring fails too, the run fails
   * for good (`restoreFailed`), and the instance is marked failed.
   */
  verifiedChange(ref: MachineRef, change: VerifiedChange): Promise<FinishOutcome>;
}

/** What `verifiedChange` is told: each of `apply` and `restore` is one step that changes the machine. */
export interface VerifiedChange {
  apply(): Promise<void>;
  restore(): Promise<void>;
  rolledBack(reason: { code: string; message: string }, restored: boolean): FinishOutcome;
  restoreFailed(reason: { code: string; message: string }, restoring: { code: string; message: string }): Error;
}

export function operationRun(deps: Deps, step: Step, op: LoadedOperation): OperationRun {
  const compute = deps.compute();
  let evidence: OperationEvidence | null = null;
  const run: OperationRun = {
    op,
    step,
    deps,
    compute,
    machine() {
      if (!op.ref) throw permanent("instance_not_provisioned", "The instance has no machine yet (its creation did not finish). Delete it and create it again.");
      return op.ref;
    },
    async stillOpen(db) {
      const l = await loadOperation(db, op.id);
      if (!l || !UNFINISHED.includes(l.op.status)) {
        throw permanent("operation_finished", `Operation ${op.id} was finished elsewhere (it timed out); nothing more is done.`);
      }
    },
    async documents(db) {
      const l = await loadOperation(db, op.id);
      if (!l) throw permanent("operation_missing", `Operation ${op.id} no longer exists.`);
      return operationDocuments(db, l.op);
    },
    async change(id, fn) {
      await step.run(id, async () => {
        await run.stillOpen(await deps.db());
        await callCompute(() => fn(compute));
      });
    },
    async waitFor(ref, state, suffix = "") {
      await step.run(`wait-${state}${suffix}`, () => callCompute(() => compute.waitForState(ref, state, WAIT_STEP_MS)));
      evidence = state === "stopped" ? { machine: "stopped" } : null;
    },
    async healthy(ref, suffix = "") {
      for (let i = 0; i < HEALTH_CHECKS; i++) {
        const h = await step.run(`check-health${suffix}-${i}`, () => callCompute(() => compute.checkHealth(ref)));
        evidence = { machine: "started", healthy: h.healthy, detail: h.detail };
        if (h.healthy) return;
        if (i < HEALTH_CHECKS - 1) await step.sleep(`wait-health${suffix}-${i}`, "3s");
        else throw permanent("instance_unhealthy", `The assistant did not become healthy: ${h.detail}`);
      }
    },
    async applyDocuments(id, ref, documents) {
      await step.run(id, async () => {
        const db = await deps.db();
        const token = await gatewayToken(db, op.instanceId);
        if (!token) throw permanent("instance_not_provisioned", "The instance has no gateway token yet (its creation did not finish).");
        const rendered = renderInstanceConfig(await documents(db), { subdomain: op.subdomain, gatewayToken: token });
        await callCompute(() => compute.applyConfig(ref, rendered));
      });
    },
    async verifiedChange(ref, change) {
      const stopAfter = op.previousStatus === "stopped";
      // Step ids: the change's own, then these, suffixed "-after-roll-back" on the way back.
      const verify = async (suffix = "") => {
        await run.waitFor(ref, "started", suffix);
        await run.healthy(ref, suffix);
        if (stopAfter) {
          await step.run(`stop${suffix}`, () => callCompute(() => compute.stop(ref)));
          await run.waitFor(ref, "stopped", suffix);
        }
      };
      let applied = false;
      try {
        await change.apply();
        applied = true;
        await verify();
        return { ok: true };
      } catch (err) {
        const reason = parseOperationError(err as Error);
        // Refused for good by the provider before the machine changed: nothing to undo.
        const untouched = !applied && (err as Error).name === "NonRetriableError";
        try {
          if (!untouched) {
            await change.restore();
            await verify("-after-roll-back");
          }
        } catch (restoreErr) {
          throw change.restoreFailed(reason, parseOperationError(restoreErr as Error));
        }
        return change.rolledBack(reason, !untouched);
      }
    },
    evidence: () => evidence,
  };
  return run;
}
