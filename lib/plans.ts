import type { RateClass } from "./ratelimit/types";

/**
 * The plans table (DESIGN 3.3, 3.9): the one place these numbers live.
 * Rate limits are requests per minute; backup retention is in days.
 */
export const PLANS = {
  starter: { apiAccess: false, instances: 1, rate: { read: 0, write: 0, heavy: 0 }, accountPerMinute: 0, backupRetentionDays: 5 },
  pro: { apiAccess: true, instances: 6, rate: { read: 120, write: 30, heavy: 5 }, accountPerMinute: 1000, backupRetentionDays: 7 },
  business: { apiAccess: true, instances: 21, rate: { read: 240, write: 60, heavy: 10 }, accountPerMinute: 2000, backupRetentionDays: 30 },
} as const satisfies Record<string, Plan>;

export interface Plan {
  apiAccess: boolean;
  instances: number;
  rate: Record<RateClass, number>;
  accountPerMinute: number;
  /**
   * How long an instance's backups are kept: the `snapshot_retention` of its
   * volume, which Fly applies to the daily snapshots and the on-demand ones
   * (1-60 days; Fly's default, 5, for starter). See
   * https://fly.io/docs/volumes/snapshots/ ("Set or change the snapshot retention period").
   */
  backupRetentionDays: number;
}

export const PLAN_NAMES = Object.keys(PLANS) as PlanName[];
export type PlanName = keyof typeof PLANS;

/** An operator's per-account override of the plan's rate limits (`npm run admin -- set-limits`). */
export interface LimitOverrides {
  read?: number;
  write?: number;
  heavy?: number;
  account?: number;
}

export interface EffectiveLimits {
  instances: number;
  rate: Record<RateClass, number>;
  accountPerMinute: number;
}

export function effectiveLimits(plan: PlanName, overrides: LimitOverrides | null | undefined): EffectiveLimits {
  const p = PLANS[plan];
  return {
    instances: p.instances,
    rate: {
      read: overrides?.read ?? p.rate.read,
      write: overrides?.write ?? p.rate.write,
      heavy: overrides?.heavy ?? p.rate.heavy,
    },
    accountPerMinute: overrides?.account ?? p.accountPerMinute,
  };
}
