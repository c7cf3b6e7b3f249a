// Retry schedule of DESIGN.md 3.7 (the Standard Webhooks authors' schedule):
// a delivery is tried at once and, while it fails, again after 5 s, 5 min,
// 30 min, 2 h, 5 h, 10 h and 10 h: 8 attempts over about 28 hours.

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** RETRY_DELAYS_MS[i] = wait after failed attempt i+1 before attempt i+2. */
export const RETRY_DELAYS_MS: readonly number[] = Object.freeze([
  5 * SECOND,
  5 * MINUTE,
  30 * MINUTE,
  2 * HOUR,
  5 * HOUR,
  10 * HOUR,
  10 * HOUR,
]);

/** Attempts in all: the immediate one plus one per retry delay. */
export const MAX_ATTEMPTS = RETRY_DELAYS_MS.length + 1;

/**
 * Delay before the next attempt, after attempt number `attemptNumber` (1-based:
 * 1 is the immediate attempt) has failed; null when that was the last attempt.
 */
export function nextAttemptDelay(attemptNumber: number): number | null {
  if (!Number.isInteger(attemptNumber) || attemptNumber < 1) {
    throw new RangeError(`attemptNumber must be an integer >= 1, got ${attemptNumber}`);
  }
  return RETRY_DELAYS_MS[attemptNumber - 1] ?? null;
}
