/**
 * A rollout's life, as data: the states it shows (`npm run admin -- rollout
 * status`) and which operator command moves it from which state. The rollout
 * service (lib/services/rollouts.ts), the durable function that carries it out
 * (inngest/functions/run-rollout.ts) and db/schema.ts read this module.
 *
 *   running  -> paused     rollout pause: no new batch starts; upgrades under way finish
 *   running  -> halted     failures reached --max-failures (the function does this)
 *   running  -> done       every instance upgraded, failed or left out (the function)
 *   paused, halted -> running    rollout resume (after a halt, --max-failures more failures are allowed)
 *   running, paused, halted -> cancelled    rollout cancel: nothing more starts
 */

export const ROLLOUT_STATES = ["running", "paused", "halted", "cancelled", "done"] as const;
export type RolloutState = (typeof ROLLOUT_STATES)[number];

/** A rollout in one of these may still upgrade something. At most one at a time (index `rollout_one_unfinished`). */
export const UNFINISHED_ROLLOUT: RolloutState[] = ["running", "paused", "halted"];

/** The operator's commands on a rollout: the states each applies to, and the state it leaves. */
export const ROLLOUT_ACTIONS = {
  pause: { from: ["running"], to: "paused" },
  resume: { from: ["paused", "halted"], to: "running" },
  cancel: { from: UNFINISHED_ROLLOUT, to: "cancelled" },
} as const satisfies Record<string, { from: readonly RolloutState[]; to: RolloutState }>;
export type RolloutAction = keyof typeof ROLLOUT_ACTIONS;

/**
 * Where each instance of a rollout stands, derived from the rollout's record
 * of it and the operation it started: `pending` (its turn has not come, or it
 * was busy with another operation and will be tried again), `upgrading` (its
 * instance.upgrade is unfinished), `upgraded`, `failed` (its upgrade failed,
 * rolled back or not), `skipped` (left out when its turn came: deleted,
 * auto_upgrade turned off, already on the version, or in a state an upgrade
 * cannot begin from).
 */
export const ROLLOUT_ITEM_STATES = ["pending", "upgrading", "upgraded", "failed", "skipped"] as const;
export type RolloutItemState = (typeof ROLLOUT_ITEM_STATES)[number];
