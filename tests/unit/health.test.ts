import { describe, expect, it } from "vitest";
import type { MachineCheck } from "@/lib/compute/types";
import { healthFromEvidence, healthOf, isUp } from "@/lib/operations/health";
import { statusForMachine } from "@/lib/operations/lifecycle";

const seen = new Date("2026-11-30T10:00:00.000Z");
const check = (status: MachineCheck["status"], output = "", updatedAt: string | null = null): MachineCheck => ({
  name: "servicecheck-00-http-3000",
  status,
  output,
  updatedAt,
});

describe("healthOf: an observation of a machine as the instance's health", () => {
  it("a started machine is as healthy as its checks: all passing, any critical, or not run yet", () => {
    expect(healthOf({ state: "started", checks: [check("passing", "HTTP 200", "2026-11-30T09:59:50.000Z")] }, seen)).toEqual({
      status: "passing",
      detail: "servicecheck-00-http-3000: HTTP 200",
      checkedAt: new Date("2026-11-30T09:59:50.000Z"),
    });
    const critical = healthOf({ state: "started", checks: [check("passing", "ok"), check("critical", "HTTP 503: gateway down", "2026-11-30T09:59:55.000Z")] }, seen);
    expect(critical).toMatchObject({ status: "critical", detail: "servicecheck-00-http-3000: HTTP 503: gateway down" });
    expect(critical.checkedAt).toEqual(new Date("2026-11-30T09:59:55.000Z"));
    // Fly shows "warning" before a check's first run: no evidence either way.
    expect(healthOf({ state: "started", checks: [check("warning")] }, seen)).toMatchObject({ status: "unknown", detail: expect.stringContaining("not run yet") });
    expect(healthOf({ state: "started", checks: [] }, seen)).toMatchObject({ status: "unknown", checkedAt: seen });
  });

  it("a machine that is not running answers no health check: critical, whatever stale checks it still lists", () => {
    for (const state of ["stopped", "suspended", "failed", "destroyed"] as const) {
      expect(healthOf({ state, checks: [check("passing")] }, seen)).toMatchObject({ status: "critical", detail: expect.stringContaining(state), checkedAt: seen });
    }
    expect(healthOf({ state: null, checks: [] }, seen)).toMatchObject({ status: "critical", detail: "The machine no longer exists." });
  });

  it("a machine between states is unknown", () => {
    for (const state of ["created", "starting", "stopping", "replacing", "updating"] as const) {
      expect(healthOf({ state, checks: [check("critical")] }, seen)).toMatchObject({ status: "unknown", detail: expect.stringContaining(state) });
    }
  });

  it("keeps a long check output short", () => {
    const h = healthOf({ state: "started", checks: [check("critical", "x".repeat(5000))] }, seen);
    expect(h.detail.length).toBeLessThanOrEqual(500);
  });
});

describe("healthFromEvidence: what an operation's own steps saw", () => {
  it("a wait that ended stopped is critical; a health check is what it answered", () => {
    expect(healthFromEvidence({ machine: "stopped" }, seen)).toMatchObject({ status: "critical", checkedAt: seen });
    expect(healthFromEvidence({ machine: "started", healthy: true, detail: "healthz ok (live)" }, seen)).toEqual({
      status: "passing",
      detail: "healthz ok (live)",
      checkedAt: seen,
    });
    expect(healthFromEvidence({ machine: "started", healthy: false, detail: "GET /healthz answered 503" }, seen)).toMatchObject({ status: "critical" });
  });
});

describe("isUp and statusForMachine", () => {
  it("up is running and passing, nothing else", () => {
    expect(isUp("running", "passing")).toBe(true);
    expect(isUp("running", "critical")).toBe(false);
    expect(isUp("running", "unknown")).toBe(false);
    expect(isUp("stopped", "passing")).toBe(false);
  });

  it("moves a resting instance along with its machine, fails it when the machine is gone, and leaves it otherwise", () => {
    expect(statusForMachine("running", "stopped")).toBe("stopped");
    expect(statusForMachine("stopped", "started")).toBe("running");
    expect(statusForMachine("running", null)).toBe("failed");
    expect(statusForMachine("running", "destroyed")).toBe("failed");
    expect(statusForMachine("running", "started")).toBeNull();
    expect(statusForMachine("running", "starting")).toBeNull();
    expect(statusForMachine("failed", "started")).toBeNull();
  });
});
