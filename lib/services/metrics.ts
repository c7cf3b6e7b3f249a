import { and, eq, inArray, isNotNull, isNull, sql } from "drizzle-orm";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { instance, operation } from "@/db/schema";
import type { ServiceContext } from "../context";
import { HEALTH_STATUSES, isUp } from "../operations/health";
import { INSTANCE_STATUSES, UNFINISHED } from "../operations/lifecycle";

/**
 * The account's instances and operations as Prometheus metrics, in the text
 * exposition format 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/),
 * written by prom-client into a registry made for this one answer, so no
 * account's series ever meet another's (prom-client's global registry is
 * never used). Every per-instance series carries `instance_id`, `subdomain`
 * and `region` (`instance_id`, not `instance`: Prometheus sets `instance` to
 * the scrape target).
 *
 *   moc_instance_status{status}       1 for the instance's status, 0 for the others (a state set)
 *   moc_instance_health{health}       the same for passing, critical, unknown
 *   moc_instance_up                   1 when running and its health check passes
 *   moc_instance_last_observed_timestamp_seconds   when the platform last looked at its machine (absent: never)
 *   moc_operations_total{type,result}              finished operations still kept (OPERATION_RETENTION_DAYS)
 *   moc_operation_duration_seconds{type,result}    how long they took, from request to finish (a histogram)
 *   moc_operations_in_progress{type}               operations not finished yet
 */

/** Seconds: an operation takes from a fraction of a minute to its 15-minute deadline. */
export const OPERATION_DURATION_BUCKETS = [1, 5, 10, 30, 60, 120, 300, 600, 900];

export interface Exposition {
  text: string;
  /** `text/plain; version=0.0.4; charset=utf-8` */
  contentType: string;
}

export async function accountMetrics(ctx: ServiceContext): Promise<Exposition> {
  const registry = new Registry();
  const registers = [registry];
  const labelNames = ["instance_id", "subdomain", "region"] as const;
  const status = new Gauge({
    name: "moc_instance_status",
    help: "The instance's status: 1 for the one it is in, 0 for the others",
    labelNames: [...labelNames, "status"],
    registers,
  });
  const health = new Gauge({
    name: "moc_instance_health",
    help: "The instance's health check as last seen: 1 for its health, 0 for the others",
    labelNames: [...labelNames, "health"],
    registers,
  });
  const up = new Gauge({ name: "moc_instance_up", help: "1 when the instance is running and its health check passes, else 0", labelNames, registers });
  const observed = new Gauge({
    name: "moc_instance_last_observed_timestamp_seconds",
    help: "When the platform last looked at the instance's machine, in Unix seconds",
    labelNames,
    registers,
  });
  const finished = new Counter({
    name: "moc_operations_total",
    help: "Finished operations, by type and result (succeeded or failed), over the operations kept",
    labelNames: ["type", "result"],
    registers,
  });
  const duration = new Histogram({
    name: "moc_operation_duration_seconds",
    help: "How long finished operations took, from request to finish, by type and result",
    labelNames: ["type", "result"],
    buckets: OPERATION_DURATION_BUCKETS,
    registers,
  });
  const inProgress = new Gauge({ name: "moc_operations_in_progress", help: "Operations not finished yet, by type", labelNames: ["type"], registers });

  const rows = await ctx.db
    .select()
    .from(instance)
    .where(and(eq(instance.accountId, ctx.account.id), isNull(instance.deletedAt)))
    .orderBy(instance.id);
  for (const r of rows) {
    const labels = { instance_id: r.id, subdomain: r.subdomain, region: r.flyRegion };
    for (const s of INSTANCE_STATUSES) status.set({ ...labels, status: s }, s === r.status ? 1 : 0);
    for (const h of HEALTH_STATUSES) health.set({ ...labels, health: h }, h === r.healthStatus ? 1 : 0);
    up.set(labels, isUp(r.status, r.healthStatus) ? 1 : 0);
    if (r.observedAt) observed.set(labels, r.observedAt.getTime() / 1000);
  }

  // Durations grouped by bucket in the database, not read row by row: each group is observed as its
  // count of values at its mean, which lies in the same bucket, so bucket counts and the sum are exact.
  const seconds = sql<number>`extract(epoch from ${operation.completedAt} - ${operation.createdAt})`;
  const bucket = sql<number>`case ${sql.join(
    OPERATION_DURATION_BUCKETS.map((b) => sql`when ${seconds} <= ${sql.raw(String(b))} then ${sql.raw(String(b))}`),
    sql` `,
  )} else 'Infinity'::float8 end`;
  const groups = await ctx.db
    .select({ type: operation.type, result: operation.status, le: bucket.mapWith(Number), n: sql<number>`count(*)`.mapWith(Number), sum: sql<number>`sum(${seconds})`.mapWith(Number) })
    .from(operation)
    .where(and(eq(operation.accountId, ctx.account.id), isNotNull(operation.completedAt)))
    .groupBy(operation.type, operation.status, bucket);
  for (const g of groups) {
    const labels = { type: g.type, result: g.result };
    finished.inc(labels, g.n);
    const below = OPERATION_DURATION_BUCKETS.filter((b) => b < g.le).at(-1) ?? 0;
    const mean = Math.min(g.le, Math.max(g.sum / g.n, below));
    for (let i = 0; i < g.n; i++) duration.observe(labels, mean);
  }
  const busy = await ctx.db
    .select({ type: operation.type, n: sql<number>`count(*)`.mapWith(Number) })
    .from(operation)
    .where(and(eq(operation.accountId, ctx.account.id), inArray(operation.status, UNFINISHED)))
    .groupBy(operation.type);
  for (const b of busy) inProgress.set({ type: b.type }, b.n);

  return { text: await registry.metrics(), contentType: registry.contentType };
}
