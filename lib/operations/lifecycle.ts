import type { MachineState } from "../compute/types";

/**
 * The instance lifecycle, as data: the statuses an instance shows, the
 * operations that move it between them, and what its machine's observed state
 * says about it. The services that begin and finish operations
 * (lib/services/operations.ts, operation-progress.ts), the runner
 * (inngest/functions/run-operation.ts), the reconciler, db/schema.ts and the
 * OpenAPI enums (lib/schemas/instances.ts) all read this module; nothing
 * restates it.
 *
 * A new operation type is one row in OPERATIONS below, one step function in
 * inngest/functions/operations/ (named in STEPS there, which the compiler
 * checks against this table), and its tests in tests/operations/.
 */

/** What an instance is doing now (DESIGN 3.7). Order is the API's enum order. */
export const INSTANCE_STATUSES = [
  "provisioning",
  "starting",
  "running",
  "stopping",
  "stopped",
  "restarting",
  "updating",
  "upgrading",
  "backing_up",
  "restoring",
  "deleting",
  "failed",
] as const;
export type InstanceStatus = (typeof INSTANCE_STATUSES)[number];

export const OPERATION_STATUSES = ["pending", "running", "succeeded", "failed"] as const;
export type OperationStatus = (typeof OPERATION_STATUSES)[number];

/**
 * An operation in one of these has yet to finish. At most one per instance:
 * the partial unique index `operation_one_active_per_instance` (db/schema.ts)
 * is built from this list.
 */
export const UNFINISHED: OperationStatus[] = ["pending", "running"];

/**
 * Where an operation leaves its instance: a status; `previous`, the status the
 * instance had when the operation began (recorded in the operation's input as
 * `previous_status`); or `deleted` (the instance's row is marked deleted).
 */
export type Settle = InstanceStatus | "previous" | "deleted";

export interface OperationRule {
  /** What it does, as a refusal says it: "Cannot <verb> an instance that is deleting." */
  verb: string;
  /** The statuses it may begin from. Empty for instance.create, which begins with its (new) instance. */
  from: readonly InstanceStatus[];
  /** The status the instance shows while it runs. */
  during: InstanceStatus;
  /** Where success leaves the instance. */
  onSuccess: Settle;
  /**
   * Where a failure its step function reports leaves the instance, the steps
   * having put back what they changed (a configuration rolled back). A run that
   * fails for good (an error escaping its steps, or its deadline passing)
   * always leaves the instance `failed`, whatever the row says.
   */
  onFailure: Settle;
}

/** Delete is possible from every status but its own. */
const DELETABLE = INSTANCE_STATUSES.filter((s) => s !== "deleting");

/** Every operation type and its rule. Key order is the API's enum order. */
export const OPERATIONS = {
  "instance.create": { verb: "create", from: [], during: "provisioning", onSuccess: "running", onFailure: "failed" },
  "instance.start": { verb: "start", from: ["stopped", "failed"], during: "starting", onSuccess: "running", onFailure: "failed" },
  "instance.stop": { verb: "stop", from: ["running", "failed"], during: "stopping", onSuccess: "stopped", onFailure: "failed" },
  "instance.restart": { verb: "restart", from: ["running", "failed"], during: "restarting", onSuccess: "running", onFailure: "failed" },
  "instance.delete": { verb: "delete", from: DELETABLE, during: "deleting", onSuccess: "deleted", onFailure: "failed" },
  // Applying a configuration restarts the machine; a stopped instance is stopped again, and a failed apply is rolled back.
  "instance.configure": {
    verb: "change the configuration of",
    from: ["running", "stopped"],
    during: "updating",
    onSuccess: "previous",
    onFailure: "previous",
  },
  // Moves the machine to another OpenClaw version's image the same way; an image that does not become healthy is rolled back.
  "instance.upgrade": { verb: "upgrade", from: ["running", "stopped"], during: "upgrading", onSuccess: "previous", onFailure: "previous" },
  // A snapshot of the volume: the machine is left as it is, whatever it is doing.
  "instance.backup": {
    verb: "back up",
    from: ["running", "stopped", "failed"],
    during: "backing_up",
    onSuccess: "previous",
    onFailure: "previous",
  },
  // The machine moves onto a volume made from the backup and is started and checked healthy on it, so a restore
  // ends running; a failed restore moves it back onto its old volume (the instance settles as it was).
  "instance.restore": {
    verb: "restore",
    from: ["running", "stopped", "failed"],
    during: "restoring",
    onSuccess: "running",
    onFailure: "previous",
  },
} as const satisfies Record<string, OperationRule>;

export type OperationType = keyof typeof OPERATIONS;
export const OPERATION_TYPES = Object.keys(OPERATIONS) as [OperationType, ...OperationType[]];

/** The rule of an operation type. */
export function ruleOf(type: OperationType): OperationRule {
  return OPERATIONS[type];
}

/** Whether an operation of this type may begin while the instance shows `status`. */
export function canBegin(type: OperationType, status: InstanceStatus): boolean {
  return ruleOf(type).from.includes(status);
}

/** Why an operation cannot begin from `status`, for a person. */
export function refusal(type: OperationType, status: InstanceStatus): string {
  const { verb, from } = ruleOf(type);
  return `Cannot ${verb} an instance that is ${status}. That is possible while it is ${orList(from)}.`;
}

/** Whether beginning this operation must record the status it began from (its row settles as `previous`). */
export function recordsPrevious(type: OperationType): boolean {
  const { onSuccess, onFailure } = ruleOf(type);
  return onSuccess === "previous" || onFailure === "previous";
}

/**
 * How an operation ended: `succeeded`; `rolled_back`, a failure its steps
 * reported after putting things back; or `failed`, for good (a run that
 * failed, a deadline passed).
 */
export type Ending = "succeeded" | "rolled_back" | "failed";

/**
 * The status an operation leaves its instance in, or `deleted`. `previous` is
 * the status recorded when it began (`running` for an operation recorded
 * before that status was kept).
 */
export function settlesAs(type: OperationType, ending: Ending, previous: InstanceStatus | null): InstanceStatus | "deleted" {
  if (ending === "failed") return "failed";
  const rule = ruleOf(type);
  const settle = ending === "succeeded" ? rule.onSuccess : rule.onFailure;
  return settle === "previous" ? (previous ?? "running") : settle;
}

/** The statuses an instance rests in between operations: the ones the reconciler compares with its machine. */
export const RESTING: InstanceStatus[] = ["running", "stopped"];

/**
 * What an instance's status should be given its machine's observed state
 * (Fly's states: https://fly.io/docs/machines/machine-states/); null = leave
 * it. A machine gone, or failed, fails the instance; one that was started or
 * stopped behind our back moves a resting instance along.
 */
export function statusForMachine(current: InstanceStatus, state: MachineState | null): InstanceStatus | null {
  if (state === null || state === "destroyed" || state === "failed") return "failed";
  if (state === "started" && current === "stopped") return "running";
  if ((state === "stopped" || state === "suspended") && current === "running") return "stopped";
  return null;
}

function orList(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? "never") : `${items.slice(0, -1).join(", ")} or ${items.at(-1)}`;
}
