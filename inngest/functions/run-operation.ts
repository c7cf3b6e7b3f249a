import { randomBytes } from "node:crypto";
import { NonRetriableError, RetryAfterError } from "inngest";
import { eq } from "drizzle-orm";
import type { Db } from "@/db/client";
import { instance } from "@/db/schema";
import { instanceAppName } from "@/lib/compute/naming";
import { ComputeError, type MachineRef } from "@/lib/compute/types";
import { open, seal } from "@/lib/crypto";
import { defineFunction } from "@/lib/jobs/types";
import type { StoredDocuments } from "@/lib/openclaw/documents";
import { UNFINISHED } from "@/lib/operations/lifecycle";
import { appliedConfig, operationDocuments, renderInstanceConfig } from "@/lib/services/instance-config";
import {
  finishOperation,
  loadOperation,
  machineRef,
  markRunning,
  recordMachine,
  type FinishOutcome,
} from "@/lib/services/operation-progress";
import { previousStatusOf } from "@/lib/services/operations";
import type { Deps } from "@/lib/deps";
import { messagesPendingEvent, operationRequested } from "@/lib/jobs/events";

/** How long one wait step may block: under a serverless function's time limit. */
const WAIT_STEP_MS = 50_000;
const HEALTH_CHECKS = 10;

/**
 * A failure that retrying will not mend, carrying a stable code for the
 * operation's `error`. The code travels in the message because a run's final
 * error reaches `onFailure` as name and message only.
 */
function permanent(code: string, message: string): NonRetriableError {
  return new NonRetriableError(`[${code}] ${message}`);
}

export function parseOperationError(err: Error): { code: string; message: string } {
  const m = /^\[([a-z0-9_]+)\] ([\s\S]*)$/.exec(err.message);
  if (m) return { code: m[1]!, message: m[2]! };
  return { code: "operation_failed", message: err.message || "The operation failed." };
}

/** A message ending in a full stop, so another sentence can follow it. */
const sentence = (message: string) => (/[.!?]$/.test(message) ? message : `${message}.`);

/** The instance's OPENCLAW_GATEWAY_TOKEN, opened. Made at provisioning: an instance without one has no machine to configure. */
async function gatewayToken(db: Db, instanceId: string): Promise<string> {
  const [row] = await db.select({ enc: instance.gatewayTokenEnc }).from(instance).where(eq(instance.id, instanceId));
  if (!row?.enc) throw permanent("instance_not_provisioned", "The instance has no gateway token yet (its creation did not finish).");
  return open(row.enc);
}

/** Provider calls: a permanent ComputeError stops the run, a retryable one is retried by the runtime. */
async function provider<T>(fn: () => Promise<T>): Promise<T> {
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

/**
 * Carries out one operation on one instance: the steps of its type, then the
 * finish that settles the instance. One run at a time per instance.
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

      const loaded = await step.run("load", async () => {
        const l = await loadOperation(await deps.db(), opId);
        if (!l) throw permanent("operation_missing", `Operation ${opId} no longer exists.`);
        return {
          type: l.op.type,
          ref: machineRef(l.inst),
          instanceId: l.inst.id,
          subdomain: l.inst.subdomain,
          region: l.inst.flyRegion,
          previousStatus: previousStatusOf(l.op),
        };
      });
      const compute = deps.compute();
      /** Before a step changes the machine: the operation must still be unfinished (the reconciler may have timed it out meanwhile). */
      const stillOpen = async (db: Db) => {
        const l = await loadOperation(db, opId);
        if (!l || !UNFINISHED.includes(l.op.status)) {
          throw permanent("operation_finished", `Operation ${opId} was finished elsewhere (it timed out); nothing more is done.`);
        }
      };

      const ensureRef = (ref: MachineRef | null): MachineRef => {
        if (!ref) throw permanent("instance_not_provisioned", "The instance has no machine yet (its creation did not finish). Delete it and create it again.");
        return ref;
      };
      // `suffix` tells apart the step ids of a second pass (a configure's roll-back).
      const waitFor = (ref: MachineRef, state: "started" | "stopped", suffix = "") =>
        step.run(`wait-${state}${suffix}`, () => provider(() => compute.waitForState(ref, state, WAIT_STEP_MS)));
      const healthy = async (ref: MachineRef, suffix = "") => {
        for (let i = 0; i < HEALTH_CHECKS; i++) {
          const h = await step.run(`check-health${suffix}-${i}`, () => provider(() => compute.checkHealth(ref)));
          if (h.healthy) return;
          if (i < HEALTH_CHECKS - 1) await step.sleep(`wait-health${suffix}-${i}`, "3s");
          else throw permanent("instance_unhealthy", `The assistant did not become healthy: ${h.detail}`);
        }
      };
      /** Renders config documents and writes them to the machine, all inside one step: the opened secrets are never a step result. */
      const applyDocuments = (id: string, ref: MachineRef, documents: (db: Db) => Promise<StoredDocuments>) =>
        step.run(id, async () => {
          const db = await deps.db();
          const rendered = renderInstanceConfig(await documents(db), { subdomain: loaded.subdomain, gatewayToken: await gatewayToken(db, loaded.instanceId) });
          await provider(() => compute.applyConfig(ref, rendered));
        });
      let outcome: FinishOutcome = { ok: true };

      switch (loaded.type) {
        case "instance.create": {
          const ref = await step.run("provision", async () => {
            const db = await deps.db();
            await stillOpen(db);
            // The gateway token is made once and kept sealed, so a retried step provisions with the same one.
            const [row] = await db.select({ enc: instance.gatewayTokenEnc }).from(instance).where(eq(instance.id, loaded.instanceId));
            let token = row?.enc ? open(row.enc) : null;
            if (!token) {
              token = randomBytes(32).toString("base64url");
              await db.update(instance).set({ gatewayTokenEnc: seal(token) }).where(eq(instance.id, loaded.instanceId));
            }
            // The documents given with the create (or the defaults), rendered here so their secrets never leave the step.
            const l = await loadOperation(db, opId);
            if (!l) throw permanent("operation_missing", `Operation ${opId} no longer exists.`);
            const config = renderInstanceConfig(await operationDocuments(db, l.op), { subdomain: loaded.subdomain, gatewayToken: token });
            const r = await provider(() =>
              compute.provision({ instanceId: loaded.instanceId, subdomain: loaded.subdomain, region: loaded.region, gatewayToken: token!, config }),
            );
            await recordMachine(db, loaded.instanceId, r);
            return r;
          });
          await waitFor(ref, "started");
          await healthy(ref);
          break;
        }
        case "instance.start": {
          const ref = ensureRef(loaded.ref);
          await step.run("start", async () => { await stillOpen(await deps.db()); await provider(() => compute.start(ref)); });
          await waitFor(ref, "started");
          await healthy(ref);
          break;
        }
        case "instance.stop": {
          const ref = ensureRef(loaded.ref);
          await step.run("stop", async () => { await stillOpen(await deps.db()); await provider(() => compute.stop(ref)); });
          await waitFor(ref, "stopped");
          break;
        }
        case "instance.restart": {
          const ref = ensureRef(loaded.ref);
          await step.run("restart", async () => { await stillOpen(await deps.db()); await provider(() => compute.restart(ref)); });
          await waitFor(ref, "started");
          await healthy(ref);
          break;
        }
        case "instance.configure": {
          const ref = ensureRef(loaded.ref);
          // Applying restarts the machine, and starts a stopped one: a stopped instance is stopped again once the config checks out.
          const settleAs = loaded.previousStatus === "stopped" ? "stopped" : "running";
          let applied = false;
          try {
            await applyDocuments("apply-config", ref, async (db) => {
              const l = await loadOperation(db, opId);
              if (!l) throw permanent("operation_missing", `Operation ${opId} no longer exists.`);
              return operationDocuments(db, l.op);
            });
            applied = true;
            await waitFor(ref, "started");
            await healthy(ref);
            if (settleAs === "stopped") {
              await step.run("stop", () => provider(() => compute.stop(ref)));
              await waitFor(ref, "stopped");
            }
            outcome = { ok: true };
          } catch (err) {
            const reason = parseOperationError(err as Error);
            // Refused for good by the provider before the machine changed: nothing to undo.
            const untouched = !applied && (err as Error).name === "NonRetriableError";
            try {
              if (!untouched) {
                // Put the previous configuration back, so the instance runs what its GET shows.
                await applyDocuments("roll-back-config", ref, async (db) => (await appliedConfig(db, loaded.instanceId)).documents);
                await waitFor(ref, "started", "-after-roll-back");
                await healthy(ref, "-after-roll-back");
                if (settleAs === "stopped") {
                  await step.run("stop-after-roll-back", () => provider(() => compute.stop(ref)));
                  await waitFor(ref, "stopped", "-after-roll-back");
                }
              }
            } catch (rollbackErr) {
              const r = parseOperationError(rollbackErr as Error);
              throw permanent(reason.code, `${sentence(reason.message)} Restoring the previous configuration failed too: ${r.message}`);
            }
            outcome = {
              ok: false,
              code: reason.code,
              message: `${sentence(reason.message)} The new configuration was not applied; the previous one is still in place.`,
              rolledBack: true,
            };
          }
          break;
        }
        case "instance.delete": {
          // A create that failed half-way may have left an app, IPs and a volume without a recorded machine:
          // destroy removes everything in the instance's app, named after the instance.
          const ref = loaded.ref ?? { appName: instanceAppName(loaded.instanceId), machineId: "", volumeId: null, region: loaded.region };
          await step.run("destroy", () => provider(() => compute.destroy(ref)));
          break;
        }
        default:
          throw permanent("unsupported_operation", `Operations of type ${loaded.type} are not supported.`);
      }

      const done = await step.run("finish", async () => {
        const op = await finishOperation(await deps.db(), opId, outcome);
        return op?.status ?? "already finished";
      });
      await step.run("announce", () => deps.send([messagesPendingEvent(opId)]));
      return { status: done };
    },

    async onFailure({ event, error }) {
      const { code, message } = parseOperationError(error);
      await finishOperation(await deps.db(), event.data.operation_id, { ok: false, code, message });
      await deps.send([messagesPendingEvent(event.data.operation_id)]).catch(() => undefined);
    },
  });
}
