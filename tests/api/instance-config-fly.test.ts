import { eq } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import { instance } from "@/db/schema";
import type { JobDeps } from "@/inngest/deps";
import { operationRequested } from "@/inngest/events/operation-requested";
import { makeRunOperation } from "@/inngest/functions/run-operation";
import { FlyProvider } from "@/lib/compute/fly";
import type { RenderedConfig } from "@/lib/compute/types";
import { open } from "@/lib/crypto";
import type { ServiceContext } from "@/lib/http/context";
import { LocalRunner } from "@/lib/jobs/local-runner";
import { verifyToken, type Principal } from "@/lib/keys/verify";
import type { OperationResource } from "@/lib/schemas/instances";
import type { ProviderBody } from "@/lib/schemas/config";
import { appliedConfig, getConfig, putConfig, renderInstanceConfig } from "@/lib/services/instance-config";
import { createInstance, getInstance, lifecycle, type CreateInstanceInput } from "@/lib/services/instances";
import { getOperation } from "@/lib/services/operations";
import { mockServer } from "../compute/msw";
import { ANTHROPIC_KEY, ANTHROPIC_KEY_2, TELEGRAM_TOKEN } from "../config-docs/fixtures";
import { createFlyFake, type FakeMachine, type FlyFake } from "../fakes/fly-api";
import { createAccount, uniqueSubdomain } from "../support/fixtures";

// The config documents applied through the Fly Machines API (the stateful fake,
// over msw): the services a request calls, then the run-operation function on
// a local runner whose sleeps take no time, driving a FlyProvider on the fake's clock.

const TOKEN = "fly-test-token";
const PROVIDER: ProviderBody = { provider: "anthropic", model: "claude-sonnet-4-5", api_key: ANTHROPIC_KEY };
const INTEGRATIONS = { telegram: { enabled: true, bot_token: TELEGRAM_TOKEN } };
const silent = { info() {}, warn() {}, error() {}, debug() {} };

const { server, listen } = mockServer();
beforeAll(listen);
afterAll(() => server.close());

let fake: FlyFake;
let runner: LocalRunner;
let who: Principal;

beforeEach(async () => {
  fake = createFlyFake({ token: TOKEN });
  server.resetHandlers(...fake.handlers);
  const fly = new FlyProvider({
    token: TOKEN,
    org: "personal",
    apiBaseUrl: "https://api.machines.dev",
    image: "ghcr.io/openclaw/openclaw:2026.11.20",
    instanceDomain: "myopenclaw.app",
    now: fake.clock.now,
    sleep: async (ms) => fake.clock.advance(ms),
  });
  const deps: JobDeps = { db: getDb, compute: () => fly, send: async () => {}, now: () => new Date() };
  runner = new LocalRunner([makeRunOperation(deps)], { sleep: async () => {}, backoffMs: () => 0, logger: silent });
  const me = await createAccount({ limits: { heavy: 100 } });
  const v = await verifyToken(await getDb(), me.token);
  if (!v.ok) throw new Error("test key did not verify");
  who = v.principal;
});

/** A service call as a request makes it: one transaction. Its operation is run by `run`, not by the app's own runner. */
async function call<T>(fn: (ctx: ServiceContext) => Promise<T>): Promise<T> {
  const db = await getDb();
  return db.transaction((tx) => fn({ requestId: "req_fly_test", db: tx, account: who.account, key: who.key, afterCommit: () => undefined }));
}

/** Carries out an operation to its end on the Fly fake, and answers it as GET /operations/{id} would. */
async function run(op: OperationResource): Promise<OperationResource> {
  await runner.send({
    name: operationRequested.name,
    id: op.id,
    data: { operation_id: op.id, instance_id: op.instance_id, account_id: who.account.id, type: op.type },
  });
  await runner.idle();
  return call((ctx) => getOperation(ctx, op.id));
}

async function newInstance(docs: Omit<CreateInstanceInput, "subdomain"> = {}) {
  const op = await run(await call((ctx) => createInstance(ctx, { subdomain: uniqueSubdomain("fly"), ...docs })));
  expect(op).toMatchObject({ status: "succeeded", error: null });
  return op.instance_id;
}

async function instanceRow(id: string) {
  const [row] = await (await getDb()).select().from(instance).where(eq(instance.id, id));
  return row!;
}

function machineOf(appName: string): FakeMachine {
  const [m] = fake.machinesOf(appName);
  if (!m) throw new Error(`no machine in ${appName}`);
  return m;
}

/** The machine's env and files (decoded), as Fly holds them. */
async function onMachine(id: string) {
  const m = machineOf((await instanceRow(id)).appName!);
  const config = m.config as { env: Record<string, string>; files?: { guest_path: string; raw_value: string }[] };
  return {
    env: config.env,
    files: Object.fromEntries((config.files ?? []).map((f) => [f.guest_path, Buffer.from(f.raw_value, "base64").toString("utf8")])),
  };
}

/** What the applied documents render to for this instance. */
async function renderedApplied(id: string): Promise<RenderedConfig> {
  const row = await instanceRow(id);
  const { documents } = await appliedConfig(await getDb(), id);
  return renderInstanceConfig(documents, { subdomain: row.subdomain, gatewayToken: open(row.gatewayTokenEnc!) });
}

/** The machine runs exactly `rendered`: its files, its env and secret env, beside the platform's settings. */
async function expectMachineRuns(id: string, rendered: RenderedConfig) {
  const m = await onMachine(id);
  expect(m.files).toEqual(Object.fromEntries(rendered.files.map((f) => [f.path, f.content])));
  expect(m.env).toEqual({ ...rendered.env, ...rendered.secrets, OPENCLAW_STATE_DIR: "/data", NODE_OPTIONS: "--max-old-space-size=1536" });
}

describe("config documents on Fly", () => {
  it("provisions an instance created with documents with their rendered configuration", async () => {
    const id = await newInstance({ provider: PROVIDER, integrations: INTEGRATIONS });
    const m = await onMachine(id);
    expect(m.env).toMatchObject({ ANTHROPIC_API_KEY: ANTHROPIC_KEY, TELEGRAM_BOT_TOKEN: TELEGRAM_TOKEN });
    expect(JSON.parse(m.files["/data/openclaw.json"]!).channels.telegram).toEqual({ enabled: true, botToken: "${TELEGRAM_BOT_TOKEN}" });
    await expectMachineRuns(id, await renderedApplied(id));
    expect((await call((ctx) => getConfig(ctx, id, "provider"))).api_key).toEqual({ set: true, last4: "AnT1" });
  });

  it("applies a PUT through the Machines API: env and files replaced under a lease, the machine rebooted, then shown by GET", async () => {
    const id = await newInstance({ provider: PROVIDER });
    const appName = (await instanceRow(id)).appName!;
    const version = machineOf(appName).instanceId;

    const change = await call((ctx) => putConfig(ctx, id, "provider", { ...PROVIDER, model: "claude-opus-4-1", api_key: ANTHROPIC_KEY_2 }));
    expect(change.operation).toMatchObject({ type: "instance.configure", status: "pending" });
    expect((await call((ctx) => getInstance(ctx, id))).status).toBe("updating");
    // Until the apply succeeds, what is applied (and shown) is the previous document.
    expect((await call((ctx) => getConfig(ctx, id, "provider"))).api_key.last4).toBe("AnT1");

    const op = await run(change.operation!);
    expect(op).toMatchObject({ status: "succeeded", error: null });
    expect((await call((ctx) => getInstance(ctx, id))).status).toBe("running");
    expect(await call((ctx) => getConfig(ctx, id, "provider"))).toEqual({
      provider: "anthropic",
      model: "claude-opus-4-1",
      api_key: { set: true, last4: "AnT2" },
    });
    await expectMachineRuns(id, await renderedApplied(id));
    expect((await onMachine(id)).env.ANTHROPIC_API_KEY).toBe(ANTHROPIC_KEY_2);

    const m = machineOf(appName);
    expect(m.instanceId).not.toBe(version);
    expect(m.versions.map((v) => [v.instanceId, v.state])).toEqual([[version, "replaced"], [m.instanceId, "started"]]);
    expect(m.state).toBe("started");
    const [update] = fake.requestsTo("updateMachine");
    expect(update!.nonce).toMatch(/^[0-9a-f]{12}$/);
    expect(m.lease).toBeNull();
  });

  it("a permanent refusal by Fly leaves the old configuration on the machine and in GET, and fails the operation with the reason", async () => {
    const id = await newInstance({ provider: PROVIDER });
    const before = await onMachine(id);
    fake.inject("updateMachine", { kind: "status", status: 422, body: { error: "invalid machine config: files too large" } });

    const change = await call((ctx) => putConfig(ctx, id, "integrations", INTEGRATIONS));
    const op = await run(change.operation!);
    expect(op.status).toBe("failed");
    expect(op.error!.code).toBe("fly_rejected");
    expect(op.error!.message).toContain("invalid machine config: files too large");
    expect(op.error!.message).toContain("the previous one is still in place");

    expect(await onMachine(id)).toEqual(before);
    expect(fake.requestsTo("updateMachine")).toHaveLength(1); // nothing changed, so nothing to roll back
    expect(machineOf((await instanceRow(id)).appName!).state).toBe("started");
    expect((await call((ctx) => getConfig(ctx, id, "integrations"))).telegram.enabled).toBe(false);
    expect((await call((ctx) => getInstance(ctx, id))).status).toBe("running");
  });

  it("a configuration the machine never becomes healthy with is rolled back to the previous one", async () => {
    const id = await newInstance({ provider: PROVIDER });
    const before = await onMachine(id);
    // Every health check of the new configuration fails; the restored one answers again.
    fake.inject("healthz", { kind: "status", status: 503, body: { error: "gateway crashed" } }, 10);

    const change = await call((ctx) => putConfig(ctx, id, "integrations", INTEGRATIONS));
    const op = await run(change.operation!);
    expect(op.status).toBe("failed");
    expect(op.error!.code).toBe("instance_unhealthy");
    expect(op.error!.message).toMatch(/^The assistant did not become healthy: .*answered 503\. The new configuration was not applied; the previous one is still in place\.$/);

    const updates = fake.requestsTo("updateMachine");
    expect(updates).toHaveLength(2); // the new configuration, then the previous one again
    expect(await onMachine(id)).toEqual(before);
    expect(machineOf((await instanceRow(id)).appName!).state).toBe("started");
    expect((await call((ctx) => getConfig(ctx, id, "integrations"))).telegram.enabled).toBe(false);
    expect((await call((ctx) => getInstance(ctx, id))).status).toBe("running");
  });

  it("an instance whose previous configuration cannot be restored either is marked failed, with both reasons", async () => {
    const id = await newInstance({ provider: PROVIDER });
    fake.inject("healthz", { kind: "status", status: 503, body: { error: "gateway crashed" } }, 20);
    const op = await run((await call((ctx) => putConfig(ctx, id, "integrations", INTEGRATIONS))).operation!);
    expect(op.status).toBe("failed");
    expect(op.error!.code).toBe("instance_unhealthy");
    expect(op.error!.message).toContain("Restoring the previous configuration failed too");
    expect((await call((ctx) => getInstance(ctx, id))).status).toBe("failed");
    expect((await call((ctx) => getConfig(ctx, id, "integrations"))).telegram.enabled).toBe(false);
  });

  it("configures a stopped instance: started to check the configuration, then stopped again", async () => {
    const id = await newInstance({ provider: PROVIDER });
    expect((await run(await call((ctx) => lifecycle(ctx, id, "stop")))).status).toBe("succeeded");
    const appName = (await instanceRow(id)).appName!;
    expect(machineOf(appName).state).toBe("stopped");

    const seen = machineOf(appName).history.length;

    const op = await run((await call((ctx) => putConfig(ctx, id, "integrations", INTEGRATIONS))).operation!);
    expect(op.status).toBe("succeeded");
    // The update replaces the stopped version with a new one, which boots (as Fly does), is checked, then stopped.
    expect(machineOf(appName).history.slice(seen)).toEqual(["replacing", "starting", "started", "stopping", "stopped"]);
    expect(machineOf(appName).versions.map((v) => v.state)).toEqual(["replaced", "stopped"]);
    expect(fake.requestsTo("healthz").length).toBeGreaterThan(0);
    expect((await call((ctx) => getInstance(ctx, id))).status).toBe("stopped");
    await expectMachineRuns(id, await renderedApplied(id));
    expect((await onMachine(id)).env.TELEGRAM_BOT_TOKEN).toBe(TELEGRAM_TOKEN);
  });
});
