import type { MachineObservation, MachineState } from "../compute/types";

/**
 * An instance's health: what its machine's own health check (OpenClaw's
 * `/healthz`, run by Fly as the service check; simulated by the local
 * provider) last said, read from what the platform saw of the machine. The
 * one definition: the instance resource's enum (lib/schemas/instances.ts),
 * the observation of instances, the operations' finish and the metrics all
 * read this module.
 *
 * - `passing`: the machine is started and its checks pass.
 * - `critical`: a check fails, or the machine is not running at all (stopped,
 *   failed, gone), so nothing answers; `detail` says which.
 * - `unknown`: nothing to go by yet: never observed, the machine is between
 *   states (starting, replacing, ...), or its checks have not run.
 */
export const HEALTH_STATUSES = ["passing", "critical", "unknown"] as const;
export type HealthStatus = (typeof HEALTH_STATUSES)[number];

export interface Health {
  status: HealthStatus;
  detail: string;
  /** When this was established: the check's own report time when the provider gives one, else when it was seen. */
  checkedAt: Date;
}

/** Machine states in which nothing can answer a health check. */
const DOWN: readonly MachineState[] = ["stopped", "suspended", "failed", "destroyed", "destroying"];

/**
 * The health one observation of a machine shows (`seenAt`: when the provider
 * answered). A started machine is judged by its checks: any `critical` makes
 * it critical, all `passing` makes it passing, otherwise (no checks yet, or
 * `warning`, which Fly shows before a check's first run) it is unknown.
 */
export function healthOf(observation: MachineObservation, seenAt: Date): Health {
  const { state, checks } = observation;
  if (state === null) return { status: "critical", detail: "The machine no longer exists.", checkedAt: seenAt };
  if (DOWN.includes(state)) return { status: "critical", detail: `The machine is ${state}: nothing answers the health check.`, checkedAt: seenAt };
  if (state !== "started") return { status: "unknown", detail: `The machine is ${state}.`, checkedAt: seenAt };
  if (checks.length === 0) return { status: "unknown", detail: "The machine reports no health check result yet.", checkedAt: seenAt };
  const failing = checks.filter((c) => c.status === "critical");
  const waiting = checks.filter((c) => c.status === "warning");
  const reported = (list: typeof checks) => latest(list.map((c) => c.updatedAt)) ?? seenAt;
  if (failing.length > 0) {
    return { status: "critical", detail: failing.map((c) => describe(c.name, c.output)).join("; "), checkedAt: reported(failing) };
  }
  if (waiting.length > 0) {
    return { status: "unknown", detail: waiting.map((c) => describe(c.name, c.output || "not run yet")).join("; "), checkedAt: reported(waiting) };
  }
  return { status: "passing", detail: checks.map((c) => describe(c.name, c.output)).join("; "), checkedAt: reported(checks) };
}

/** The health an operation's own evidence shows: its last wait, or its last health check (see inngest/functions/operations/kit.ts). */
export type OperationEvidence =
  | { machine: "stopped" }
  | { machine: "started"; healthy: boolean; detail: string };

export function healthFromEvidence(e: OperationEvidence, at: Date): Health {
  if (e.machine === "stopped") return { status: "critical", detail: "The machine is stopped: nothing answers the health check.", checkedAt: at };
  return { status: e.healthy ? "passing" : "critical", detail: e.detail, checkedAt: at };
}

/** The `up` of monitoring: running, and its health check passing. */
export function isUp(status: string, health: HealthStatus): boolean {
  return status === "running" && health === "passing";
}

const MAX_DETAIL = 500;

function describe(name: string, output: string): string {
  const text = output.trim() ? `${name}: ${output.trim()}` : name;
  return text.length > MAX_DETAIL ? `${text.slice(0, MAX_DETAIL - 1)}…` : text;
}

function latest(times: (string | null)[]): Date | null {
  const ms = times.map((t) => (t ? Date.parse(t) : NaN)).filter((n) => Number.isFinite(n));
  return ms.length > 0 ? new Date(Math.max(...ms)) : null;
}
