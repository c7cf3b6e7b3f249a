import type { Queryable } from "@/db/client";
import type { Health, HealthStatus } from "../operations/health";
import type { InstanceStatus } from "../operations/lifecycle";
import { recordWebhookEvent } from "./outbox";

/**
 * The two instance events, written to the outbox in the transaction that
 * makes the change (an operation beginning or finishing, an observation),
 * so a subscriber never misses one and never hears of one that did not happen.
 */

export type ChangeCause = { cause: "operation"; operationId: string } | { cause: "observed" };

interface InstanceRef {
  id: string;
  accountId: string;
  subdomain: string;
}

/** instance.status_changed, when `from` and `to` differ. */
export async function recordStatusChange(
  tx: Queryable,
  inst: InstanceRef,
  from: InstanceStatus,
  to: InstanceStatus,
  why: ChangeCause,
  at: Date,
): Promise<void> {
  if (from === to) return;
  await recordWebhookEvent(
    tx,
    inst.accountId,
    "instance.status_changed",
    { instance_id: inst.id, subdomain: inst.subdomain, from, to, cause: why.cause, operation_id: why.cause === "operation" ? why.operationId : null },
    at,
  );
}

/** instance.health_changed, when the health's status differs from `from` (a new detail alone is no event). */
export async function recordHealthChange(tx: Queryable, inst: InstanceRef, from: HealthStatus, to: Health, why: ChangeCause, at: Date): Promise<void> {
  if (from === to.status) return;
  await recordWebhookEvent(
    tx,
    inst.accountId,
    "instance.health_changed",
    {
      instance_id: inst.id,
      subdomain: inst.subdomain,
      from,
      to: to.status,
      detail: to.detail,
      checked_at: to.checkedAt.toISOString(),
      cause: why.cause,
      operation_id: why.cause === "operation" ? why.operationId : null,
    },
    at,
  );
}
