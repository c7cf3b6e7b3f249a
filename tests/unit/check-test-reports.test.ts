import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { checkReports, type VitestReport } from "@/scripts/check-test-reports";
import { hasBinary, hasExecutable, serviceUrl } from "../support/services";

// The CI gate over vitest's JSON reports (scripts/check-test-reports.ts): a leg
// with a skipped suite fails CI, a clean one passes. The sample reports have the
// shape vitest 4 writes with --reporter=json.

const ROOT = path.resolve(import.meta.dirname, "../..");

function report(tests: { file: string; name: string; status: "passed" | "failed" | "skipped" | "todo" }[]): VitestReport {
  const count = (s: string) => tests.filter((t) => t.status === s).length;
  const files = [...new Set(tests.map((t) => t.file))];
  return {
    numTotalTests: tests.length,
    numPassedTests: count("passed"),
    numFailedTests: count("failed"),
    numPendingTests: count("skipped"),
    numTodoTests: count("todo"),
    numFailedTestSuites: 0,
    success: count("failed") === 0,
    testResults: files.map((file) => ({
      name: path.join(ROOT, file),
      status: tests.some((t) => t.file === file && t.status === "failed") ? "failed" : "passed",
      message: "",
      assertionResults: tests.filter((t) => t.file === file).map((t) => ({ fullName: t.name, status: t.status })),
    })),
  };
}

const clean = report([
  { file: "tests/unit/a.test.ts", name: "a works", status: "passed" },
  { file: "tests/ratelimit/upstash.test.ts", name: "UpstashRateLimiter limits", status: "passed" },
]);
const withSkip = report([
  { file: "tests/unit/a.test.ts", name: "a works", status: "passed" },
  { file: "tests/ratelimit/upstash.test.ts", name: "UpstashRateLimiter limits", status: "skipped" },
]);

describe("checkReports", () => {
  it("passes clean legs and prints their counts", () => {
    const v = checkReports([
      { leg: "embedded", report: clean },
      { leg: "pg", report: clean },
    ]);
    expect(v).toEqual({ ok: true, summary: ["embedded: 2 passed, 0 failed, 0 skipped", "pg: 2 passed, 0 failed, 0 skipped"], problems: [] });
  });

  it("fails a leg in which a gated suite skipped, naming the test", () => {
    const v = checkReports([
      { leg: "embedded", report: clean },
      { leg: "neon", report: withSkip },
    ]);
    expect(v.ok).toBe(false);
    expect(v.problems).toEqual(["neon: skipped: tests/ratelimit/upstash.test.ts > UpstashRateLimiter limits"]);
  });

  it("fails on a todo, on skips the counts report beyond the list, on failures, on an empty or missing report", () => {
    const todo = report([{ file: "tests/unit/a.test.ts", name: "later", status: "todo" }]);
    expect(checkReports([{ leg: "x", report: todo }]).problems).toEqual(["x: todo: tests/unit/a.test.ts > later"]);
    expect(checkReports([{ leg: "x", report: { ...clean, numPendingTests: 3 } }]).problems).toEqual(["x: 3 more tests skipped"]);
    const failed = report([{ file: "tests/unit/a.test.ts", name: "a works", status: "failed" }]);
    expect(checkReports([{ leg: "x", report: failed }]).problems).toEqual(["x: 1 failed tests, 0 failed suites"]);
    expect(checkReports([{ leg: "x", report: report([]) }]).problems).toEqual(["x: ran no test"]);
    expect(checkReports([{ leg: "x", report: { missing: "no such file" } }]).problems).toEqual(["x: no report (no such file)"]);
    expect(checkReports([]).ok).toBe(false);
  });

  it("as a command: exit status 1 with the skipped test named, 0 for clean reports", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "moc-gate-"));
    try {
      fs.writeFileSync(path.join(dir, "vitest-embedded.json"), JSON.stringify(clean));
      fs.writeFileSync(path.join(dir, "vitest-neon.json"), JSON.stringify(withSkip));
      const run = (...files: string[]) =>
        spawnSync(process.execPath, [path.join(ROOT, "node_modules/tsx/dist/cli.mjs"), path.join(ROOT, "scripts/check-test-reports.ts"), ...files.map((f) => path.join(dir, f))], {
          cwd: ROOT,
          encoding: "utf8",
        });
      const bad = run("vitest-embedded.json", "vitest-neon.json");
      expect(bad.status).toBe(1);
      expect(bad.stdout).toContain("neon: 1 passed, 0 failed, 1 skipped");
      expect(bad.stderr).toContain("neon: skipped: tests/ratelimit/upstash.test.ts > UpstashRateLimiter limits");
      const good = run("vitest-embedded.json");
      expect(good.stderr).toBe("");
      expect(good.status).toBe(0);
      expect(run("vitest-pg.json").status).toBe(1); // a leg whose report was never written
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the gated-suite helpers (tests/support/services.ts)", () => {
  const printed: string[] = [];
  afterEach(() => {
    vi.restoreAllMocks();
    printed.length = 0;
  });
  const capture = () => vi.spyOn(process.stdout, "write").mockImplementation(((chunk: unknown) => (printed.push(String(chunk)), true)) as never);

  it("say in one line what a skipped suite needs, and answer what the suite tests on", () => {
    capture();
    vi.stubEnv("REDIS_URL", "");
    expect(serviceUrl("suite A", "REDIS_URL")).toBeUndefined();
    expect(hasBinary("suite B", "moc-no-such-binary")).toBe(false);
    expect(hasExecutable("suite C", "/nonexistent/chromium", "apt-get install chromium")).toBe(false);
    vi.stubEnv("REDIS_URL", " redis://127.0.0.1:6379/9 ");
    expect(serviceUrl("suite D", "REDIS_URL")).toBe("redis://127.0.0.1:6379/9");
    expect(hasExecutable("suite E", process.execPath, "")).toBe(true);
    vi.unstubAllEnvs();
    expect(printed).toEqual([
      "skipped: suite A needs REDIS_URL\n",
      "skipped: suite B needs the moc-no-such-binary binary (apt-get install moc-no-such-binary)\n",
      "skipped: suite C needs /nonexistent/chromium (apt-get install chromium)\n",
    ]);
  });
});
