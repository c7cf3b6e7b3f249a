import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

/**
 * CI's verdict over vitest's JSON reports (`--reporter=json --outputFile=...`),
 * one per leg of `.ci/run`. It prints each leg's counts, and fails when a report
 * is missing, ran no test, has a failure, or lists a skipped or todo test.
 *
 * A skip is how a suite that needs a service (Postgres, redis-server, Chromium)
 * stays quiet on a machine with nothing but Node (tests/support/services.ts); in
 * CI, where every service is installed, a skip means a broken install and must
 * not pass as green.
 *
 *   tsx scripts/check-test-reports.ts test-results/vitest-embedded.json test-results/vitest-pg.json ...
 *
 * Exit status 0 when every report is clean, 1 otherwise (the problems on stderr).
 */

/** The fields of vitest's JSON report this check reads. */
export interface VitestReport {
  numTotalTests: number;
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  numFailedTestSuites?: number;
  success: boolean;
  testResults: {
    name: string;
    status: string;
    message?: string;
    assertionResults: { fullName: string; status: string }[];
  }[];
}

export interface LegReport {
  /** The leg's name, e.g. "embedded". */
  leg: string;
  /** The parsed report, or why there is none. */
  report: VitestReport | { missing: string };
}

export interface Verdict {
  ok: boolean;
  /** One line per leg: its counts. */
  summary: string[];
  /** What fails the run, one line each. */
  problems: string[];
}

export function checkReports(legs: LegReport[]): Verdict {
  const summary: string[] = [];
  const problems: string[] = [];
  if (legs.length === 0) problems.push("no test report was given");
  for (const { leg, report } of legs) {
    if ("missing" in report) {
      problems.push(`${leg}: no report (${report.missing})`);
      continue;
    }
    const skipped = report.numPendingTests + report.numTodoTests;
    summary.push(`${leg}: ${report.numPassedTests} passed, ${report.numFailedTests} failed, ${skipped} skipped`);
    if (report.numTotalTests === 0) problems.push(`${leg}: ran no test`);
    if (report.numFailedTests > 0 || (report.numFailedTestSuites ?? 0) > 0 || !report.success) {
      problems.push(`${leg}: ${report.numFailedTests} failed tests, ${report.numFailedTestSuites ?? 0} failed suites`);
    }
    let listed = 0;
    for (const file of report.testResults) {
      const rel = path.relative(process.cwd(), file.name);
      if (file.status === "failed" && file.assertionResults.length === 0) problems.push(`${leg}: ${rel} did not run: ${(file.message ?? "").split("\n")[0]}`);
      for (const t of file.assertionResults) {
        if (t.status === "skipped" || t.status === "pending" || t.status === "todo") {
          listed++;
          problems.push(`${leg}: ${t.status}: ${rel} > ${t.fullName}`);
        }
      }
    }
    // The counts say so even when the files' lists do not.
    if (skipped > listed) problems.push(`${leg}: ${skipped - listed} more tests skipped`);
  }
  return { ok: problems.length === 0, summary, problems };
}

export function readReport(file: string): LegReport {
  const leg = path.basename(file, ".json").replace(/^vitest-/, "");
  try {
    return { leg, report: JSON.parse(fs.readFileSync(file, "utf8")) as VitestReport };
  } catch (err) {
    return { leg, report: { missing: `${file}: ${(err as Error).message}` } };
  }
}

function main(files: string[]): number {
  const verdict = checkReports(files.map(readReport));
  for (const line of verdict.summary) console.log(line);
  if (verdict.ok) return 0;
  console.error(`\nThe test run does not pass (${verdict.problems.length} problems):`);
  for (const p of verdict.problems) console.error(`  ${p}`);
  if (verdict.problems.some((p) => /: (skipped|todo|pending): /.test(p))) {
    console.error("\nA suite skips when a service it needs is missing (see its \"skipped: ... needs ...\" line above); install or configure it.");
  }
  return 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  process.exitCode = main(process.argv.slice(2));
}
