import { after } from "next/server";
import { errorMessage, log } from "./log";

/**
 * Hands background work to Next.js's `after()` so serverless platforms keep
 * the function alive until it settles. Outside a request scope (scripts, the
 * job runner, tests) it runs detached, its failure logged, never thrown.
 */
export function runAfter(label: string, work: Promise<unknown> | (() => Promise<unknown>)): void {
  const task = async () => {
    try {
      await (typeof work === "function" ? work() : work);
    } catch (err) {
      log.error("background work failed", { task: label, error: errorMessage(err) });
    }
  };
  try {
    after(task);
  } catch {
    void task();
  }
}
