import { describe, expect, it } from "vitest";
import { markdown, summariseRuns, verdicts, type ShapeRun } from "../../scripts/bench/report";

/** The production-shape bench's arithmetic: per-request figures, background netting, PASS/MISS against the targets. */

const run = (over: Partial<ShapeRun>): ShapeRun => ({
  delay_ms: 2,
  mode: "serial",
  connections: 1,
  target: "auth",
  round: 1,
  seconds: 10,
  requests: 1000,
  rps: 100,
  p50_ms: 10,
  p99_ms: 20,
  non2xx: 0,
  errors: 0,
  cpu_ms: 2000,
  pg_round_trips: 2000,
  redis_requests: 1000,
  redis_round_trips: 1000,
  ...over,
});

describe("the production-shape report", () => {
  it("divides totals by the requests and nets out what the stores saw while only the bare route ran", () => {
    const rows = summariseRuns([
      run({ target: "auth", pg_round_trips: 1050, redis_requests: 1000 }),
      // 5 Postgres round trips a second with no store work of the bare route's own: the crons.
      run({ target: "bare", cpu_ms: 1000, pg_round_trips: 50, redis_requests: 0 }),
    ]);
    const auth = rows.find((r) => r.target === "auth")!;
    expect(auth.cpu_ms_per_request).toBe(2);
    expect(auth.pg_round_trips_per_request_raw).toBe(1.05);
    expect(auth.pg_round_trips_per_request).toBe(1);
    expect(auth.redis_round_trips_per_request).toBe(1);
    expect(rows.find((r) => r.target === "bare")!.pg_round_trips_per_request).toBe(0);
  });

  it("judges each target: CPU ratio under load, p50 within one round trip + 2 ms one at a time, one round trip per store", () => {
    const runs = [
      run({ mode: "serial", target: "auth", p50_ms: 7.9, pg_round_trips: 1000 }),
      run({ mode: "serial", target: "bare", p50_ms: 2, cpu_ms: 1000, pg_round_trips: 0, redis_requests: 0 }),
      run({ mode: "load", connections: 10, target: "auth", cpu_ms: 1500 }),
      run({ mode: "load", connections: 10, target: "bare", cpu_ms: 1000, pg_round_trips: 0, redis_requests: 0 }),
    ];
    const checks = verdicts(summariseRuns(runs));
    expect(checks.map((c) => [c.name.split(" (")[0], c.pass])).toEqual([
      ["server CPU per read", false], // 1.5x > 1.43x
      ["p50, one request at a time", true], // +5.9 ms <= 2 x 2 + 2
      ["Postgres round trips per read", true],
      ["Redis round trips per read", true],
    ]);
    const noisy = verdicts(summariseRuns(runs.map((r) => (r.mode === "serial" && r.target === "auth" ? { ...r, pg_round_trips: 1040 } : r))));
    expect(noisy.find((c) => c.name.startsWith("Postgres"))!.pass).toBe(true); // 1.04: one round trip, and a few writes
    const two = verdicts(summariseRuns(runs.map((r) => (r.mode === "serial" && r.target === "auth" ? { ...r, pg_round_trips: 1500 } : r))));
    expect(two.find((c) => c.name.startsWith("Postgres"))!.pass).toBe(false);
    const slower = verdicts(summariseRuns(runs.map((r) => (r.mode === "serial" && r.target === "auth" ? { ...r, p50_ms: 8.1 } : r))));
    expect(slower.find((c) => c.name.startsWith("p50"))!.pass).toBe(false);
    expect(markdown(summariseRuns(runs), checks, {})).toMatch(/\| server CPU per read .*\| \*\*MISS\*\*/);
  });
});
