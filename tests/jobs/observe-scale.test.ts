import { inArray } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import { instance } from "@/db/schema";
import { makeObserveBatch } from "@/inngest/functions/observe-batch";
import { makeObserveInstances, type ObservationSettings } from "@/inngest/functions/observe-instances";
import type { ComputeProvider, MachineObservation, MachineRef } from "@/lib/compute/types";
import type { Deps } from "@/lib/deps";
import { newId } from "@/lib/ids";
import { instancesObserveRequested } from "@/lib/jobs/events";
import { LocalRunner } from "@/lib/jobs/local-runner";
import { newAccount, openDatabaseFirst, silent, testDeps } from "../support/operation-harness";
import { virtualClock } from "../support/virtual-clock";
import { SEEDED_VERSION } from "@/lib/openclaw/versions";

// Observation at scale, in virtual time: 2,000 instances, a provider that answers in
// 50-150 ms, a budget of 100 requests a second in 4 concurrent batches. One pass must
// look at every instance once, within the minute, stalest first, and never spend more
// than the budget in any second. (npm run bench:observe does 10,000 against the Fly fake.)

openDatabaseFirst();

const N = 2000;
const SETTINGS: ObservationSettings = { intervalSeconds: 60, requestsPerSecond: 100, concurrency: 4 };

describe("observing thousands of instances within a request budget", () => {
  it("one pass observes each instance once, stalest first, within the minute and the budget", { timeout: 120_000 }, async () => {
    const db = await getDb();
    const accountId = await newAccount();
    const start = Math.ceil(Date.now() / 60_000) * 60_000 + 60_000;
    // Instances last observed between 2 and 1 minutes ago, in a shuffled order of ids.
    const rows = Array.from({ length: N }, (_, i) => ({
      id: newId("inst"),
      accountId,
      subdomain: `scale-${process.pid}-${i}`,
      version: SEEDED_VERSION.version,
      status: "running" as const,
      flyRegion: "iad",
      appName: `app-${i}`,
      machineId: `m${i}`,
      observedAt: new Date(start - 60_000 - ((i * 7919) % N) * 30),
      createdAt: new Date(start - 600_000),
      updatedAt: new Date(start - 600_000),
    }));
    for (let i = 0; i < N; i += 500) await db.insert(instance).values(rows.slice(i, i + 500));
    const staleness = new Set(rows.map((r) => r.machineId));

    const clock = virtualClock(start);
    const calls: { at: number; machineId: string }[] = [];
    const provider = {
      kind: "local",
      async observe(ref: MachineRef): Promise<MachineObservation> {
        calls.push({ at: clock.now(), machineId: ref.machineId });
        await clock.sleep(50 + Math.random() * 100);
        return { state: "started", checks: [{ name: "servicecheck-00-http-3000", status: "passing", output: "HTTP 200", updatedAt: null }] };
      },
    } as unknown as ComputeProvider;
    const deps: Deps = { ...testDeps(provider).deps, now: () => new Date(clock.now()) };
    // The planner as it is, started by an event here instead of its cron.
    const planner = { ...makeObserveInstances(deps, SETTINGS), trigger: { event: "test/observe.pass" } };
    const runner = new LocalRunner([planner, makeObserveBatch(deps, { settings: SETTINGS, sleep: clock.sleep })], {
      now: clock.now,
      sleep: clock.sleep,
      logger: silent,
    });

    await runner.send({ name: "test/observe.pass", data: {} });
    await clock.runUntil(() => runner.runs().length > 1 && runner.runs().every((r) => r.status !== "running"), "the pass");

    expect(runner.runs().filter((r) => r.status !== "succeeded")).toEqual([]);
    // Every instance once: one provider call each, none twice.
    const mine = calls.filter((c) => staleness.has(c.machineId));
    expect(mine).toHaveLength(N);
    expect(new Set(mine.map((c) => c.machineId)).size).toBe(N);
    const after = await db.select({ observedAt: instance.observedAt }).from(instance).where(inArray(instance.id, rows.map((r) => r.id)));
    expect(after.every((r) => r.observedAt!.getTime() >= start && r.observedAt!.getTime() < start + 60_000)).toBe(true);

    // Within the budget in every second (each of the 4 batches may start a second's share early: +4).
    const perSecond = new Map<number, number>();
    for (const c of calls) perSecond.set(Math.floor(c.at / 1000), (perSecond.get(Math.floor(c.at / 1000)) ?? 0) + 1);
    expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(SETTINGS.requestsPerSecond + SETTINGS.concurrency);
    // And the budget is used: 2,000 calls at 100 a second take about 20 s, not much more.
    expect(calls.at(-1)!.at - start).toBeLessThan(30_000);

    // Stalest first: the batches go out in order of staleness.
    const batches = runner.runs().filter((r) => r.event.name === instancesObserveRequested.name);
    const byMachine = new Map<string, number>(rows.map((r) => [r.id, r.observedAt.getTime()]));
    const planned = batches.flatMap((b) => (b.event.data as { instance_ids: string[] }).instance_ids).filter((id) => byMachine.has(id));
    const times = planned.map((id) => byMachine.get(id)!);
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });
});
