import { describe, expect, it } from "vitest";
import { ANTHROPIC_KEY, ANTHROPIC_KEY_2, TELEGRAM_TOKEN } from "./fixtures";
import type { FakeMachine } from "../fakes/fly-api";
import { useFlyApi } from "../support/fly-http";
import { OPENCLAW_MACHINE } from "../support/openclaw-machine";

// The config documents as a user sends them over HTTP, applied through the Fly
// Machines API (the stateful fake, over msw): the answers the API gives, and the
// machine Fly holds afterwards. Expected values are written out here, not
// computed with the production renderer.

const fly = useFlyApi();

const PROVIDER = { provider: "anthropic", model: "claude-sonnet-4-5", api_key: ANTHROPIC_KEY };
const INTEGRATIONS = { telegram: { enabled: true, bot_token: TELEGRAM_TOKEN } };

interface MachineConfig {
  image: string;
  init: { cmd: string[] };
  guest: unknown;
  env: Record<string, string>;
  files: { guest_path: string; raw_value: string }[];
  mounts: { volume: string; path: string }[];
  services: unknown[];
  metadata: Record<string, string>;
}
const configOf = (m: FakeMachine) => m.config as unknown as MachineConfig;

/** The machine's files as Fly holds them, decoded. */
const filesOf = (m: FakeMachine) =>
  Object.fromEntries(configOf(m).files.map((f) => [f.guest_path, Buffer.from(f.raw_value, "base64").toString("utf8")]));

describe("config documents on Fly, over HTTP", () => {
  it("provisions an instance created with documents: the machine config Fly holds, field by field", async () => {
    const { api, id } = await fly.runningInstance({ provider: PROVIDER, integrations: INTEGRATIONS });
    const m = await fly.machineOf(id);
    const c = configOf(m);
    expect(c.image).toBe("ghcr.io/openclaw/openclaw:2026.11.20");
    expect(c.init.cmd).toEqual(OPENCLAW_MACHINE.cmd);
    expect(c.guest).toEqual(OPENCLAW_MACHINE.guest);
    expect(Object.keys(c.env).sort()).toEqual([
      "ANTHROPIC_API_KEY",
      "NODE_OPTIONS",
      "OPENCLAW_CONFIG_PATH",
      "OPENCLAW_GATEWAY_TOKEN",
      "OPENCLAW_STATE_DIR",
      "TELEGRAM_BOT_TOKEN",
    ]);
    expect(c.env).toMatchObject({
      ANTHROPIC_API_KEY: ANTHROPIC_KEY,
      TELEGRAM_BOT_TOKEN: TELEGRAM_TOKEN,
      OPENCLAW_CONFIG_PATH: "/data/openclaw.json",
      OPENCLAW_STATE_DIR: "/data",
      NODE_OPTIONS: "--max-old-space-size=1536",
    });
    expect(c.env.OPENCLAW_GATEWAY_TOKEN).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(c.mounts).toEqual([{ volume: fly.fake.volumesOf(m.app)[0]!.id, path: "/data" }]);
    expect(c.services).toEqual(OPENCLAW_MACHINE.services);
    expect(c.metadata).toMatchObject({ moc_instance_id: id });
    const files = filesOf(m);
    expect(Object.keys(files).sort()).toEqual(["/data/openclaw.json", "/data/workspace-main/SOUL.md"]);
    // The file names the secrets; their values travel only in the environment.
    const openclaw = JSON.parse(files["/data/openclaw.json"]!);
    expect(openclaw.channels.telegram).toEqual({ enabled: true, botToken: "${TELEGRAM_BOT_TOKEN}" });
    expect(openclaw.agents.defaults.model).toEqual({ primary: "anthropic/claude-sonnet-4-5" });
    expect(files["/data/openclaw.json"]).not.toContain(ANTHROPIC_KEY);
    expect((await api.get(`/api/v1/instances/${id}/provider`)).body.api_key).toEqual({ set: true, last4: "AnT1" });
  });

  it("applies a PUT under a lease as a new machine version; while it runs GET shows the instance updating and the previous document", async () => {
    const { api, id } = await fly.runningInstance({ provider: PROVIDER });
    const m = await fly.machineOf(id);
    const version = m.instanceId;

    // The first update attempt fails transiently; its retry waits (held) so the operation can be seen in flight.
    fly.fake.inject("updateMachine", { kind: "status", status: 503 });
    const hold = fly.holdSleeps();
    const change = await api.put(`/api/v1/instances/${id}/provider`, { ...PROVIDER, model: "claude-opus-4-1", api_key: ANTHROPIC_KEY_2 });
    expect(change.status).toBe(202);
    expect(change.body).toMatchObject({ type: "instance.configure", status: "pending" });
    await expect.poll(() => fly.sleeps.length).toBe(1);
    expect((await api.get(`/api/v1/instances/${id}`)).body.status).toBe("updating");
    const during = await api.get(`/api/v1/operations/${change.body.id}`);
    expect(during.body.status).toBe("running");
    expect(Number(during.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await api.get(`/api/v1/instances/${id}/provider`)).body).toEqual({ provider: "anthropic", model: "claude-sonnet-4-5", api_key: { set: true, last4: "AnT1" } });
    expect(configOf(m).env.ANTHROPIC_API_KEY).toBe(ANTHROPIC_KEY);
    hold.release();

    const op = await fly.finished(api, change);
    expect(op.body).toMatchObject({ status: "succeeded", error: null });
    expect((await api.get(`/api/v1/instances/${id}`)).body.status).toBe("running");
    expect((await api.get(`/api/v1/instances/${id}/provider`)).body).toEqual({ provider: "anthropic", model: "claude-opus-4-1", api_key: { set: true, last4: "AnT2" } });
    expect(configOf(m).env.ANTHROPIC_API_KEY).toBe(ANTHROPIC_KEY_2);
    expect(JSON.parse(filesOf(m)["/data/openclaw.json"]!).agents.defaults.model).toEqual({ primary: "anthropic/claude-opus-4-1" });
    expect(m.versions.map((v) => [v.instanceId, v.state])).toEqual([[version, "replaced"], [m.instanceId, "started"]]);
    const updates = fly.fake.requestsTo("updateMachine");
    expect(updates).toHaveLength(2);
    expect(updates[1]!.nonce).toMatch(/^[0-9a-f]{12}$/);
    expect(m.lease).toBeNull();
  });

  it("a permanent refusal by Fly leaves the old configuration on the machine and in GET, and nothing is rolled back", async () => {
    const { api, id } = await fly.runningInstance({ provider: PROVIDER });
    const m = await fly.machineOf(id);
    const before = structuredClone(m.config);
    fly.fake.inject("updateMachine", { kind: "status", status: 422, body: { error: "invalid machine config: files too large" } });

    const op = await fly.finished(api, await api.put(`/api/v1/instances/${id}/integrations`, INTEGRATIONS));
    expect(op.body.status).toBe("failed");
    expect(op.body.error).toEqual({
      code: "fly_rejected",
      message: expect.stringMatching(/invalid machine config: files too large.*The new configuration was not applied; the previous one is still in place\.$/),
    });
    expect(m.config).toEqual(before);
    expect(fly.fake.requestsTo("updateMachine")).toHaveLength(1); // nothing changed, so nothing to roll back
    expect(m.state).toBe("started");
    expect((await api.get(`/api/v1/instances/${id}/integrations`)).body.telegram.enabled).toBe(false);
    expect((await api.get(`/api/v1/instances/${id}`)).body.status).toBe("running");
  });

  it("a configuration the machine never becomes healthy with is rolled back to the previous one", async () => {
    const { api, id } = await fly.runningInstance({ provider: PROVIDER });
    const m = await fly.machineOf(id);
    const before = structuredClone(m.config);
    // Every health check of the new configuration fails; the restored one answers again.
    fly.fake.inject("healthz", { kind: "status", status: 503, body: { error: "gateway crashed" } }, 10);

    const op = await fly.finished(api, await api.put(`/api/v1/instances/${id}/integrations`, INTEGRATIONS));
    expect(op.body.status).toBe("failed");
    expect(op.body.error.code).toBe("instance_unhealthy");
    expect(op.body.error.message).toMatch(/^The assistant did not become healthy: .*answered 503\. The new configuration was not applied; the previous one is still in place\.$/);
    // Nine 3 s pauses between the ten checks, on the fake's clock.
    expect(fly.sleeps).toEqual(Array(9).fill(3000));
    expect(fly.fake.requestsTo("updateMachine")).toHaveLength(2); // the new configuration, then the previous one again
    expect(m.config).toEqual(before);
    expect(m.state).toBe("started");
    expect((await api.get(`/api/v1/instances/${id}/integrations`)).body.telegram.enabled).toBe(false);
    expect((await api.get(`/api/v1/instances/${id}`)).body.status).toBe("running");
  });

  it("an instance whose previous configuration cannot be restored either is marked failed, with both reasons", async () => {
    const { api, id } = await fly.runningInstance({ provider: PROVIDER });
    fly.fake.inject("healthz", { kind: "status", status: 503, body: { error: "gateway crashed" } }, 20);
    const op = await fly.finished(api, await api.put(`/api/v1/instances/${id}/integrations`, INTEGRATIONS));
    expect(op.body.status).toBe("failed");
    expect(op.body.error.code).toBe("instance_unhealthy");
    expect(op.body.error.message).toContain("Restoring the previous configuration failed too");
    expect((await api.get(`/api/v1/instances/${id}`)).body.status).toBe("failed");
    expect((await api.get(`/api/v1/instances/${id}/integrations`)).body.telegram.enabled).toBe(false);
  });

  it("configures a stopped instance: a new version boots to check the configuration, then it is stopped again", async () => {
    const { api, id } = await fly.stoppedInstance({ provider: PROVIDER });
    const m = await fly.machineOf(id);
    expect(m.state).toBe("stopped");
    const seen = m.history.length;
    const checks = fly.fake.requestsTo("healthz").length;

    const op = await fly.finished(api, await api.put(`/api/v1/instances/${id}/integrations`, INTEGRATIONS));
    expect(op.body).toMatchObject({ status: "succeeded", error: null });
    // The update replaces the stopped version with a new one, which boots (as Fly does), is checked, then stopped.
    expect(m.history.slice(seen)).toEqual(["replacing", "starting", "started", "stopping", "stopped"]);
    expect(m.versions.map((v) => v.state)).toEqual(["replaced", "stopped"]);
    expect(fly.fake.requestsTo("healthz").length).toBeGreaterThan(checks);
    expect((await api.get(`/api/v1/instances/${id}`)).body.status).toBe("stopped");
    expect(configOf(m).env.TELEGRAM_BOT_TOKEN).toBe(TELEGRAM_TOKEN);
    expect((await api.get(`/api/v1/instances/${id}/integrations`)).body.telegram).toEqual({ enabled: true, bot_token: { set: true, last4: "Tg42" } });
  });
});
