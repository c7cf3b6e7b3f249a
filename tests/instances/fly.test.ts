import { describe, expect, it } from "vitest";
import type { InstanceStatus, OperationType } from "@/lib/operations/lifecycle";
import { ANTHROPIC_KEY, ANTHROPIC_KEY_2, TELEGRAM_TOKEN } from "../config/fixtures";
import type { FlyRoute } from "../fakes/fly-api";
import { uniqueSubdomain } from "../support/fixtures";
import { FLY_INSTANCE_DOMAIN, FLY_TOKEN, useFlyApi, type Api } from "../support/fly-http";

// The instance lifecycle as a user drives it over HTTP, with INSTANCE_PROVIDER=fly
// against the stateful Fly fake: what the API answers, and what Fly holds after.

const fly = useFlyApi();

const PROVIDER = { provider: "anthropic", model: "claude-sonnet-4-5", api_key: ANTHROPIC_KEY };
const INTEGRATIONS = { telegram: { enabled: true, bot_token: TELEGRAM_TOKEN } };
const AGENTS = { agents: [{ id: "main", name: "Ada", instructions: "Be brief." }] };
const IMAGE = "ghcr.io/openclaw/openclaw:2026.11.20";

/**
 * Every operation a request starts on an existing instance, as one row: how the
 * instance is prepared, the request, where it settles, what the machine is then,
 * and the Fly call that does the work (where a fault is injected). A new operation
 * type is a new row; the tests below run each row through success, a permanent
 * refusal by Fly, a transient Fly failure and (if it boots the machine) a crash on boot.
 */
interface OperationCase {
  type: OperationType;
  from: "running" | "stopped";
  request: (api: Api, id: string) => ReturnType<Api["post"]>;
  /** The instance's status once it succeeded; "deleted": it is gone (404). */
  settles: InstanceStatus | "deleted";
  /** The machine's Fly state once it succeeded; null: no machine left. */
  machine: string | null;
  /** The Fly call that carries the change out. */
  route: FlyRoute;
  /** The instance's status after Fly refused the change for good. */
  afterRefusal: InstanceStatus;
  /** For an operation that boots the machine: the instance's status when the boot crashes (null: it boots nothing). */
  afterCrash: InstanceStatus | null;
}

const OPERATIONS: OperationCase[] = [
  { type: "instance.stop", from: "running", request: (api, id) => api.post(`/api/v1/instances/${id}/stop`), settles: "stopped", machine: "stopped", route: "stopMachine", afterRefusal: "failed", afterCrash: null },
  { type: "instance.start", from: "stopped", request: (api, id) => api.post(`/api/v1/instances/${id}/start`), settles: "running", machine: "started", route: "startMachine", afterRefusal: "failed", afterCrash: "failed" },
  { type: "instance.restart", from: "running", request: (api, id) => api.post(`/api/v1/instances/${id}/restart`), settles: "running", machine: "started", route: "restartMachine", afterRefusal: "failed", afterCrash: "failed" },
  // A configure Fly refuses, or whose new version crashes, leaves the previous configuration running: the instance stays as it was.
  { type: "instance.configure", from: "running", request: (api, id) => api.put(`/api/v1/instances/${id}/provider`, PROVIDER), settles: "running", machine: "started", route: "updateMachine", afterRefusal: "running", afterCrash: "running" },
  { type: "instance.configure", from: "stopped", request: (api, id) => api.put(`/api/v1/instances/${id}/agents`, AGENTS), settles: "stopped", machine: "stopped", route: "updateMachine", afterRefusal: "stopped", afterCrash: "stopped" },
  { type: "instance.delete", from: "running", request: (api, id) => api.delete(`/api/v1/instances/${id}`), settles: "deleted", machine: null, route: "deleteMachine", afterRefusal: "failed", afterCrash: null },
];

const prepare = (c: OperationCase) => (c.from === "running" ? fly.runningInstance() : fly.stoppedInstance());
const name = (c: OperationCase) => `${c.type} from ${c.from}`;

describe.each(OPERATIONS.map((c) => [name(c), c] as const))("%s over HTTP on Fly", (_, c) => {
  it(`succeeds: the instance settles ${c.settles}, the machine is ${c.machine ?? "gone"}`, async () => {
    const { api, id } = await prepare(c);
    const app = await fly.appOf(id);
    const accepted = await c.request(api, id);
    expect(accepted.body).toMatchObject({ type: c.type, status: "pending", instance_id: id });
    const op = await fly.finished(api, accepted);
    expect(op.body, op.text).toMatchObject({ status: "succeeded", error: null });
    expect(fly.fake.requestsTo(c.route)).toHaveLength(1);

    const inst = await api.get(`/api/v1/instances/${id}`);
    if (c.settles === "deleted") {
      expect(inst.status).toBe(404);
      // Nothing of the instance is left on Fly: machine, volume, app (a volume is billed, an app holds its name).
      expect(fly.fake.machinesOf(app)).toEqual([]);
      expect(fly.fake.volumesOf(app)).toEqual([]);
      expect(fly.fake.state.apps.has(app)).toBe(false);
    } else {
      expect(inst.body.status).toBe(c.settles);
      expect((await fly.machineOf(id)).state).toBe(c.machine);
      // Every change to the machine was made under our lease, and the lease was given back.
      expect(fly.fake.requestsTo(c.route)[0]!.nonce).toMatch(/^[0-9a-f]{12}$/);
      expect((await fly.machineOf(id)).lease).toBeNull();
    }
  });

  it(`a permanent refusal by Fly (422 on ${c.route}) fails the operation with Fly's reason; the instance is ${c.afterRefusal}`, async () => {
    const { api, id } = await prepare(c);
    fly.fake.inject(c.route, { kind: "status", status: 422, body: { error: "refused by the test" } });
    const op = await fly.finished(api, await c.request(api, id));
    expect(op.body.status).toBe("failed");
    expect(op.body.error.code).toBe("fly_rejected");
    expect(op.body.error.message).toContain("refused by the test");
    expect(fly.sleeps).toEqual([]); // permanent: not retried
    expect((await api.get(`/api/v1/instances/${id}`)).body.status).toBe(c.afterRefusal);
    expect(op.text).not.toContain(FLY_TOKEN);
  });

  it(`a transient Fly failure (503 on ${c.route}) is retried after a backoff, and the operation succeeds`, async () => {
    const { api, id } = await prepare(c);
    fly.fake.inject(c.route, { kind: "status", status: 503, body: { error: "flaps unavailable" } });
    const op = await fly.finished(api, await c.request(api, id));
    expect(op.body, op.text).toMatchObject({ status: "succeeded", error: null });
    expect(fly.fake.requestsTo(c.route)).toHaveLength(2);
    expect(fly.sleeps).toContain(1000); // the first retry's backoff
    const inst = await api.get(`/api/v1/instances/${id}`);
    expect(c.settles === "deleted" ? inst.status : inst.body.status).toBe(c.settles === "deleted" ? 404 : c.settles);
  });

  // Only for an operation that boots the machine (no skipped tests: a skip is reserved for a missing service).
  if (c.afterCrash) it(`a machine that crashes on boot (Fly: failed) fails the operation with the reason; the instance is ${c.afterCrash}`, async () => {
    const { api, id } = await prepare(c);
    const machine = await fly.machineOf(id);
    const before = structuredClone(machine.config);
    fly.fake.failBoot({ machineId: machine.id }, "failed", 1);
    const op = await fly.finished(api, await c.request(api, id));
    expect(op.body.status).toBe("failed");
    expect(op.body.error.code).toBe("fly_machine_unavailable");
    expect(op.body.error.message).toContain("is failed; it will not become started on its own");
    expect((await api.get(`/api/v1/instances/${id}`)).body.status).toBe(c.afterCrash);
    if (c.type === "instance.configure") {
      // The new version crashed, so the previous configuration was put back on a new version that boots.
      expect(op.body.error.message).toMatch(/The new configuration was not applied; the previous one is still in place\.$/);
      expect(machine.config).toEqual(before);
      expect(machine.versions.map((v) => v.state).slice(-3)).toEqual(["replaced", "replaced", c.afterCrash === "stopped" ? "stopped" : "started"]);
      expect(machine.history).toContain("failed");
    } else {
      expect(machine.state).toBe("failed");
    }
  });
});

describe("an instance's whole life over HTTP on Fly", () => {
  it("create with documents, configure each document, stop, start, restart, delete: each answer matches what Fly holds", async () => {
    const api = await fly.account();
    const subdomain = uniqueSubdomain("flylife");

    const create = await api.post("/api/v1/instances", { subdomain, fly_region: "dfw", name: "On Fly", provider: PROVIDER, integrations: INTEGRATIONS });
    expect(create.headers.get("operation-location")).toBe(`${fly.url}/api/v1/operations/${create.body.id}`);
    const created = await fly.finished(api, create);
    expect(created.body).toMatchObject({ type: "instance.create", status: "succeeded", error: null });
    const id = created.body.instance_id as string;
    const app = await fly.appOf(id);

    const inst = await api.get(`/api/v1/instances/${subdomain}`);
    expect(inst.body).toMatchObject({ id, subdomain, name: "On Fly", status: "running", fly_region: "dfw", url: `https://${subdomain}.${FLY_INSTANCE_DOMAIN}` });
    // Fly holds an app in our org, two public IPs, a 1 GB volume in dfw, a certificate for the URL, one started machine.
    expect(fly.fake.state.apps.get(app)).toMatchObject({ org: "personal" });
    expect(fly.fake.state.ips.filter((ip) => ip.app === app).map((ip) => ip.type).sort()).toEqual(["shared_v4", "v6"]);
    expect(fly.fake.volumesOf(app)).toEqual([expect.objectContaining({ region: "dfw", sizeGb: 1 })]);
    expect(fly.fake.state.certificates.filter((c) => c.app === app).map((c) => c.hostname)).toEqual([`${subdomain}.${FLY_INSTANCE_DOMAIN}`]);
    let m = await fly.machineOf(id);
    expect(m).toMatchObject({ region: "dfw", state: "started" });
    expect(m.config.image).toBe(IMAGE);
    const env = () => m.config.env as Record<string, string>;
    expect(env()).toMatchObject({ ANTHROPIC_API_KEY: ANTHROPIC_KEY, TELEGRAM_BOT_TOKEN: TELEGRAM_TOKEN });
    expect(fly.fake.requestsTo("healthz").length).toBeGreaterThan(0);

    // Each document PUT is an update of the machine: a new version, started.
    for (const [kind, body, check] of [
      ["provider", { ...PROVIDER, api_key: ANTHROPIC_KEY_2 }, () => expect(env().ANTHROPIC_API_KEY).toBe(ANTHROPIC_KEY_2)],
      ["integrations", { telegram: { enabled: false } }, () => expect(env().TELEGRAM_BOT_TOKEN).toBeUndefined()],
      ["agents", AGENTS, () => expect(Buffer.from((m.config.files as { guest_path: string; raw_value: string }[]).find((f) => f.guest_path === "/data/workspace-main/SOUL.md")!.raw_value, "base64").toString()).toBe("Be brief.\n")],
    ] as const) {
      const versions = m.versions.length;
      const op = await fly.finished(api, await api.put(`/api/v1/instances/${id}/${kind}`, body));
      expect(op.body, `${kind}: ${op.text}`).toMatchObject({ type: "instance.configure", status: "succeeded" });
      m = await fly.machineOf(id);
      expect(m.versions.slice(versions - 1).map((v) => v.state), kind).toEqual(["replaced", "started"]);
      check();
    }
    expect((await api.get(`/api/v1/instances/${id}/provider`)).body).toEqual({ provider: "anthropic", model: "claude-sonnet-4-5", api_key: { set: true, last4: "AnT2" } });

    for (const [action, status, state] of [["stop", "stopped", "stopped"], ["start", "running", "started"], ["restart", "running", "started"]] as const) {
      const op = await fly.finished(api, await api.post(`/api/v1/instances/${id}/${action}`));
      expect(op.body, `${action}: ${op.text}`).toMatchObject({ type: `instance.${action}`, status: "succeeded" });
      expect((await api.get(`/api/v1/instances/${id}`)).body.status, action).toBe(status);
      expect((await fly.machineOf(id)).state, action).toBe(state);
    }

    const del = await fly.finished(api, await api.delete(`/api/v1/instances/${id}`));
    expect(del.body).toMatchObject({ type: "instance.delete", status: "succeeded" });
    expect((await api.get(`/api/v1/instances/${id}`)).status).toBe(404);
    expect(fly.fake.state.apps.has(app)).toBe(false);
    expect(fly.fake.volumesOf(app)).toEqual([]);

    const history = await api.get(`/api/v1/operations?instance_id=${id}`);
    expect(history.body.map((o: { type: string; status: string }) => `${o.type} ${o.status}`)).toEqual([
      "instance.delete succeeded",
      "instance.restart succeeded",
      "instance.start succeeded",
      "instance.stop succeeded",
      "instance.configure succeeded",
      "instance.configure succeeded",
      "instance.configure succeeded",
      "instance.create succeeded",
    ]);
  });
});

describe("creating an instance over HTTP on Fly", () => {
  it("no capacity at first (Fly's 412) is retried until Fly has room; one app, one volume, one machine", async () => {
    const api = await fly.account();
    fly.fake.inject("createMachine", { kind: "capacity", variant: "volume_host" }, 2);
    const op = await fly.finished(api, await api.post("/api/v1/instances", { subdomain: uniqueSubdomain("cap") }));
    expect(op.body, op.text).toMatchObject({ status: "succeeded", error: null });
    expect(fly.sleeps).toEqual([1000, 2000]);
    const app = await fly.appOf(op.body.instance_id);
    expect(fly.fake.requestsTo("createMachine")).toHaveLength(3);
    expect(fly.fake.requestsTo("createApp")).toHaveLength(1);
    expect(fly.fake.volumesOf(app)).toHaveLength(1);
    expect(fly.fake.machinesOf(app)).toHaveLength(1);
  });

  it("Fly's 429 is retried no sooner than its Retry-After", async () => {
    const api = await fly.account();
    fly.fake.inject("createVolume", { kind: "rate_limit", retryAfterSeconds: 30 });
    const op = await fly.finished(api, await api.post("/api/v1/instances", { subdomain: uniqueSubdomain("429") }));
    expect(op.body.status).toBe("succeeded");
    expect(fly.sleeps).toHaveLength(1);
    expect(fly.sleeps[0]).toBeGreaterThanOrEqual(30_000);
  });

  it("an image that crashes on boot (Fly: failed) fails the create; deleting the instance then removes everything from Fly", async () => {
    const api = await fly.account();
    fly.fake.failBoot({ image: IMAGE }, "failed");
    const op = await fly.finished(api, await api.post("/api/v1/instances", { subdomain: uniqueSubdomain("crash") }));
    expect(op.body.status).toBe("failed");
    expect(op.body.error).toEqual({ code: "fly_machine_unavailable", message: expect.stringContaining("is failed; it will not become started on its own") });
    const id = op.body.instance_id as string;
    expect((await api.get(`/api/v1/instances/${id}`)).body.status).toBe("failed");
    const app = await fly.appOf(id);
    expect((await fly.machineOf(id)).state).toBe("failed");

    const del = await fly.finished(api, await api.delete(`/api/v1/instances/${id}`));
    expect(del.body.status).toBe("succeeded");
    expect(fly.fake.state.apps.has(app)).toBe(false);
    expect(fly.fake.volumesOf(app)).toEqual([]);
  });

  it("a machine whose launch fails (Fly: launch_failed, then destroyed) fails the create; deleting cleans up", async () => {
    const api = await fly.account();
    fly.fake.failBoot({ image: IMAGE }, "launch_failed");
    const op = await fly.finished(api, await api.post("/api/v1/instances", { subdomain: uniqueSubdomain("nolaunch") }));
    expect(op.body.status).toBe("failed");
    expect(op.body.error.code).toBe("fly_machine_unavailable");
    const id = op.body.instance_id as string;
    const app = await fly.appOf(id);
    expect(fly.fake.machinesOf(app)).toEqual([]); // destroyed by Fly
    const del = await fly.finished(api, await api.delete(`/api/v1/instances/${id}`));
    expect(del.body.status).toBe("succeeded");
    expect(fly.fake.state.apps.has(app)).toBe(false);
  });

  it("a failed instance whose machine crashed is started again once the machine boots", async () => {
    const { api, id } = await fly.stoppedInstance();
    fly.fake.failBoot({ machineId: (await fly.machineOf(id)).id }, "failed", 1);
    expect((await fly.finished(api, await api.post(`/api/v1/instances/${id}/start`))).body.status).toBe("failed");
    expect((await api.get(`/api/v1/instances/${id}`)).body.status).toBe("failed");
    const again = await fly.finished(api, await api.post(`/api/v1/instances/${id}/start`));
    expect(again.body, again.text).toMatchObject({ status: "succeeded", error: null });
    expect((await api.get(`/api/v1/instances/${id}`)).body.status).toBe("running");
    expect((await fly.machineOf(id)).state).toBe("started");
  });
});
