import { database } from "@/db/client";
import { config } from "./config";
import { requestOperation } from "./jobs/operations";
import { errorMessage, log } from "./log";
import { unfinishedOperations } from "./services/maintenance";

/**
 * In embedded mode this process is also the job runtime: it starts the cron
 * triggers (the reconciler) and picks up the operations a previous process
 * left unfinished. Their steps are idempotent, so running them again from the
 * top finishes them (or fails them with a clear error).
 */
export async function startBackgroundWork(): Promise<void> {
  if (config().jobs.kind !== "local") return;
  const { localRunner } = await import("@/inngest/local");
  const runner = localRunner();
  runner.startCrons();
  const db = (await database()).db;
  const left = await unfinishedOperations(db);
  for (const op of left) {
    try {
      await requestOperation(op);
    } catch (err) {
      log.error("could not resume operation", { operation_id: op.id, error: errorMessage(err) });
    }
  }
  if (left.length > 0) log.info("resumed unfinished operations", { count: left.length });
}
