import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { FlyProvider, type FlyProviderOptions } from "@/lib/compute/fly";
import { instanceAppName } from "@/lib/compute/naming";
import { ComputeError, type MachineRef, type ProvisionSpec, type RenderedConfig } from "@/lib/compute/types";
import { createFlyFake, type FlyFake, type FlyFakeOptions, type FlyFault } from "@/tests/fakes/fly-api";
import { OPENCLAW_MACHINE } from "../support/openclaw-machine";
import { mockServer } from "../support/msw";

const TOKEN = "fly-test-token";
const IMAGE = "ghcr.io/openclaw/openclaw:2026.11.20";
const SECRET = "sk-ant-api03-very-secret-value";
const GATEWAY_TOKEN = "gw-0123456789abcdef0123456789abcdef";

const config: RenderedConfig = {
  files: [{ path: "/data/openclaw.json", content: '{"agents":{"defaults":{"model":{"primary":"anthropic/claude-opus-4-6"}}}}' }],
  env: { OPENCLAW_LOG_LEVEL: "info" },
  secrets: { ANTHROPIC_API_KEY: SECRET },
};

const spec: ProvisionSpec = {
  instanceId: "inst_7k2m9q4x",
  subdomain: "alice",
  region: "iad",
  gatewayToken: GATEWAY_TOKEN,
  config,
};

const { server, listen } = mockServer();
beforeAll(listen);
afterAll(() => server.close());

let fake: FlyFake;

function useFake(opts: FlyFakeOptions = {}) {
  fake = createFlyFake({ token: TOKEN, ...opts });
  server.resetHandlers(...fake.handlers);
  return fake;
}

function provider(overrides: Partial<FlyProviderOptions> = {}) {
  return new FlyProvider({
    token: TOKEN,
    org: "personal",
    apiBaseUrl: "https://api.machines.dev",
    image: IMAGE,
    instanceDomain: "myopenclaw.app",
    now: fake.clock.now,
    sleep: async (ms) => fake.clock.advance(ms),
    ...overrides,
  });
}

async function rejection(promise: Promise<unknown>): Promise<ComputeError> {
  const err = await promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ComputeError);
  return err as ComputeError;
}

function machineOf(ref: MachineRef) {
  const m = fake.state.machines.get(ref.machineId);
  if (!m) throw new Error(`no machine ${ref.machineId} in the fake`);
  return m;
}

const decode = (b64: string) => Buffer.from(b64, "base64").toString("utf8");

/** The machine config as the provider sent it, in the shape the assertions read. */
interface SentConfig {
  image: string;
  init: { cmd: string[] };
  guest: unknown;
  env: Record<string, string>;
  files: { guest_path: string; raw_value: string }[];
  mounts: unknown;
  services: { ports: unknown; checks: unknown }[];
  metadata: Record<string, string>;
}
const sent = (m: { config: unknown }) => m.config as SentConfig;

beforeEach(() => {
  useFake();
});

describe("instanceAppName", () => {
  it("is deterministic, valid for Fly, and keeps mixed-case ids apart", () => {
    expect(instanceAppName("inst_7k2m9q4x")).toBe("moc-7k2m9q4x");
    expect(instanceAppName("inst_7k2m9q4x")).toBe(instanceAppName("inst_7k2m9q4x"));
    const a = instanceAppName("inst_aB3");
    const b = instanceAppName("inst_Ab3");
    expect(a).not.toBe(b);
    for (const name of [a, b, instanceAppName(`inst_${"X".repeat(80)}`), instanceAppName("inst_01HZX_Y.Z")]) {
      expect(name).toMatch(/^[a-z0-9][a-z0-9-]{0,62}$/);
    }
  });
});

describe("FlyProvider lifecycle", () => {
  it("provisions app, IPs, volume, certificate and a correctly configured machine that becomes healthy", async () => {
    const fly = provider();
    const ref = await fly.provision(spec);

    const app = instanceAppName(spec.instanceId);
    expect(ref).toEqual({ appName: app, machineId: expect.any(String), volumeId: expect.stringMatching(/^vol_/), region: "iad" });
    expect(fake.state.apps.get(app)).toMatchObject({ org: "personal" });
    expect(fake.state.ips.filter((ip) => ip.app === app).map((ip) => ip.type).sort()).toEqual(["shared_v4", "v6"]);
    expect(fake.volumesOf(app)).toEqual([
      expect.objectContaining({ id: ref.volumeId, name: "data", region: "iad", sizeGb: 1, attachedMachineId: ref.machineId }),
    ]);
    expect(fake.state.certificates).toEqual([{ app, hostname: "alice.myopenclaw.app", status: "pending_validation" }]);

    const machines = fake.machinesOf(app);
    expect(machines).toHaveLength(1);
    const c = sent(machines[0]!);
    expect(c.image).toBe(IMAGE);
    expect(c.init.cmd).toEqual(OPENCLAW_MACHINE.cmd);
    expect(c.guest).toEqual(OPENCLAW_MACHINE.guest);
    expect(c.env).toEqual({
      OPENCLAW_LOG_LEVEL: "info",
      ANTHROPIC_API_KEY: SECRET,
      OPENCLAW_STATE_DIR: "/data",
      NODE_OPTIONS: "--max-old-space-size=1536",
      OPENCLAW_GATEWAY_TOKEN: GATEWAY_TOKEN,
    });
    expect(c.files).toHaveLength(1);
    expect(c.files[0]!.guest_path).toBe("/data/openclaw.json");
    expect(decode(c.files[0]!.raw_value)).toBe(config.files[0]!.content);
    expect(c.mounts).toEqual([{ volume: ref.volumeId, path: "/data" }]);
    expect(c.services).toEqual(OPENCLAW_MACHINE.services);
    expect(c.metadata).toEqual({ moc_instance_id: spec.instanceId, moc_subdomain: "alice" });

    // Booting: not yet started, not yet healthy.
    expect(await fly.getState(ref)).not.toBe("started");
    expect((await fly.checkHealth(ref)).healthy).toBe(false);

    await fly.waitForState(ref, "started", 60_000);
    expect(await fly.getState(ref)).toBe("started");
    expect(machineOf(ref).history).toEqual(["created", "starting", "started"]);
    expect(await fly.checkHealth(ref)).toEqual({ healthy: true, detail: "healthz ok (live)" });
  });

  it("stops, starts and restarts the machine through Fly's states, under a lease", async () => {
    const fly = provider();
    const ref = await fly.provision(spec);
    await fly.waitForState(ref, "started", 60_000);

    await fly.stop(ref);
    await fly.waitForState(ref, "stopped", 60_000);
    expect(await fly.getState(ref)).toBe("stopped");
    expect((await fly.checkHealth(ref)).healthy).toBe(false);

    await fly.stop(ref); // already stopped: nothing to do, no error
    expect(fake.requestsTo("stopMachine")).toHaveLength(1);

    await fly.start(ref);
    await fly.waitForState(ref, "started", 60_000);
    expect((await fly.checkHealth(ref)).healthy).toBe(true);

    const before = machineOf(ref).history.length;
    await fly.restart(ref);
    await fly.waitForState(ref, "started", 60_000);
    expect(machineOf(ref).history.slice(before)).toEqual(["stopping", "stopped", "starting", "started"]);

    for (const route of ["stopMachine", "startMachine", "restartMachine"] as const) {
      const [call] = fake.requestsTo(route);
      expect(call?.nonce, route).toMatch(/^[0-9a-f]{12}$/);
    }
    expect(machineOf(ref).lease).toBeNull(); // every lease was released
  });

  it("restart of a stopped machine starts it", async () => {
    const fly = provider();
    const ref = await fly.provision(spec);
    await fly.waitForState(ref, "started", 60_000);
    await fly.stop(ref);
    await fly.waitForState(ref, "stopped", 60_000);
    await fly.restart(ref);
    await fly.waitForState(ref, "started", 60_000);
    expect(fake.requestsTo("restartMachine")).toHaveLength(0);
    expect(fake.requestsTo("startMachine")).toHaveLength(1);
  });

  it("applyConfig replaces env and files under a lease, keeps the gateway token, and reboots", async () => {
    const fly = provider();
    const ref = await fly.provision(spec);
    await fly.waitForState(ref, "started", 60_000);
    const oldVersion = machineOf(ref).instanceId;

    const next: RenderedConfig = {
      files: [{ path: "/data/openclaw.json", content: '{"channels":{"telegram":{"enabled":true}}}' }],
      env: { OPENCLAW_LOG_LEVEL: "debug" },
      secrets: { TELEGRAM_BOT_TOKEN: "123456:telegram-secret" },
    };
    await fly.applyConfig(ref, next);
    // It returns once the new version runs, not while the old one still reports "started".
    expect(machineOf(ref).instanceId).not.toBe(oldVersion);
    expect(machineOf(ref).state).toBe("started");
    expect(fake.requestsTo("wait").some((r) => r.path.includes(`instance_id=${machineOf(ref).instanceId}`))).toBe(true);
    await fly.waitForState(ref, "started", 60_000);

    const m = machineOf(ref);
    const c = sent(m);
    expect(c.env).toEqual({
      OPENCLAW_LOG_LEVEL: "debug",
      TELEGRAM_BOT_TOKEN: "123456:telegram-secret",
      OPENCLAW_STATE_DIR: "/data",
      NODE_OPTIONS: "--max-old-space-size=1536",
      OPENCLAW_GATEWAY_TOKEN: GATEWAY_TOKEN,
    });
    expect(c.files.map((f) => decode(f.raw_value))).toEqual([next.files[0]!.content]);
    expect(c.image).toBe(IMAGE);
    expect(c.mounts).toEqual([{ volume: ref.volumeId, path: "/data" }]);
    expect(m.instanceId).not.toBe(oldVersion);
    // As Fly documents an update: the old version replaced, the new one created and started (never stopped).
    expect(m.versions.map((v) => [v.instanceId, v.state])).toEqual([[oldVersion, "replaced"], [m.instanceId, "started"]]);
    expect(m.history).toEqual(["created", "starting", "started", "replacing", "starting", "started"]);
    expect(m.state).toBe("started");

    const [lease] = fake.requestsTo("acquireLease").slice(-1);
    const [update] = fake.requestsTo("updateMachine");
    const [release] = fake.requestsTo("releaseLease").slice(-1);
    expect(lease?.body).toMatchObject({ ttl: expect.any(Number) });
    expect(update?.nonce).toMatch(/^[0-9a-f]{12}$/);
    expect(release?.nonce).toBe(update?.nonce);
    expect(m.lease).toBeNull();
    expect((await fly.checkHealth(ref)).healthy).toBe(true);
  });

  it("destroy removes machine, volume and app, and is idempotent", async () => {
    const fly = provider();
    const ref = await fly.provision(spec);
    await fly.waitForState(ref, "started", 60_000);

    await fly.destroy(ref);
    expect(machineOf(ref).state).toBe("destroyed");
    expect(fake.state.volumes.get(ref.volumeId!)?.state).toBe("destroyed");
    expect(fake.state.apps.has(ref.appName)).toBe(false);
    expect(fake.state.ips.filter((ip) => ip.app === ref.appName)).toEqual([]);
    expect(fake.state.certificates).toEqual([]);
    expect(await fly.getState(ref)).toBeNull();

    await fly.destroy(ref); // everything already gone
    expect((await fly.checkHealth(ref)).healthy).toBe(false);
  });

  it("destroy also clears what a half-finished provision left behind", async () => {
    fake.inject("createMachine", { kind: "status", status: 500 });
    const fly = provider();
    await expect(fly.provision(spec)).rejects.toThrow(ComputeError);
    const app = instanceAppName(spec.instanceId);
    expect(fake.volumesOf(app)).toHaveLength(1);

    await fly.destroy({ appName: app, machineId: "", volumeId: null, region: "iad" });
    expect(fake.state.apps.has(app)).toBe(false);
    expect(fake.volumesOf(app)).toEqual([]);
  });
});

describe("FlyProvider idempotent provision", () => {
  it("a retry after the machine create failed creates no second app or volume", async () => {
    fake.inject("createMachine", { kind: "status", status: 500 });
    const fly = provider();
    const err = await rejection(fly.provision(spec));
    expect(err).toMatchObject({ code: "fly_unavailable", retryable: true, status: 500 });

    const app = instanceAppName(spec.instanceId);
    expect(fake.state.apps.size).toBe(1);
    expect(fake.volumesOf(app)).toHaveLength(1);
    expect(fake.machinesOf(app)).toHaveLength(0);

    const ref = await fly.provision(spec);
    expect(fake.state.apps.size).toBe(1);
    expect(fake.volumesOf(app)).toHaveLength(1);
    expect(fake.machinesOf(app)).toHaveLength(1);
    expect(fake.state.ips.filter((ip) => ip.app === app)).toHaveLength(2);
    expect(fake.state.certificates).toHaveLength(1);
    expect(fake.requestsTo("createApp")).toHaveLength(1);
    expect(fake.requestsTo("createVolume")).toHaveLength(1);
    expect(ref.volumeId).toBe(fake.volumesOf(app)[0]!.id);
    await fly.waitForState(ref, "started", 60_000);
  });

  it("finds a machine whose create answer was lost instead of creating another", async () => {
    fake.inject("createMachine", { kind: "lost_response" });
    const fly = provider();
    const err = await rejection(fly.provision(spec));
    expect(err).toMatchObject({ code: "fly_network_error", retryable: true });
    const app = instanceAppName(spec.instanceId);
    const [created] = fake.machinesOf(app);
    expect(created).toBeDefined();

    const ref = await fly.provision(spec);
    expect(ref.machineId).toBe(created!.id);
    expect(fake.machinesOf(app)).toHaveLength(1);
    expect(fake.requestsTo("createMachine")).toHaveLength(1);
  });

  it("provisioning again is a no-op for a running instance and starts a stopped one", async () => {
    const fly = provider();
    const ref = await fly.provision(spec);
    await fly.waitForState(ref, "started", 60_000);
    expect(await fly.provision(spec)).toEqual(ref);
    expect(fake.requestsTo("startMachine")).toHaveLength(0);

    await fly.stop(ref);
    await fly.waitForState(ref, "stopped", 60_000);
    expect(await fly.provision(spec)).toEqual(ref);
    await fly.waitForState(ref, "started", 60_000);
    expect(fake.requestsTo("startMachine")).toHaveLength(1);
    expect(fake.state.apps.size).toBe(1);
  });

  it("an app name held by another organization is a permanent error", async () => {
    fake.addForeignApp(instanceAppName(spec.instanceId));
    const err = await rejection(provider().provision(spec));
    expect(err).toMatchObject({ code: "fly_app_name_taken", retryable: false });
    expect(fake.requestsTo("createApp")).toHaveLength(0);
  });
});

describe("FlyProvider error classification", () => {
  const cases: { name: string; fault: FlyFault; code: string; retryable: boolean; status?: number; text: string }[] = [
    { name: "500", fault: { kind: "status", status: 500, body: { error: "internal error" } }, code: "fly_unavailable", retryable: true, status: 500, text: "internal error" },
    { name: "502 without JSON", fault: { kind: "status", status: 502, body: "Bad Gateway" }, code: "fly_unavailable", retryable: true, status: 502, text: "Bad Gateway" },
    { name: "503", fault: { kind: "status", status: 503 }, code: "fly_unavailable", retryable: true, status: 503, text: "injected 503" },
    { name: "408 outside /wait", fault: { kind: "timeout" }, code: "fly_timeout", retryable: true, status: 408, text: "request timed out" },
    { name: "429", fault: { kind: "rate_limit", retryAfterSeconds: 7 }, code: "fly_rate_limited", retryable: true, status: 429, text: "rate limit exceeded" },
    { name: "network failure", fault: { kind: "network" }, code: "fly_network_error", retryable: true, text: "Failed to fetch" },
    { name: "400", fault: { kind: "status", status: 400, body: { error: "invalid machine config" } }, code: "fly_rejected", retryable: false, status: 400, text: "invalid machine config" },
    { name: "422", fault: { kind: "status", status: 422, body: { error: "Validation failed" } }, code: "fly_rejected", retryable: false, status: 422, text: "Validation failed" },
    { name: "412 that is not capacity", fault: { kind: "status", status: 412, body: { error: "min_secrets_version 3 is unsatisfiable" } }, code: "fly_rejected", retryable: false, status: 412, text: "min_secrets_version" },
    { name: "401", fault: { kind: "status", status: 401, body: { error: "unauthorized" } }, code: "fly_unauthorized", retryable: false, status: 401, text: "unauthorized" },
    { name: "404", fault: { kind: "status", status: 404, body: { error: "app not found" } }, code: "fly_not_found", retryable: false, status: 404, text: "app not found" },
  ];

  it.each(cases)("$name -> $code (retryable: $retryable)", async ({ fault, code, retryable, status, text }) => {
    const fly = provider();
    fake.inject("createVolume", fault);
    const err = await rejection(fly.provision(spec));
    expect(err.code).toBe(code);
    expect(err.retryable).toBe(retryable);
    expect(err.status).toBe(status);
    if (fault.kind !== "network") expect(err.message).toContain(text);
    expect(err.message).not.toContain(TOKEN);
    if (fault.kind === "rate_limit") expect(err.retryAfterMs).toBe(7000);
  });

  it.each([
    { variant: "volume_host", route: "createMachine", status: 412 },
    { variant: "no_capacity", route: "createVolume", status: 400 },
    { variant: "out_of_capacity", route: "createMachine", status: 503 },
    { variant: "quota", route: "createMachine", status: 403 },
  ] as const)("capacity error $variant on $route is retryable", async ({ variant, route, status }) => {
    fake.inject(route, { kind: "capacity", variant });
    const err = await rejection(provider().provision(spec));
    expect(err).toMatchObject({ code: "fly_capacity", retryable: true, status });
  });

  it("insufficient memory on update (409) is capacity, not a lease conflict", async () => {
    const fly = provider();
    const ref = await fly.provision(spec);
    await fly.waitForState(ref, "started", 60_000);
    fake.inject("updateMachine", { kind: "capacity", variant: "memory" });
    const err = await rejection(fly.applyConfig(ref, config));
    expect(err).toMatchObject({ code: "fly_capacity", retryable: true, status: 409 });
    expect(err.message).toContain("insufficient memory");
    expect(machineOf(ref).lease).toBeNull(); // released even though the update failed
  });

  it("a wrong token gets Fly's 401 as a permanent error that does not contain the token", async () => {
    const err = await rejection(provider({ token: "fly-wrong-token-value" }).provision(spec));
    expect(err).toMatchObject({ code: "fly_unauthorized", retryable: false, status: 401 });
    expect(err.message).not.toContain("fly-wrong-token-value");
    expect(fake.state.apps.size).toBe(0);
  });

  it("never puts secret values into error messages, even when Fly echoes them", async () => {
    fake.inject("createMachine", { kind: "status", status: 400, body: { error: `invalid env value ${SECRET} for ANTHROPIC_API_KEY` } });
    const err = await rejection(provider().provision(spec));
    expect(err.message).not.toContain(SECRET);
    expect(err.message).toContain("[redacted]");
  });

  it("lifecycle calls on a machine that does not exist are permanent errors", async () => {
    const fly = provider();
    const ref = await fly.provision(spec);
    const gone: MachineRef = { ...ref, machineId: "0000deadbeef00" };
    expect(await rejection(fly.start(gone))).toMatchObject({ code: "fly_machine_not_found", retryable: false });
    expect(await fly.getState(gone)).toBeNull();
  });
});

describe("FlyProvider /wait loop", () => {
  it("loops over several 408s, each asking at most 60 s, until the state is reached", async () => {
    useFake({ timings: { launchMs: 500, bootMs: 150_000 } });
    const fly = provider();
    const ref = await fly.provision(spec);
    const t0 = fake.clock.now();
    await fly.waitForState(ref, "started", 300_000);
    const waits = fake.requestsTo("wait").map((r) => new URL(r.path, "https://x").searchParams);
    expect(waits.map((q) => q.get("timeout"))).toEqual(["60", "60", "60"]);
    expect(waits.every((q) => q.get("state") === "started")).toBe(true);
    expect(fake.clock.now() - t0).toBe(150_500);
    expect(await fly.getState(ref)).toBe("started");
  });

  it("gives up at the caller's deadline with a retryable fly_wait_timeout", async () => {
    useFake({ timings: { bootMs: 600_000 } });
    const fly = provider();
    const ref = await fly.provision(spec);
    const t0 = fake.clock.now();
    const err = await rejection(fly.waitForState(ref, "started", 130_000));
    expect(err).toMatchObject({ code: "fly_wait_timeout", retryable: true });
    expect(fake.requestsTo("wait").map((r) => new URL(r.path, "https://x").searchParams.get("timeout"))).toEqual(["60", "60", "10"]);
    expect(fake.clock.now() - t0).toBe(130_000);
  });

  it("keeps going when /wait answers 408 at once, pausing between tries", async () => {
    const fly = provider();
    const ref = await fly.provision(spec);
    fake.inject("wait", { kind: "timeout" }, 3);
    const t0 = fake.clock.now();
    await fly.waitForState(ref, "started", 60_000);
    expect(fake.requestsTo("wait")).toHaveLength(4);
    expect(fake.clock.now() - t0).toBeGreaterThanOrEqual(3000); // three pauses of the injected sleep
  });

  it("other errors from /wait are classified, not looped", async () => {
    const fly = provider();
    const ref = await fly.provision(spec);
    fake.inject("wait", { kind: "status", status: 502 });
    expect(await rejection(fly.waitForState(ref, "started", 60_000))).toMatchObject({ code: "fly_unavailable", retryable: true });
    expect(fake.requestsTo("wait")).toHaveLength(1);
  });

  it("waiting for stopped names the machine version (instance_id), as Fly requires", async () => {
    const fly = provider();
    const ref = await fly.provision(spec);
    await fly.waitForState(ref, "started", 60_000);
    await fly.stop(ref);
    await fly.waitForState(ref, "stopped", 60_000);
    const stoppedWait = fake.requestsTo("wait").find((r) => r.path.includes("state=stopped"));
    expect(new URL(stoppedWait!.path, "https://x").searchParams.get("instance_id")).toBe(machineOf(ref).instanceId);
  });

  it("a destroyed machine fails the wait permanently instead of waiting out the deadline", async () => {
    const fly = provider();
    const ref = await fly.provision(spec);
    await fly.waitForState(ref, "started", 60_000);
    const m = machineOf(ref);
    m.state = "destroyed";
    m.pending = [];
    expect(await rejection(fly.waitForState(ref, "started", 60_000))).toMatchObject({ retryable: false });
  });
});

describe("FlyProvider when a machine fails on boot (Fly's failed and launch_failed)", () => {
  it("a machine that crashes on boot is failed: the wait for started fails for good at once, and a later start can recover it", async () => {
    fake.failBoot({ image: IMAGE }, "failed", 1);
    const fly = provider();
    const ref = await fly.provision(spec);
    const t0 = fake.clock.now();
    const err = await rejection(fly.waitForState(ref, "started", 600_000));
    expect(err).toMatchObject({ code: "fly_machine_unavailable", retryable: false });
    expect(err.message).toContain("is failed");
    // One /wait ran out; the machine was then seen failed, long before the caller's deadline.
    expect(fake.clock.now() - t0).toBeLessThan(120_000);
    expect(machineOf(ref).history).toEqual(["created", "starting", "failed"]);
    expect(await fly.getState(ref)).toBe("failed");
    expect((await fly.checkHealth(ref)).healthy).toBe(false);

    await fly.start(ref); // Fly: a failed machine may be started again
    await fly.waitForState(ref, "started", 60_000);
    expect((await fly.checkHealth(ref)).healthy).toBe(true);
  });

  it("a machine whose launch fails is launch_failed, then destroyed with its volume freed; the wait fails for good", async () => {
    const fly = provider();
    const first = await fly.provision(spec);
    await fly.destroy(first);
    fake.failBoot({ image: IMAGE }, "launch_failed");
    const ref = await fly.provision({ ...spec, instanceId: "inst_launchfails" });
    const err = await rejection(fly.waitForState(ref, "started", 600_000));
    expect(err).toMatchObject({ code: "fly_machine_unavailable", retryable: false });
    expect(machineOf(ref).history).toEqual(["created", "launch_failed", "destroyed"]);
    expect(fake.state.volumes.get(ref.volumeId!)?.attachedMachineId).toBeNull();
    await fly.destroy(ref); // what is left (app, volume) goes
    expect(fake.state.apps.has(ref.appName)).toBe(false);
  });

  it("applyConfig whose new version crashes on boot resolves (the config was written); the wait for started then fails", async () => {
    const fly = provider();
    const ref = await fly.provision(spec);
    await fly.waitForState(ref, "started", 60_000);
    fake.failBoot({ machineId: ref.machineId }, "failed", 1);
    // Not a refusal: the machine changed, so the caller has something to roll back.
    await fly.applyConfig(ref, { ...config, env: { OPENCLAW_LOG_LEVEL: "debug" } });
    expect(machineOf(ref).versions.map((v) => v.state)).toEqual(["replaced", "failed"]);
    expect(await rejection(fly.waitForState(ref, "started", 60_000))).toMatchObject({ code: "fly_machine_unavailable", retryable: false });

    // Rolling back: another update boots a new version that starts.
    await fly.applyConfig(ref, config);
    await fly.waitForState(ref, "started", 60_000);
    expect(machineOf(ref).versions.map((v) => v.state)).toEqual(["replaced", "replaced", "started"]);
  });

  it("the fake fails only what it was told to: other machines and images boot", async () => {
    fake.failBoot({ image: "ghcr.io/openclaw/openclaw:broken" });
    fake.failBoot({ machineId: "00000000000000" });
    const fly = provider();
    const ref = await fly.provision(spec);
    await fly.waitForState(ref, "started", 60_000);
    expect(machineOf(ref).history).toEqual(["created", "starting", "started"]);
  });
});

describe("FlyProvider leases", () => {
  it("a lease held by another client is a retryable conflict; nothing changes until it expires", async () => {
    const fly = provider();
    const ref = await fly.provision(spec);
    await fly.waitForState(ref, "started", 60_000);
    const before = structuredClone(machineOf(ref).config);

    fake.leaseByOther(ref.machineId, 60);
    const err = await rejection(fly.applyConfig(ref, { ...config, env: { OPENCLAW_LOG_LEVEL: "debug" } }));
    expect(err).toMatchObject({ code: "fly_lease_conflict", retryable: true, status: 409 });
    expect(err.message).toContain("lease currently held");
    expect(machineOf(ref).config).toEqual(before);
    expect(fake.requestsTo("updateMachine")).toHaveLength(0);

    fake.clock.advance(61_000);
    await fly.applyConfig(ref, { ...config, env: { OPENCLAW_LOG_LEVEL: "debug" } });
    expect((machineOf(ref).config.env as Record<string, string>).OPENCLAW_LOG_LEVEL).toBe("debug");
  });

  it("the fake refuses an update without the nonce while a lease is held", async () => {
    // Guards the fake itself: a provider that skipped the header would fail here.
    const fly = provider();
    const ref = await fly.provision(spec);
    fake.leaseByOther(ref.machineId);
    expect(await rejection(fly.stop(ref))).toMatchObject({ code: "fly_lease_conflict" });
    expect(machineOf(ref).state).not.toBe("stopping");
  });
});

describe("FlyProvider health check", () => {
  let ref: MachineRef;
  let fly: FlyProvider;
  beforeEach(async () => {
    fly = provider();
    ref = await fly.provision(spec);
    await fly.waitForState(ref, "started", 60_000);
  });

  it.each([
    { body: { ok: false, status: "live" }, status: 200 },
    { body: { status: "starting" }, status: 200 },
    { body: "OK", status: 200 },
    { body: { ok: true, status: "live" }, status: 503 },
  ])("a 200 alone is not health: $status $body", async ({ body, status }) => {
    fake.state.health.set(ref.appName, { status, body });
    expect((await fly.checkHealth(ref)).healthy).toBe(false);
  });

  it("a network failure is unhealthy, not an exception, and the Fly token is never sent to the app", async () => {
    fake.inject("healthz", { kind: "network" });
    const result = await fly.checkHealth(ref);
    expect(result.healthy).toBe(false);
    expect(result.detail).toContain(`${ref.appName}.fly.dev/healthz`);

    const seen: Headers[] = [];
    const spying = provider({
      fetch: async (input, init) => {
        seen.push(new Headers(init?.headers));
        return fetch(input, init);
      },
    });
    expect((await spying.checkHealth(ref)).healthy).toBe(true);
    expect(seen[0]?.get("authorization")).toBeNull();
  });
});
