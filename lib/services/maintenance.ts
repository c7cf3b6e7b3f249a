import { and, eq, inArray, lt } from "drizzle-orm";
import type { Db } from "@/db/client";
import { idempotencyKey, operation } from "@/db/schema";
import { UNFINISHED } from "../operations/lifecycle";
import { finishOperation } from "./operation-progress";
import type { OperationRow } from "./operations";

/** The reconciler's queries: each finds one kind of trouble, and each repair is conditional so it never undoes real progress. */

/** Pending operations older than `olderThanMs`: their event may never have reached the runner. */
export async function pendingOperations(db: Db, now: Date, olderThanMs: number): Promise<OperationRow[]> {
  return db
    .select()
    .from(operation)
    .where(and(eq(operation.status, "pending"), lt(operation.createdAt, new Date(now.getTime() - olderThanMs))))
    .limit(100);
}

/** Unfinished operations of any age (the embedded runner picks them up again after a restart). */
export async function unfinishedOperations(db: Db): Promise<OperationRow[]> {
  return db.select().from(operation).where(inArray(operation.status, UNFINISHED)).limit(1000);
}

/** Fails every unfinished operation past its deadline; answers their ids. */
export async function failStuckOperations(db: Db, now: Date): Promise<string[]> {
  const stuck = await db
    .select({ id: operation.id, type: operation.type })
    .from(operation)
    .where(and(inArray(operation.status, UNFINISHED), lt(operation.deadlineAt, now)))
    .limit(100);
  const failed: string[] = [];
  for (const s of stuck) {
    const done = await finishOperation(db, s.id, {
      ok: false,
      code: "operation_timeout",
      message: `The ${s.type} operation did not finish before its deadline and was stopped. The instance is marked failed; retry the operation or delete the instance.`,
    });
    if (done) failed.push(s.id);
  }
  return failed;
}

export async function deleteExpiredIdempotencyKeys(db: Db, now: Date): Promise<number> {
  const rows = await db.delete(idempotencyKey).where(lt(idempotencyKey.expiresAt, now)).returning({ key: idempotencyKey.key });
  return rows.length;
}
