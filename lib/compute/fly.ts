import { z } from "zod";
import { OPENCLAW_GATEWAY_PORT, OPENCLAW_STATE_DIR } from "../openclaw/runtime";
import { instanceAppName } from "./naming";
import {
  ComputeError,
  MACHINE_STATES,
  type ComputeProvider,
  type HealthResult,
  type MachineRef,
  type MachineState,
  type ProvisionSpec,
  type RenderedConfig,
} from "./types";

/**
 * The Fly.io Machines provider: one Fly app per instance, holding one 1 GB
 * volume, one machine running the pinned OpenClaw image, two public IPs and an
 * ACME certificate for the instance's hostname.
 *
 * Sources for the Fly facts relied on here (paths in superfly/docs and
 * superfly/fly-go): machines/api/{apps,machines,volumes,certificates}-resource,
 * machines/machine-states, flaps/flaps_{apps,machines,machines_wait,
 * ip_assignments,error}.go. OpenClaw's own Fly guide (docs/install/fly.md)
 * gives the process, env, size and volume; its gateway answers /healthz with
 * `{"ok":true,"status":"live"}` (src/gateway/server-http.ts).
 */

export interface FlyProviderOptions {
  token: string;
  /** Fly organization slug that owns every instance app. */
  org: string;
  /** Machines API origin, e.g. "https://api.machines.dev"; a trailing "/v1" is accepted. */
  apiBaseUrl: string;
  /** Pinned OpenClaw image, e.g. "ghcr.io/openclaw/openclaw:2026.11.20". */
  image: string;
  /** Instances answer at `<subdomain>.<instanceDomain>`. */
  instanceDomain: string;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

const MACHINE_NAME = "openclaw";
const VOLUME_NAME = "data";
const VOLUME_SIZE_GB = 1;
/** Machine metadata key naming the instance; how a retried provision finds "its" machine. */
const INSTANCE_METADATA_KEY = "moc_instance_id";
const LEASE_NONCE_HEADER = "fly-machine-lease-nonce";
const LEASE_TTL_SECONDS = 120;
/** Fly's proxy cuts requests at 60 s, so one /wait call asks for at most that (fly-go clamps the same way). */
const MAX_WAIT_SECONDS = 60;
/** How long applyConfig waits for the updated machine version to start (under a serverless step's limit). */
const APPLY_WAIT_MS = 50_000;
/** Pause before asking /wait again when it answered 408 early, so a misbehaving answer cannot make us spin. */
const WAIT_RETRY_PAUSE_MS = 1000;
const REQUEST_TIMEOUT_MS = 30_000;
const HEALTH_TIMEOUT_MS = 10_000;
/** `shared-cpu-2x` with 2 GB, as OpenClaw's Fly guide recommends (512 MB runs out of memory). */
const GUEST = { cpu_kind: "shared", cpus: 2, memory_mb: 2048 } as const;
/** fly.toml's `[processes] app = "..."` becomes `init.cmd` (the image's ENTRYPOINT is kept); we do the same. */
const GATEWAY_CMD = ["node", "dist/index.js", "gateway", "--allow-unconfigured", "--port", String(OPENCLAW_GATEWAY_PORT), "--bind", "lan"];
const PLATFORM_ENV = {
  OPENCLAW_STATE_DIR,
  NODE_OPTIONS: "--max-old-space-size=1536",
} as const;


// Only the fields this provider reads; Fly sends many more, which pass through untouched.
const machineSchema = z.looseObject({
  id: z.string(),
  state: z.string(),
  instance_id: z.string().optional(),
  config: z.looseObject({ env: z.record(z.string(), z.string()).optional() }).optional(),
});
type FlyMachine = z.infer<typeof machineSchema>;
const volumeSchema = z.looseObject({ id: z.string(), name: z.string(), state: z.string(), region: z.string() });
const appSchema = z.looseObject({ organization: z.looseObject({ slug: z.string() }).optional() });
const ipListSchema = z.looseObject({ ips: z.array(z.looseObject({ ip: z.string() })).nullish() });
const leaseSchema = z.looseObject({ data: z.looseObject({ nonce: z.string() }) });

/**
 * Fly's states, mapped onto the interface's. "creating", "restarting" and
 * "launch_failed" are transient names the docs list beside the main ones.
 */
const STATE_ALIASES: Record<string, MachineState> = {
  creating: "created",
  restarting: "starting",
  launch_failed: "failed",
};
const KNOWN_STATES = new Set<string>(MACHINE_STATES);

/**
 * Wording Fly uses when a host or region cannot fit a machine, as seen in
 * production: 412 "insufficient resources to create new machine with existing
 * volume", 409 "aborted: could not reserve resource for machine: insufficient
 * memory available to fulfill request", 400 "no capacity" (volume create),
 * 403 "... over the allowed quota. please consider other regions", and
 * `"status":"insufficient_capacity"` in the body (fly-go's regionOOCapacity).
 * All of them can succeed later, so they are retryable.
 */
const CAPACITY_TEXT = /insufficient (resources|memory|cpu|capacity)|no capacity|out of capacity|could not reserve resource|over the allowed quota/i;

interface FlyResponse {
  method: string;
  path: string;
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

type JsonRecord = Record<string, unknown>;

function isRecord(v: unknown): v is JsonRecord {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function errorText(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : "";
    return `${err.message}${cause}`;
  }
  return String(err);
}

/** The environment a machine runs with: the config's env and secrets, then the platform's own settings, which win. */
function machineEnv(config: RenderedConfig | null, gatewayToken: string): Record<string, string> {
  return {
    ...config?.env,
    ...config?.secrets,
    ...PLATFORM_ENV,
    OPENCLAW_GATEWAY_TOKEN: gatewayToken,
  };
}

function machineFiles(config: RenderedConfig | null): { guest_path: string; raw_value: string }[] {
  return (config?.files ?? []).map((f) => {
    // Fly requires absolute guest paths; catch a bad path here with a clear message.
    if (!f.path.startsWith("/")) {
      throw new ComputeError("invalid_config", `file path must be absolute: ${f.path}`, { retryable: false });
    }
    return { guest_path: f.path, raw_value: Buffer.from(f.content, "utf8").toString("base64") };
  });
}

/** Secret strings that must never appear in an error message (short ones would redact too much). */
function secretValues(config: RenderedConfig | null, gatewayToken: string | undefined): string[] {
  return [...Object.values(config?.secrets ?? {}), gatewayToken ?? ""].filter((s) => s.length >= 6);
}

export class FlyProvider implements ComputeProvider {
  readonly kind = "fly" as const;
  private readonly token: string;
  private readonly org: string;
  private readonly base: string;
  private readonly image: string;
  private readonly instanceDomain: string;
  private readonly fetchImpl: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;

  constructor(opts: FlyProviderOptions) {
    this.token = opts.token;
    this.org = opts.org;
    this.base = `${opts.apiBaseUrl.replace(/\/+$/, "").replace(/\/v1$/, "")}/v1`;
    this.image = opts.image;
    this.instanceDomain = opts.instanceDomain;
    this.fetchImpl = opts.fetch ?? ((input, init) => fetch(input, init));
    this.sleep = opts.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.now = opts.now ?? Date.now;
  }

  async provision(spec: ProvisionSpec): Promise<MachineRef> {
    const app = instanceAppName(spec.instanceId);
    const redact = secretValues(spec.config, spec.gatewayToken);
    await this.ensureApp(app);
    await this.ensureIps(app);
    const volumeId = await this.ensureVolume(app, spec.region);
    await this.ensureCertificate(app, `${spec.subdomain}.${this.instanceDomain}`);
    const found = await this.findInstanceMachine(app, spec.instanceId);
    const machine = found ?? (await this.createMachine(app, volumeId, spec, redact));
    const ref: MachineRef = { appName: app, machineId: machine.id, volumeId, region: spec.region };
    // A new machine boots by itself (no skip_launch). One found by a retried provision may
    // have been stopped since; "created" means it is still launching, so it is left alone.
    if (found && ["stopped", "suspended", "failed"].includes(found.state)) {
      await this.withLease(ref, "start", (nonce) => this.machinePost(ref, "start", nonce));
    }
    return ref;
  }

  async start(ref: MachineRef): Promise<void> {
    const machine = await this.requireMachine(ref);
    if (machine.state === "started" || machine.state === "starting") return;
    await this.withLease(ref, "start", (nonce) => this.machinePost(ref, "start", nonce));
  }

  async stop(ref: MachineRef): Promise<void> {
    const machine = await this.requireMachine(ref);
    if (machine.state === "stopped" || machine.state === "stopping") return;
    await this.withLease(ref, "stop", (nonce) => this.machinePost(ref, "stop", nonce));
  }

  async restart(ref: MachineRef): Promise<void> {
    const machine = await this.requireMachine(ref);
    // Fly restarts only a running machine; a stopped one just needs starting.
    const action = ["created", "stopped", "suspended", "failed"].includes(machine.state) ? "start" : "restart";
    await this.withLease(ref, action, (nonce) => this.machinePost(ref, action, nonce));
  }

  async applyConfig(ref: MachineRef, config: RenderedConfig): Promise<void> {
    const machine = await this.requireMachine(ref);
    const current = machine.config;
    const gatewayToken = current?.env?.OPENCLAW_GATEWAY_TOKEN;
    if (!current || !gatewayToken) {
      throw new ComputeError(
        "fly_machine_config_missing",
        `machine ${ref.machineId} in ${ref.appName} has no config with OPENCLAW_GATEWAY_TOKEN to update`,
        { retryable: false },
      );
    }
    // Fly takes no partial updates: send the whole current config with env and files replaced.
    // Without skip_launch the update reboots the machine (and boots it if it was stopped).
    const next = { ...current, env: machineEnv(config, gatewayToken), files: machineFiles(config) };
    const redact = secretValues(config, gatewayToken);
    const updated = await this.withLease(ref, "update config", async (nonce) => {
      const res = await this.send("POST", this.machinePath(ref), { body: { config: next }, nonce });
      if (res.status !== 200) throw this.fail(res, redact);
      return this.parse(machineSchema, res);
    });
    // Until the new version runs, the machine may still report the old one as "started" (and its
    // /healthz answer): wait for the new instance_id itself, as flyctl does after an update.
    if (!updated.instance_id) return;
    try {
      await this.waitForState(ref, "started", APPLY_WAIT_MS, updated.instance_id);
    } catch (err) {
      // The update went through and the new version crashed on boot (`failed`, or `launch_failed`
      // and gone): the machine has changed, so this is not a refusal of the update. The caller's
      // own wait for "started" reports it, and the caller puts the previous configuration back.
      if (!(err instanceof ComputeError && err.code === "fly_machine_unavailable")) throw err;
    }
  }

  /** `version`: wait for this instance_id (a machine version) to reach the state, not merely the machine. */
  async waitForState(ref: MachineRef, state: "started" | "stopped", timeoutMs: number, version?: string): Promise<void> {
    const deadline = this.now() + timeoutMs;
    let lastState = "unknown";
    for (;;) {
      const machine = await this.requireMachine(ref);
      lastState = machine.state;
      if (machine.state === state && (!version || machine.instance_id === version)) return;
      // `launch_failed` goes on to `destroyed` (https://fly.io/docs/machines/machine-states/).
      if (["destroying", "destroyed", "launch_failed"].includes(machine.state) || (state === "started" && machine.state === "failed")) {
        throw new ComputeError(
          "fly_machine_unavailable",
          `machine ${ref.machineId} in ${ref.appName} is ${machine.state}; it will not become ${state} on its own`,
          { retryable: false },
        );
      }
      const remaining = deadline - this.now();
      if (remaining <= 0) break;
      const seconds = Math.min(MAX_WAIT_SECONDS, Math.max(1, Math.ceil(remaining / 1000)));
      const query = new URLSearchParams({ state, timeout: String(seconds) });
      // Fly requires the version (instance_id) when waiting for "stopped".
      if (version) query.set("instance_id", version);
      else if (state === "stopped" && machine.instance_id) query.set("instance_id", machine.instance_id);
      const asked = this.now();
      const res = await this.send("GET", `${this.machinePath(ref)}/wait?${query}`, {
        timeoutMs: seconds * 1000 + REQUEST_TIMEOUT_MS,
      });
      if (res.status === 200) return;
      // 408 is /wait's "not yet": the state was not reached within `seconds`. Anything else is an error.
      if (res.status !== 408) throw this.fail(res);
      if (this.now() - asked < seconds * 1000) {
        await this.sleep(Math.min(WAIT_RETRY_PAUSE_MS, Math.max(0, deadline - this.now())));
      }
    }
    throw new ComputeError(
      "fly_wait_timeout",
      `machine ${ref.machineId} in ${ref.appName} did not become ${state} within ${timeoutMs} ms (last seen ${lastState})`,
      { retryable: true },
    );
  }

  async checkHealth(ref: MachineRef): Promise<HealthResult> {
    // Through Fly's proxy on the app's own fly.dev name, which needs no DNS or certificate of ours.
    // Never send the Fly token here: this request goes to the customer's machine.
    const url = `https://${ref.appName}.fly.dev/healthz`;
    let res: Response;
    let text: string;
    try {
      res = await this.fetchImpl(url, { headers: { Accept: "application/json" }, signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS) });
      text = await res.text();
    } catch (err) {
      return { healthy: false, detail: `GET ${url} failed: ${errorText(err)}` };
    }
    if (res.status !== 200) return { healthy: false, detail: `GET ${url} answered ${res.status}` };
    let body: unknown = null;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON: a proxy page or another app on the port, never OpenClaw's health answer.
    }
    // OpenClaw's liveness answer is {"ok":true,"status":"live"}; a 200 alone could be anything.
    if (isRecord(body) && body.ok === true && (body.status === undefined || body.status === "live" || body.status === "ok")) {
      return { healthy: true, detail: `healthz ok${typeof body.status === "string" ? ` (${body.status})` : ""}` };
    }
    return { healthy: false, detail: `GET ${url} answered 200 without {"ok":true}: ${text.slice(0, 200)}` };
  }

  async getState(ref: MachineRef): Promise<MachineState | null> {
    const machine = await this.findMachine(ref);
    return machine ? toMachineState(machine.state) : null;
  }

  async destroy(ref: MachineRef): Promise<void> {
    const app = ref.appName;
    // The app is the instance's alone, so everything in it goes; this also clears what a
    // half-finished provision left behind that `ref` does not name.
    const list = await this.send("GET", `/apps/${app}/machines`);
    if (list.status === 404) return; // no app: its machines and volumes went with it
    if (list.status !== 200) throw this.fail(list);
    const machines = this.parse(z.array(machineSchema), list);
    for (const m of machines.filter((m) => m.state !== "destroyed")) {
      const target = { ...ref, machineId: m.id };
      if (m.state !== "destroying") {
        // force: stop it first if it is running.
        const res = await this.send("DELETE", `${this.machinePath(target)}?force=true`);
        if (res.status !== 200 && res.status !== 404) throw this.fail(res);
      }
      // A volume stays attached until its machine is gone; wait for that before deleting volumes.
      const wait = await this.send("GET", `${this.machinePath(target)}/wait?state=destroyed&timeout=${MAX_WAIT_SECONDS}`, {
        timeoutMs: MAX_WAIT_SECONDS * 1000 + REQUEST_TIMEOUT_MS,
      });
      if (wait.status === 408) {
        throw new ComputeError("fly_wait_timeout", `machine ${m.id} in ${app} is not destroyed yet`, { retryable: true, status: 408 });
      }
      if (wait.status !== 200 && wait.status !== 404) throw this.fail(wait);
    }
    const volumes = await this.send("GET", `/apps/${app}/volumes`);
    if (volumes.status === 404) return;
    if (volumes.status !== 200) throw this.fail(volumes);
    for (const v of this.parse(z.array(volumeSchema), volumes).filter(liveVolume)) {
      const res = await this.send("DELETE", `/apps/${app}/volumes/${v.id}`);
      if (res.status !== 200 && res.status !== 404) throw this.fail(res);
    }
    const res = await this.send("DELETE", `/apps/${app}?force=true`);
    if (res.status !== 200 && res.status !== 202 && res.status !== 404) throw this.fail(res);
  }

  // --- provisioning steps: each finds before it creates ---

  private async ensureApp(app: string): Promise<void> {
    if (await this.ownApp(app)) return;
    // `wait=true` makes Fly answer once the app is usable (fly-go's CreateApp does the same);
    // otherwise the next calls can briefly see a 404 for the new app.
    const res = await this.send("POST", "/apps?wait=true", { body: { app_name: app, org_slug: this.org } });
    if (res.status === 200 || res.status === 201) return;
    // Someone (a concurrent retry of this step) may have created it since we looked.
    if (res.status === 422 && (await this.ownApp(app))) return;
    throw this.fail(res);
  }

  /** true if the app exists in our org, false if it does not exist; throws if the name belongs to someone else. */
  private async ownApp(app: string): Promise<boolean> {
    const res = await this.send("GET", `/apps/${app}`);
    if (res.status === 404) return false;
    // App names are global: a 403 means the name is held by an app in an org we cannot see.
    if (res.status === 403) {
      throw new ComputeError("fly_app_name_taken", `Fly app name ${app} is taken by another organization`, { retryable: false, status: 403 });
    }
    if (res.status !== 200) throw this.fail(res);
    const slug = this.parse(appSchema, res).organization?.slug;
    if (slug !== undefined && slug !== this.org) {
      throw new ComputeError("fly_app_name_taken", `Fly app ${app} belongs to org ${slug}, not ${this.org}`, { retryable: false });
    }
    return true;
  }

  /**
   * Machines are unreachable from the internet until the app has an address. A shared
   * IPv4 and a dedicated IPv6 are what `fly deploy` gives a new app, and both are free.
   */
  private async ensureIps(app: string): Promise<void> {
    const res = await this.send("GET", `/apps/${app}/ip_assignments`);
    if (res.status !== 200) throw this.fail(res);
    const ips = this.parse(ipListSchema, res).ips ?? [];
    const hasV4 = ips.some((ip) => ip.ip.includes("."));
    const hasV6 = ips.some((ip) => ip.ip.includes(":") && !ip.ip.startsWith("fdaa:")); // fdaa: is private (Flycast)
    for (const [type, missing] of [["shared_v4", !hasV4], ["v6", !hasV6]] as const) {
      if (!missing) continue;
      const created = await this.send("POST", `/apps/${app}/ip_assignments`, { body: { type } });
      if (created.status !== 200 && created.status !== 201) throw this.fail(created);
    }
  }

  private async ensureVolume(app: string, region: string): Promise<string> {
    const res = await this.send("GET", `/apps/${app}/volumes`);
    if (res.status !== 200) throw this.fail(res);
    const existing = this.parse(z.array(volumeSchema), res).find((v) => v.name === VOLUME_NAME && v.region === region && liveVolume(v));
    if (existing) return existing.id;
    const created = await this.send("POST", `/apps/${app}/volumes`, {
      body: {
        name: VOLUME_NAME,
        region,
        size_gb: VOLUME_SIZE_GB,
        encrypted: true,
        // Tells Fly the machine size to expect, so it places the volume on a host that can also run
        // the machine (volumes pin their machine to one host).
        compute: GUEST,
      },
    });
    if (created.status !== 200 && created.status !== 201) throw this.fail(created);
    return this.parse(volumeSchema, created).id;
  }

  private async ensureCertificate(app: string, hostname: string): Promise<void> {
    const path = `/apps/${app}/certificates`;
    const found = await this.send("GET", `${path}/${encodeURIComponent(hostname)}`);
    if (found.status === 200) return;
    if (found.status !== 404) throw this.fail(found);
    const res = await this.send("POST", `${path}/acme`, { body: { hostname } });
    if (res.status !== 200 && res.status !== 201) throw this.fail(res);
  }

  /** The instance's machine, found by its metadata (a create whose answer was lost still shows up here). */
  private async findInstanceMachine(app: string, instanceId: string): Promise<FlyMachine | undefined> {
    const list = await this.send("GET", `/apps/${app}/machines`);
    if (list.status !== 200) throw this.fail(list);
    return this.parse(z.array(machineSchema), list).find(
      (m) => m.state !== "destroyed" && m.state !== "destroying" && metadataOf(m)[INSTANCE_METADATA_KEY] === instanceId,
    );
  }

  private async createMachine(app: string, volumeId: string, spec: ProvisionSpec, redact: string[]): Promise<FlyMachine> {
    const res = await this.send("POST", `/apps/${app}/machines`, {
      body: { name: MACHINE_NAME, region: spec.region, config: this.machineConfig(spec, volumeId) },
    });
    if (res.status !== 200 && res.status !== 201) throw this.fail(res, redact);
    return this.parse(machineSchema, res);
  }

  private machineConfig(spec: ProvisionSpec, volumeId: string) {
    return {
      image: this.image,
      init: { cmd: GATEWAY_CMD },
      guest: GUEST,
      env: machineEnv(spec.config, spec.gatewayToken),
      files: machineFiles(spec.config),
      mounts: [{ volume: volumeId, path: OPENCLAW_STATE_DIR }],
      services: [
        {
          protocol: "tcp",
          internal_port: OPENCLAW_GATEWAY_PORT,
          // A stopped instance stays stopped until its owner starts it: the proxy must not wake it.
          autostart: false,
          autostop: "off",
          ports: [
            { port: 80, handlers: ["http"], force_https: true },
            { port: 443, handlers: ["tls", "http"] },
          ],
          checks: [
            { type: "http", method: "GET", path: "/healthz", protocol: "http", interval: "15s", timeout: "5s", grace_period: "30s" },
          ],
        },
      ],
      restart: { policy: "always" },
      metadata: { [INSTANCE_METADATA_KEY]: spec.instanceId, moc_subdomain: spec.subdomain },
    };
  }

  // --- machine helpers ---

  private machinePath(ref: MachineRef): string {
    return `/apps/${ref.appName}/machines/${ref.machineId}`;
  }

  private async findMachine(ref: MachineRef): Promise<FlyMachine | null> {
    const res = await this.send("GET", this.machinePath(ref));
    if (res.status === 404) return null;
    if (res.status !== 200) throw this.fail(res);
    return this.parse(machineSchema, res);
  }

  private async requireMachine(ref: MachineRef): Promise<FlyMachine> {
    const machine = await this.findMachine(ref);
    if (!machine) {
      throw new ComputeError("fly_machine_not_found", `machine ${ref.machineId} not found in ${ref.appName}`, { retryable: false, status: 404 });
    }
    return machine;
  }

  private async machinePost(ref: MachineRef, action: "start" | "stop" | "restart", nonce: string): Promise<void> {
    const res = await this.send("POST", `${this.machinePath(ref)}/${action}`, { nonce });
    if (res.status !== 200) throw this.fail(res);
  }

  /**
   * Runs `fn` holding the machine's lease, so no other client (flyctl, another worker)
   * changes the machine meanwhile; Fly refuses changes to a leased machine without the
   * nonce. Released afterwards; if the release fails the lease simply expires after its TTL.
   */
  private async withLease<T>(ref: MachineRef, what: string, fn: (nonce: string) => Promise<T>): Promise<T> {
    const res = await this.send("POST", `${this.machinePath(ref)}/lease`, {
      body: { ttl: LEASE_TTL_SECONDS, description: `myopenclaw control plane: ${what}` },
    });
    // The lease endpoint's 409 always means someone holds the lease (perhaps our own crashed
    // attempt); it frees up when that lease expires.
    if (res.status === 409) {
      const err = this.fail(res);
      throw new ComputeError("fly_lease_conflict", err.message, { retryable: true, status: 409, retryAfterMs: err.retryAfterMs });
    }
    if (res.status !== 200 && res.status !== 201) throw this.fail(res);
    const nonce = this.parse(leaseSchema, res).data.nonce;
    try {
      return await fn(nonce);
    } finally {
      try {
        await this.send("DELETE", `${this.machinePath(ref)}/lease`, { nonce });
      } catch {
        // Network trouble on release: the TTL frees the lease; the work itself is done.
      }
    }
  }

  // --- HTTP ---

  private async send(method: string, path: string, opts: { body?: unknown; nonce?: string; timeoutMs?: number } = {}): Promise<FlyResponse> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.token}`, Accept: "application/json" };
    if (opts.body !== undefined) headers["Content-Type"] = "application/json";
    if (opts.nonce) headers[LEASE_NONCE_HEADER] = opts.nonce;
    try {
      const res = await this.fetchImpl(`${this.base}${path}`, {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal: AbortSignal.timeout(opts.timeoutMs ?? REQUEST_TIMEOUT_MS),
      });
      const text = await res.text();
      let json: unknown = null;
      try {
        json = text === "" ? null : JSON.parse(text);
      } catch {
        // Not JSON (a proxy error page): classified by status, with the text as the message.
      }
      return { method, path, status: res.status, headers: res.headers, text, json };
    } catch (err) {
      throw new ComputeError("fly_network_error", this.redact(`Fly API ${method} ${path} failed: ${errorText(err)}`, []), {
        retryable: true,
        cause: err,
      });
    }
  }

  /** Turns a failed answer into a ComputeError: retryable for 5xx, 408, 429, held leases and capacity; permanent otherwise. */
  private fail(res: FlyResponse, secrets: string[] = []): ComputeError {
    const body = isRecord(res.json) ? res.json : {};
    const flyText =
      (typeof body.error === "string" && body.error) ||
      (typeof body.message === "string" && body.message) ||
      res.text.slice(0, 300) ||
      "no message";
    const message = this.redact(`Fly API ${res.method} ${res.path} failed (${res.status}): ${flyText}`, secrets);
    const retryAfterMs = parseRetryAfter(res.headers.get("retry-after"), this.now());
    const opts = (retryable: boolean) => ({ retryable, status: res.status, retryAfterMs });
    if (body.status === "insufficient_capacity" || CAPACITY_TEXT.test(flyText)) return new ComputeError("fly_capacity", message, opts(true));
    // "aborted: machine ID ... lease currently held by ..., expires at ...": free once it expires.
    if (res.status === 409 && /lease/i.test(flyText)) return new ComputeError("fly_lease_conflict", message, opts(true));
    if (res.status === 429) return new ComputeError("fly_rate_limited", message, opts(true));
    if (res.status === 408) return new ComputeError("fly_timeout", message, opts(true));
    if (res.status >= 500) return new ComputeError("fly_unavailable", message, opts(true));
    if (res.status === 401 || res.status === 403) return new ComputeError("fly_unauthorized", message, opts(false));
    if (res.status === 404) return new ComputeError("fly_not_found", message, opts(false));
    return new ComputeError("fly_rejected", message, opts(false));
  }

  private parse<S extends z.ZodType>(schema: S, res: FlyResponse): z.infer<S> {
    const parsed = schema.safeParse(res.json);
    if (!parsed.success) {
      throw new ComputeError("fly_bad_response", `Fly API ${res.method} ${res.path} answered ${res.status} with an unexpected body`, {
        retryable: true,
        status: res.status,
      });
    }
    return parsed.data;
  }

  private redact(text: string, secrets: string[]): string {
    let out = text;
    for (const s of [this.token, ...secrets]) {
      if (s) out = out.split(s).join("[redacted]");
    }
    return out;
  }
}

function toMachineState(state: string): MachineState {
  const alias = STATE_ALIASES[state];
  if (alias) return alias;
  if (KNOWN_STATES.has(state)) return state as MachineState;
  throw new ComputeError("fly_unknown_state", `Fly reported an unknown machine state: ${state}`, { retryable: true });
}

function metadataOf(m: FlyMachine): Record<string, unknown> {
  const metadata = m.config?.metadata;
  return isRecord(metadata) ? metadata : {};
}

function liveVolume(v: { state: string }): boolean {
  return !/destroy/.test(v.state); // pending_destroy, destroying, destroyed
}

/** Retry-After as delta-seconds or an HTTP date, in ms from now. */
function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
