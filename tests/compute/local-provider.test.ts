import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { instanceAppName } from "@/lib/compute/naming";
import { LocalProvider, type LocalProviderOptions } from "@/lib/compute/local";
import { ComputeError, type MachineRef, type ProvisionSpec, type RenderedConfig } from "@/lib/compute/types";

const SECRET = "sk-ant-api03-local-secret";
const config: RenderedConfig = {
  files: [{ path: "/data/openclaw.json", content: "{}" }],
  env: { OPENCLAW_LOG_LEVEL: "info" },
  secrets: { ANTHROPIC_API_KEY: SECRET },
};
const spec: ProvisionSpec = {
  instanceId: "inst_local01",
  subdomain: "bob",
  region: "fra",
  image: "ghcr.io/openclaw/openclaw:2026.11.20",
  gatewayToken: "gw-token-local-0123456789",
  config,
};

let now: number;
let dir: string;

/** A provider on a fake clock: sleeping moves the clock, so waits take no real time. */
function local(opts: Partial<LocalProviderOptions> = {}) {
  return new LocalProvider({
    delayMs: 1000,
    now: () => now,
    sleep: async (ms) => {
      now += ms;
    },
    ...opts,
  });
}

beforeEach(() => {
  now = Date.UTC(2026, 0, 1);
  dir = mkdtempSync(path.join(tmpdir(), "moc-local-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("LocalProvider transitions", () => {
  it("moves through Fly's states, one delay per transition", async () => {
    const p = local();
    const ref = await p.provision(spec);
    expect(ref).toEqual({ appName: instanceAppName(spec.instanceId), machineId: expect.stringMatching(/^[0-9a-f]{14}$/), volumeId: expect.stringMatching(/^vol_/), region: "fra" });

    const seen = async (steps: number) => {
      const states = [await p.getState(ref)];
      for (let i = 0; i < steps; i++) {
        now += 1000;
        states.push(await p.getState(ref));
      }
      return states;
    };
    expect(await seen(2)).toEqual(["created", "starting", "started"]);

    await p.stop(ref);
    expect(await seen(1)).toEqual(["stopping", "stopped"]);

    await p.start(ref);
    expect(await seen(1)).toEqual(["starting", "started"]);

    await p.restart(ref);
    expect(await seen(3)).toEqual(["stopping", "stopped", "starting", "started"]);

    await p.destroy(ref);
    expect(await seen(1)).toEqual(["destroying", null]);
    await p.destroy(ref); // gone already: fine
  });

  it("with delayMs 0 every transition is immediate", async () => {
    const p = local({ delayMs: 0 });
    const ref = await p.provision(spec);
    expect(await p.getState(ref)).toBe("started");
    await p.stop(ref);
    expect(await p.getState(ref)).toBe("stopped");
    await p.restart(ref); // a stopped machine just starts
    expect(await p.getState(ref)).toBe("started");
    await p.destroy(ref);
    expect(await p.getState(ref)).toBeNull();
  });

  it("start and stop are no-ops when the machine is already heading there", async () => {
    const p = local();
    const ref = await p.provision(spec);
    await p.start(ref); // still launching: nothing changes
    now += 1000;
    expect(await p.getState(ref)).toBe("starting");
    now += 1000;
    await p.stop(ref);
    await p.stop(ref);
    now += 1000;
    expect(await p.getState(ref)).toBe("stopped");
  });

  it("waitForState waits for the transition and times out retryably when it never comes", async () => {
    const p = local({ delayMs: 5000 });
    const ref = await p.provision(spec);
    const t0 = now;
    await p.waitForState(ref, "started", 60_000);
    expect(now - t0).toBe(10_000);

    await p.stop(ref);
    await p.waitForState(ref, "stopped", 60_000);
    const err = await p.waitForState(ref, "started", 3000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ComputeError);
    expect(err).toMatchObject({ code: "local_wait_timeout", retryable: true });
    expect(await p.getState(ref)).toBe("stopped");
  });

  it("health follows the state", async () => {
    const p = local();
    const ref = await p.provision(spec);
    expect((await p.checkHealth(ref)).healthy).toBe(false);
    now += 2000;
    expect((await p.checkHealth(ref)).healthy).toBe(true);
  });

  it("provision is idempotent per instance", async () => {
    const p = local({ delayMs: 0 });
    const ref = await p.provision(spec);
    expect(await p.provision(spec)).toEqual(ref);
    await p.stop(ref);
    expect(await p.provision(spec)).toEqual(ref);
    expect(await p.getState(ref)).toBe("started");
    const other = await p.provision({ ...spec, instanceId: "inst_local02" });
    expect(other.machineId).not.toBe(ref.machineId);
  });

  it("applyConfig records the config and restarts the machine", async () => {
    const p = local();
    const ref = await p.provision(spec);
    expect(p.lastAppliedConfig(ref)).toEqual(config);
    now += 2000;
    const next: RenderedConfig = { files: [], env: { A: "1" }, secrets: { OPENAI_API_KEY: "sk-openai" } };
    await p.applyConfig(ref, next);
    expect(p.lastAppliedConfig(ref)).toEqual(next);
    expect(await p.getState(ref)).toBe("stopping");
    await p.waitForState(ref, "started", 60_000);
    next.env.A = "changed by the caller afterwards";
    expect(p.lastAppliedConfig(ref)?.env).toEqual({ A: "1" });
  });

  it("changeImage records the image and restarts the machine; a stopped one is started", async () => {
    const p = local();
    const ref = await p.provision(spec);
    expect(p.imageOf(ref)).toBe(spec.image);
    now += 2000;
    await p.changeImage(ref, "ghcr.io/openclaw/openclaw:2026.12.1");
    expect(p.imageOf(ref)).toBe("ghcr.io/openclaw/openclaw:2026.12.1");
    expect(await p.getState(ref)).toBe("stopping");
    await p.waitForState(ref, "started", 60_000);
    await p.stop(ref);
    await p.waitForState(ref, "stopped", 60_000);
    await p.changeImage(ref, spec.image);
    expect(await p.getState(ref)).toBe("starting");
    await p.waitForState(ref, "started", 60_000);
    expect(p.imageOf(ref)).toBe(spec.image);
  });

  it("failing images: an assistant that never answers healthy, or a machine that crashes on boot, as Fly reports it", async () => {
    const unhealthy = "ghcr.io/openclaw/openclaw:2026.12.1-unhealthy";
    const crashing = "ghcr.io/openclaw/openclaw:2026.12.1-crash";
    const p = local({ delayMs: 0, failingImages: [unhealthy] });
    const ref = await p.provision(spec);
    const other = await p.provision({ ...spec, instanceId: "inst_local02" });

    await p.changeImage(ref, unhealthy);
    expect(await p.getState(ref)).toBe("started");
    expect(await p.checkHealth(ref)).toEqual({ healthy: false, detail: `simulated gateway: ${unhealthy} does not answer /healthz (a failing image)` });

    p.failImage(crashing, { as: "boot", machineId: ref.machineId });
    await p.changeImage(ref, crashing);
    expect(await p.getState(ref)).toBe("failed");
    await expect(p.waitForState(ref, "started", 60_000)).rejects.toMatchObject({ code: "local_machine_unavailable", retryable: false });
    await p.changeImage(other, crashing); // only that machine crashes on it
    expect(await p.checkHealth(other)).toMatchObject({ healthy: true });

    await p.changeImage(ref, spec.image); // back on a good image, it boots again
    expect(await p.getState(ref)).toBe("started");
    expect((await p.checkHealth(ref)).healthy).toBe(true);
  });

  it("unknown machines are permanent errors", async () => {
    const p = local();
    const ghost: MachineRef = { appName: "moc-x", machineId: "00000000000000", volumeId: null, region: "iad" };
    await expect(p.start(ghost)).rejects.toMatchObject({ code: "local_machine_not_found", retryable: false });
    await expect(p.waitForState(ghost, "started", 1000)).rejects.toMatchObject({ retryable: false });
    expect(await p.getState(ghost)).toBeNull();
    expect(p.lastAppliedConfig(ghost)).toBeNull();
  });
});

describe("LocalProvider persistence", () => {
  it("a new provider on the same file sees the machines, their schedules and configs, but no secret values", async () => {
    const stateFile = path.join(dir, "nested", "machines.json");
    const first = local({ stateFile });
    const ref = await first.provision(spec);
    now += 2000;
    await first.stop(ref);

    const second = local({ stateFile });
    expect(await second.getState(ref)).toBe("stopping");
    now += 1000;
    expect(await second.getState(ref)).toBe("stopped");
    expect(await first.getState(ref)).toBe("stopped");
    expect(second.lastAppliedConfig(ref)).toEqual({ ...config, secrets: { ANTHROPIC_API_KEY: "[redacted]" } });

    const text = readFileSync(stateFile, "utf8");
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(spec.gatewayToken);
    expect(readdirSync(path.dirname(stateFile))).toEqual(["machines.json"]); // no temp files left behind

    await second.start(ref);
    await second.waitForState(ref, "started", 60_000);
    expect(await local({ stateFile }).getState(ref)).toBe("started");
  });

  it("reads a state file written before machines recorded their image: they ran the image of that time", async () => {
    const stateFile = path.join(dir, "machines.json");
    const ref = await local({ stateFile }).provision(spec);
    const doc = JSON.parse(readFileSync(stateFile, "utf8")) as { machines: Record<string, unknown>[] };
    for (const m of doc.machines) delete m.image;
    writeFileSync(stateFile, JSON.stringify(doc));
    expect(local({ stateFile }).imageOf(ref)).toBe("ghcr.io/openclaw/openclaw:2026.11.20");
  });

  it("in memory, machines belong to one provider object", async () => {
    const ref = await local().provision(spec);
    expect(await local().getState(ref)).toBeNull();
  });

  it("refuses a state file it cannot read", async () => {
    const stateFile = path.join(dir, "machines.json");
    writeFileSync(stateFile, "{ not json");
    await expect(local({ stateFile }).provision(spec)).rejects.toMatchObject({ code: "local_state_unreadable", retryable: false });
    expect(readFileSync(stateFile, "utf8")).toBe("{ not json");
  });
});

describe("LocalProvider fault injection", () => {
  it("failNext makes the next calls of a method throw the given error, without side effects", async () => {
    const p = local({ delayMs: 0 });
    const ref = await p.provision(spec);
    await p.stop(ref);
    const boom = new ComputeError("fly_capacity", "no capacity in fra", { retryable: true, status: 412 });
    p.failNext("start", boom, 2);

    await expect(p.start(ref)).rejects.toBe(boom);
    await expect(p.start(ref)).rejects.toBe(boom);
    expect(await p.getState(ref)).toBe("stopped");
    await p.start(ref);
    expect(await p.getState(ref)).toBe("started");
  });

  it("faults are per method", async () => {
    const p = local({ delayMs: 0 });
    p.failNext("provision", new ComputeError("fly_unavailable", "503", { retryable: true }));
    await expect(p.provision(spec)).rejects.toMatchObject({ code: "fly_unavailable" });
    const ref = await p.provision(spec);
    p.failNext("checkHealth", new ComputeError("x", "health probe exploded", { retryable: true }));
    await expect(p.checkHealth(ref)).rejects.toThrow("health probe exploded");
    expect(await p.checkHealth(ref)).toMatchObject({ healthy: true });
  });
});

describe("LocalProvider volumes: real folders, snapshots as copies", () => {
  const DAY_MS = 86_400_000;
  const read = (folder: string, file: string) => readFileSync(path.join(folder, file), "utf8");

  it("gives each machine a data folder holding its config files; a snapshot copies it and a restore brings the copy back", async () => {
    const p = local({ dataDir: dir, stateFile: path.join(dir, "machines.json") });
    const ref = await p.provision({ ...spec, backupRetentionDays: 7 });
    const folder = p.volumeFolder(ref.volumeId!);
    expect(folder).toBe(path.join(dir, "volumes", ref.volumeId!));
    expect(read(folder, "openclaw.json")).toBe("{}");
    writeFileSync(path.join(folder, "memory.md"), "v1");

    const { id } = await p.createSnapshot(ref, ref.volumeId!, []);
    expect((await p.listSnapshots(ref, ref.volumeId!))!.map((s) => [s.id, s.status, s.retentionDays])).toEqual([[id, "creating", 7]]);
    now += 1000;
    const [snap] = (await p.listSnapshots(ref, ref.volumeId!))!;
    expect(snap).toMatchObject({ id, status: "ready", sizeBytes: "{}".length + "v1".length });
    // A retried createSnapshot finds the one it made.
    expect(await p.createSnapshot(ref, ref.volumeId!, [])).toEqual({ id });

    writeFileSync(path.join(folder, "memory.md"), "v2");
    const restored = await p.restoreVolume(ref, { snapshotId: id!, tag: "op_1", backupRetentionDays: 7 });
    expect(await p.restoreVolume(ref, { snapshotId: id!, tag: "op_1", backupRetentionDays: 7 })).toBe(restored);
    await p.mountVolume(ref, restored);
    expect(await p.getState(ref)).toBe("started");
    expect(read(p.volumeFolder(restored), "memory.md")).toBe("v1");
    // A mounted volume cannot be destroyed; the one left can, and its snapshot stays.
    await expect(p.destroyVolume(ref, restored)).rejects.toMatchObject({ code: "local_volume_attached" });
    await p.destroyVolume(ref, ref.volumeId!);
    expect(readdirSync(path.join(dir, "volumes"))).toEqual([restored]);
    expect((await p.listSnapshots(ref, ref.volumeId!))!.map((s) => s.id)).toEqual([id]);

    // Another provider on the same DATA_DIR sees it all (the simulated machines outlive a restart).
    const again = local({ dataDir: dir, stateFile: path.join(dir, "machines.json") });
    expect((await again.listSnapshots(ref, ref.volumeId!))!.map((s) => s.id)).toEqual([id]);
  });

  it("takes a daily snapshot by itself, and deletes snapshots past the volume's retention", async () => {
    const p = local({ dataDir: dir });
    const ref = await p.provision({ ...spec, backupRetentionDays: 2 });
    expect(await p.listSnapshots(ref, ref.volumeId!)).toEqual([]);
    now += DAY_MS;
    const [daily] = (await p.listSnapshots(ref, ref.volumeId!))!;
    expect(daily!.createdAt).toBe(new Date(now).toISOString());
    await p.setBackupRetention(ref, ref.volumeId!, 30); // applies to snapshots from now on
    now += DAY_MS;
    const two = (await p.listSnapshots(ref, ref.volumeId!))!;
    expect(two.map((s) => s.retentionDays)).toEqual([2, 30]);
    now += DAY_MS; // the first is 2 days old: gone, with its folder
    expect((await p.listSnapshots(ref, ref.volumeId!))!.map((s) => s.retentionDays)).toEqual([30, 30]);
    expect(readdirSync(path.join(dir, "snapshots"))).not.toContain(daily!.id);
    expect(await p.listSnapshots(ref, "vol_unknown")).toBeNull();
  });

  it("without a data dir the folders live in a temporary folder; destroying the instance removes its volumes and snapshots", async () => {
    const p = local();
    const ref = await p.provision(spec);
    const folder = p.volumeFolder(ref.volumeId!);
    expect(folder.startsWith(tmpdir())).toBe(true);
    await p.createSnapshot(ref, ref.volumeId!, []);
    await p.destroy(ref);
    expect(() => readdirSync(folder)).toThrow();
    expect(await p.listSnapshots(ref, ref.volumeId!)).toBeNull();
  });
});
