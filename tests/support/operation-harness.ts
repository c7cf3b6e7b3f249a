// Shared by the operation (tests/operations), reconcile and recovery tests: rows inserted
// straight into the (in-memory PGlite) database the way the services leave
// them, Deps with a provider and an event sink the test owns, a compute
// provider that records its calls, and the two ways of running a durable
// function (Inngest's engine through @inngest/test, and the LocalRunner).
// Nothing here is production code.

import { InngestTestEngine, mockCtx } from "@inngest/test";
import { eq } from "drizzle-orm";
import { Inngest, serializeError } from "inngest";
import type { SetupServer } from "msw/node";
import { afterAll, beforeAll, expect } from "vitest";
import { getDb } from "@/db/client";
import { makeRunOperation } from "@/inngest/functions/run-operation";
import { instance, operation, webhookMessage } from "@/db/schema";
import { FlyProvider } from "@/lib/compute/fly";
import { LocalProvider } from "@/lib/compute/local";
import type { ComputeProvider, MachineRef } from "@/lib/compute/types";
import { open, seal } from "@/lib/crypto";
import type { Deps } from "@/lib/deps";
import { operationRequestedEvent } from "@/lib/jobs/events";
import { toInngestFunction } from "@/lib/jobs/define";
import { LocalRunner } from "@/lib/jobs/local-runner";
import type { AnyFunctionDefinition, JobLogger, OutgoingEvent } from "@/lib/jobs/types";
import { newId } from "@/lib/ids";
import type { InstanceStatus, OperationType } from "@/lib/operations/lifecycle";
import { SEEDED_VERSION } from "@/lib/openclaw/versions";
import { createFlyFake, type FlyFake } from "../fakes/fly-api";
import { createAccount, uniqueSubdomain } from "./fixtures";
import { mockServer } from "./msw";

/** Opens the file's database before its tests: PGlite from the migrated template takes seconds, not to be spent inside the first test's time limit. */
export function openDatabaseFirst(): void {
  beforeAll(async () => {
    await getDb();
  }, 60_000);
}

export const silent: JobLogger = { info() {}, warn() {}, error() {}, debug() {} };
export const inngest = new Inngest({ id: "jobs-operations-test", logger: silent });

export type InstanceRow = typeof instance.$inferSelect;
export type OperationRow = typeof operation.$inferSelect;

export async function newAccount(): Promise<string> {
  return (await createAccount()).accountId;
}

export async function insertInstance(
  accountId: string,
  o: { status: InstanceStatus; ref?: MachineRef | null; gatewayTokenEnc?: string | null; region?: string; version?: string } = { status: "provisioning" },
): Promise<InstanceRow> {
  const db = await getDb();
  const now = new Date();
  const [row] = await db
    .insert(instance)
    .values({
      id: newId("inst"),
      accountId,
      subdomain: uniqueSubdomain("job"),
      status: o.status,
      flyRegion: o.ref?.region ?? o.region ?? "iad",
      version: o.version ?? SEEDED_VERSION.version,
      appName: o.ref?.appName ?? null,
      machineId: o.ref?.machineId ?? null,
      volumeId: o.ref?.volumeId ?? null,
      gatewayTokenEnc: o.gatewayTokenEnc ?? null,
      createdAt: now,
      updatedAt: now,
    })
    .returning();
  return row!;
}

export async function insertOperation(
  inst: InstanceRow,
  type: OperationType,
  o: { status?: "pending" | "running" | "succeeded" | "failed"; createdAt?: Date; deadlineAt?: Date; input?: Record<string, unknown> } = {},
): Promise<OperationRow> {
  const db = await getDb();
  const createdAt = o.createdAt ?? new Date();
  const status = o.status ?? "pending";
  const [row] = await db
    .insert(operation)
    .values({
      id: newId("op"),
      accountId: inst.accountId,
      instanceId: inst.id,
      type,
      status,
      input: o.input ?? null,
      createdAt,
      startedAt: status === "pending" ? null : createdAt,
      completedAt: status === "succeeded" || status === "failed" ? createdAt : null,
      deadlineAt: o.deadlineAt ?? new Date(createdAt.getTime() + 15 * 60_000),
    })
    .returning();
  return row!;
}

/** The event a service sends for an operation it recorded. */
export const requestedEvent = (op: OperationRow) => operationRequestedEvent(op);

export async function opRow(id: string): Promise<OperationRow> {
  const db = await getDb();
  const [row] = await db.select().from(operation).where(eq(operation.id, id));
  if (!row) throw new Error(`no operation ${id}`);
  return row;
}

export async function instRow(id: string): Promise<InstanceRow> {
  const db = await getDb();
  const [row] = await db.select().from(instance).where(eq(instance.id, id));
  if (!row) throw new Error(`no instance ${id}`);
  return row;
}

/** The outbox rows about one operation. */
export async function outboxFor(op: { id: string; accountId: string }) {
  const db = await getDb();
  const rows = await db.select().from(webhookMessage).where(eq(webhookMessage.accountId, op.accountId));
  return rows.filter((r) => (r.payload as { data?: { id?: string } }).data?.id === op.id);
}

export type ProviderCall = { method: string; args: unknown[]; result?: unknown };

/**
 * Wraps a provider so every call is recorded (failed ones included) and an
 * optional hook sees it before it reaches the provider.
 */
export function recording(inner: ComputeProvider, before?: (call: ProviderCall) => Promise<void> | void) {
  const calls: ProviderCall[] = [];
  const provider = new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function" || prop === "constructor") return value;
      return async (...args: unknown[]) => {
        const call: ProviderCall = { method: String(prop), args };
        calls.push(call);
        await before?.(call);
        const result = await (value as (...a: unknown[]) => unknown).apply(target, args);
        call.result = result;
        return result;
      };
    },
  }) as ComputeProvider;
  return { provider, calls, count: (method: string) => calls.filter((c) => c.method === method).length };
}

/** Deps on the test's database with the test's provider; what the functions send is kept, not delivered. */
export function testDeps(compute: ComputeProvider, o: { now?: () => Date; send?: (events: OutgoingEvent[]) => Promise<void> } = {}) {
  const sent: OutgoingEvent[] = [];
  const deps: Deps = {
    db: getDb,
    compute: () => compute,
    send: async (events) => {
      sent.push(...events);
      await o.send?.(events);
    },
    now: o.now ?? (() => new Date()),
  };
  return { deps, sent };
}

/**
 * The health-check pauses, mocked by step id: an unmocked step.sleep never returns under
 * @inngest/test. A new array each time: the engine appends every step it runs to the
 * array it was given, so a shared one would replay one run's results into the next.
 */
export const healthSleeps = () => Array.from({ length: 10 }, (_, i) => ({ id: `wait-health-${i}`, handler: () => null }));

/** One run on Inngest's own execution engine, a fresh engine per run. */
export async function runOnInngest(def: AnyFunctionDefinition, event: { name: string; data: Record<string, unknown> } | undefined) {
  const engine = new InngestTestEngine({
    function: toInngestFunction(inngest, def),
    ...(event ? { events: [event] as [typeof event] } : {}),
    steps: healthSleeps(),
  });
  const out = await engine.execute();
  return {
    result: out.result as Record<string, unknown> | undefined,
    error: (out as { error?: { name?: string; message?: string } }).error,
    ctx: out.ctx,
    /** Every step result of the run, as Inngest would store them. */
    async storedState(): Promise<string> {
      const values = await Promise.all(Object.values(out.state).map((p) => Promise.resolve(p).catch((e: unknown) => e)));
      return JSON.stringify(values);
    },
  };
}

/**
 * Runs a function's failure handler the way Inngest does: as its own function,
 * triggered by "inngest/function.failed", with the failed run's event and the
 * error it failed with (see tests/jobs/inngest-parity.test.ts).
 */
export async function runFailureHandlerOnInngest(
  def: AnyFunctionDefinition,
  failedEvent: { name: string; data: Record<string, unknown>; id: string },
  error: { name?: string; message?: string },
) {
  const fn = toInngestFunction(inngest, def);
  const onFailure = (fn as unknown as { opts: { onFailure: Parameters<typeof inngest.createFunction>[1] } }).opts.onFailure;
  const failureFn = inngest.createFunction({ id: `${def.id}-failure`, triggers: [{ event: "inngest/function.failed" }] }, onFailure);
  const err = Object.assign(new Error(error.message ?? ""), { name: error.name ?? "Error" });
  const engine = new InngestTestEngine({
    function: failureFn,
    events: [
      {
        name: "inngest/function.failed",
        data: {
          function_id: `${inngest.id}-${def.id}`,
          run_id: "run_failed",
          error: serializeError(err),
          event: { ...failedEvent, ts: Date.now() },
        },
      },
    ],
    transformCtx: (ctx) => ({ ...mockCtx(ctx), error: err }),
  });
  const out = await engine.execute();
  return { error: (out as { error?: unknown }).error };
}

/** A LocalRunner whose sleeps and backoffs return at once and are recorded. */
export function instantRunner(defs: AnyFunctionDefinition[]) {
  const sleeps: number[] = [];
  const runner = new LocalRunner(defs, {
    sleep: async (ms) => void sleeps.push(ms),
    backoffMs: (attempt) => attempt * 1000,
    logger: silent,
  });
  return { runner, sleeps };
}

/** Polls `check` until it returns a value (not undefined), or fails after `timeoutMs`. */
export async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A LocalProvider clock that only moves when the provider sleeps (its waits take no real time). */
export function fakeClock(start = Date.UTC(2026, 0, 1)) {
  let t = start;
  return {
    now: () => t,
    sleep: async (ms: number) => {
      t += Math.max(0, ms);
    },
    advance: (ms: number) => {
      t += ms;
    },
  };
}

// ---------------------------------------------------------------------------
// Machines for the operation tests

/** A LocalProvider whose transitions take 1 s of a clock that only its own waits move. */
export function localProvider() {
  const clock = fakeClock();
  const local = new LocalProvider({ delayMs: 1000, now: clock.now, sleep: clock.sleep });
  return { local, clock };
}

/** A machine that already exists on the provider (as a finished create leaves it), settled in `state`. */
export async function existingMachine(p: ReturnType<typeof localProvider>, instanceId: string, state: "started" | "stopped") {
  const ref = await p.local.provision({ instanceId, subdomain: "x", region: "iad", image: "ghcr.io/openclaw/openclaw:2026.11.20", gatewayToken: "gw-token-existing-0123456789", config: null });
  p.clock.advance(10_000);
  if (state === "stopped") {
    await p.local.stop(ref);
    p.clock.advance(10_000);
  }
  expect(await p.local.getState(ref)).toBe(state);
  return ref;
}

/** An instance with a machine, as an API lifecycle call leaves it: status `during`, one pending operation. */
export async function lifecycleSetup(type: "instance.start" | "instance.stop" | "instance.restart" | "instance.delete", machine: "started" | "stopped", during: InstanceStatus) {
  const p = localProvider();
  const accountId = await newAccount();
  const placeholder = await insertInstance(accountId, { status: "provisioning" });
  const ref = await existingMachine(p, placeholder.id, machine);
  const db = await getDb();
  await db
    .update(instance)
    .set({ status: during, appName: ref.appName, machineId: ref.machineId, volumeId: ref.volumeId, gatewayTokenEnc: seal("gw-token-existing-0123456789") })
    .where(eq(instance.id, placeholder.id));
  const op = await insertOperation(placeholder, type);
  return { p, ref, inst: await instRow(placeholder.id), op };
}

/**
 * One lifecycle operation carried out on Inngest's engine: an instance set up
 * by lifecycleSetup, a provider that records its calls (`before` sees each
 * first), and the run.
 */
export async function lifecycleRun(
  type: Parameters<typeof lifecycleSetup>[0],
  machine: "started" | "stopped",
  during: InstanceStatus,
  before?: (call: ProviderCall, setup: Awaited<ReturnType<typeof lifecycleSetup>>) => Promise<void> | void,
) {
  const setup = await lifecycleSetup(type, machine, during);
  const rec = recording(setup.p.local, before && ((call) => before(call, setup)));
  const run = await runOnInngest(makeRunOperation(testDeps(rec.provider).deps), requestedEvent(setup.op));
  return { ...setup, rec, run };
}

const FLY_TOKEN = "fly-test-token";

/** A FlyProvider against a fresh stateful fake of the Machines API, served by `server` (msw), on the fake's clock. */
export function flyOnFake(server: SetupServer): { fake: FlyFake; provider: FlyProvider } {
  const fake = createFlyFake({ token: FLY_TOKEN });
  server.resetHandlers(...fake.handlers);
  const provider = new FlyProvider({
    token: FLY_TOKEN,
    org: "personal",
    apiBaseUrl: "https://api.machines.dev",
    instanceDomain: "myopenclaw.app",
    now: fake.clock.now,
    sleep: async (ms) => fake.clock.advance(ms),
  });
  return { fake, provider };
}

/** An msw server for the file's tests, and a function that makes a fresh Fly fake and a FlyProvider on it. */
export function useFlyFake(): () => { fake: FlyFake; provider: FlyProvider } {
  const { server, listen } = mockServer();
  beforeAll(listen);
  afterAll(() => server.close());
  return () => flyOnFake(server);
}

/** A new instance, as POST /instances leaves it, and its pending create. */
export async function createOp() {
  const inst = await insertInstance(await newAccount(), { status: "provisioning" });
  return { inst, op: await insertOperation(inst, "instance.create") };
}

/** The instance runs on the Fly fake: one started machine, its volume, the token stored sealed. */
export async function expectRunningOnFly(fake: FlyFake, instId: string) {
  const after = await instRow(instId);
  expect(after.status).toBe("running");
  const machines = fake.machinesOf(after.appName!);
  expect(machines).toHaveLength(1);
  expect(machines[0]).toMatchObject({ id: after.machineId, state: "started" });
  expect(fake.volumesOf(after.appName!).map((v) => v.id)).toEqual([after.volumeId]);
  // The machine runs with the token stored sealed for this instance.
  const env = (machines[0]!.config as { env: Record<string, string> }).env;
  expect(env.OPENCLAW_GATEWAY_TOKEN).toBe(open(after.gatewayTokenEnc!));
  expect(after.gatewayTokenEnc).not.toContain(env.OPENCLAW_GATEWAY_TOKEN!);
  return after;
}
