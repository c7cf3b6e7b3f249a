import type { Queryable } from "@/db/client";
import type { Health, HealthStatus } from "../operations/health";
import type { InstanceStatus } from "../operations/lifecycle";
import { recordWebhookEvents, type OutboxEvent } from "./outbox";

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

/** instance.status_changed, or nothing when `from` and `to` are the same. */
export function statusChangeEvent(inst: InstanceRef, from: InstanceStatus, to: InstanceStatus, why: ChangeCause, at: Date): OutboxEvent[] {
  if (from === to) return [];
  const operation_id = why.cause === "operation" ? why.operationId : null;
  return [
    {
      accountId: inst.accountId,
      type: "instance.status_changed",
      data: { instance_id: inst.id, subdomain: inst.subdomain, from, to, cause: why.cause, operation_id },
      at,
    },
  ];
}

/** instance.health_changed, or nothing when the health's status is still `from` (a new detail alone is no event). */
export function healthChangeEvent(inst: InstanceRef, from: HealthStatus, to: Health, why: ChangeCause, at: Date): OutboxEvent[] {
  if (from === to.status) return [];
  const operation_id = why.cause === "operation" ? why.operationId : null;
  return [
    {
      accountId: inst.accountId,
      type: "instance.health_changed",
      data: {
        instance_id: inst.id,
        subdomain: inst.subdomain,
        from,
        to: to.status,
        detail: to.detail,
        checked_at: to.checkedAt.toISOString(),
        cause: why.cause,
        operation_id,
      },
      at,
    },
  ];
}

/** Records instance.status_changed when the status changed. */
export async function recordStatusChange(tx: Queryable, inst: InstanceRef, from: InstanceStatus, to: InstanceStatus, why: ChangeCause, at: Date): Promise<void> {
  await recordWebhookEvents(tx, statusChangeEvent(inst, from, to, why, at));
}
