import { describe, expect, it } from "vitest";
import { MAX_ATTEMPTS, RETRY_DELAYS_MS, nextAttemptDelay } from "@/lib/webhooks/schedule";

const S = 1000;
const M = 60 * S;
const H = 60 * M;

describe("webhook retry schedule", () => {
  it("is the DESIGN.md schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h", () => {
    expect([...RETRY_DELAYS_MS]).toEqual([5 * S, 5 * M, 30 * M, 2 * H, 5 * H, 10 * H, 10 * H]);
    expect(MAX_ATTEMPTS).toBe(8);
  });

  it("spans about 28 hours in all", () => {
    const total = RETRY_DELAYS_MS.reduce((a, b) => a + b, 0);
    expect(total).toBe(27 * H + 35 * M + 5 * S);
  });

  it("gives the delay after each failed attempt and null after the last", () => {
    expect(nextAttemptDelay(1)).toBe(5 * S);
    expect(nextAttemptDelay(2)).toBe(5 * M);
    expect(nextAttemptDelay(3)).toBe(30 * M);
    expect(nextAttemptDelay(4)).toBe(2 * H);
    expect(nextAttemptDelay(5)).toBe(5 * H);
    expect(nextAttemptDelay(6)).toBe(10 * H);
    expect(nextAttemptDelay(7)).toBe(10 * H);
    expect(nextAttemptDelay(8)).toBeNull();
    expect(nextAttemptDelay(9)).toBeNull();
    expect(nextAttemptDelay(100)).toBeNull();
  });

  it("cannot be mutated", () => {
    expect(Object.isFrozen(RETRY_DELAYS_MS)).toBe(true);
  });

  it("refuses attempt numbers that are not positive integers", () => {
    expect(() => nextAttemptDelay(0)).toThrow(RangeError);
    expect(() => nextAttemptDelay(-1)).toThrow(RangeError);
    expect(() => nextAttemptDelay(1.5)).toThrow(RangeError);
    expect(() => nextAttemptDelay(Number.NaN)).toThrow(RangeError);
  });
});
