import { http, HttpResponse, type HttpHandler, type JsonBodyType } from "msw";

/**
 * A stateful fake of the Fly Machines API (https://api.machines.dev/v1) as msw
 * handlers: apps, IP assignments, volumes, machines, leases, certificates, the
 * `/wait` endpoint, and each app's public `https://<app>.fly.dev/healthz`.
 *
 * Time is fake. Machines move through Fly's states on a schedule measured on
 * `clock`; nothing moves until the clock does. `/wait?timeout=N` behaves like
 * Fly's: it holds the request (advances the clock) until the state is reached
 * and answers 200, or advances N seconds and answers 408.
 *
 * Fault injection: `inject(route, fault, times)` makes the next `times` calls
 * of a route answer a 5xx, 408, 429 with Retry-After, one of Fly's real
 * capacity errors, a network failure, or succeed but lose the answer.
 * `failBoot(match, as)` makes machines (by id) or images crash on boot, ending
 * in `failed` or `launch_failed` as Fly reports it.
 *
 * State rules, from https://fly.io/docs/machines/machine-states/ ("states")
 * and https://fly.io/docs/machines/api/machines-resource/ ("API"):
 * - create boots the machine unless `skip_launch` (API, "Create a Machine"):
 *   created -> starting -> started;
 * - an update makes a new machine version (a new `instance_id`); the previous
 *   version is marked `replaced`, a terminal state, and the new one becomes the
 *   active version and starts, a stopped machine included, unless `skip_launch`
 *   (states, "Update and versioning behavior"; API, "Update a Machine": "If the
 *   Machine is running ... it will reboot"). While it happens the machine is
 *   `replacing` ("User-initiated configuration change ... in progress"). The new
 *   version never passes through `stopping`/`stopped`: only the old one shuts down;
 * - a boot that fails ends in `failed` (persistent: "could not start
 *   successfully"; it can be started, stopped or destroyed again) or in
 *   `launch_failed`, which "will transition to destroyed" (states);
 * - stop: stopping -> stopped; restart stops and starts the same version (flyctl's
 *   `machine restart` takes the stop signal and kill timeout); destroy:
 *   destroying -> destroyed, refused unless stopped (or failed) without `force`;
 * - `/wait` waits for `started`, `stopped` or `destroyed`, needs `instance_id`
 *   (the version) for `stopped`, and answers 408 when the timeout passes (API,
 *   "Wait for a Machine to reach a specified state");
 * - changes to a leased machine need the lease's nonce in `fly-machine-lease-nonce`
 *   (API, "Update a Machine" request headers, "Create a Machine lease").
 *
 * Error bodies are `{"error": "..."}` as Fly sends them. The capacity and
 * lease-conflict texts are Fly's real wording; the other messages are
 * approximations (marked), since only their status codes matter to callers.
 * The fake is deliberately strict where Fly's docs state a rule (absolute file
 * paths, memory in multiples of 256 MB, instance_id when waiting for
 * "stopped", a lease nonce for changes to a leased machine).
 */

export interface FlyFakeTimings {
  /** created -> starting after a create */
  launchMs: number;
  /** starting -> started */
  bootMs: number;
  /** stopping -> stopped */
  stopMs: number;
  /** destroying -> destroyed */
  destroyMs: number;
}

export interface FlyFakeOptions {
  token?: string;
  apiBaseUrl?: string;
  /** Organizations the token belongs to; apps in any other org answer 403. */
  orgs?: string[];
  timings?: Partial<FlyFakeTimings>;
}

export type FlyRoute =
  | "createApp" | "getApp" | "deleteApp"
  | "listIps" | "assignIp"
  | "listVolumes" | "createVolume" | "deleteVolume"
  | "listMachines" | "createMachine" | "getMachine" | "updateMachine"
  | "startMachine" | "stopMachine" | "restartMachine" | "deleteMachine" | "wait"
  | "acquireLease" | "releaseLease"
  | "getCertificate" | "createCertificate"
  | "healthz";

export type CapacityVariant = "volume_host" | "memory" | "no_capacity" | "out_of_capacity" | "quota";

export type FlyFault =
  | { kind: "status"; status: number; body?: JsonBodyType; headers?: Record<string, string> }
  | { kind: "timeout" }
  | { kind: "rate_limit"; retryAfterSeconds?: number }
  | { kind: "capacity"; variant?: CapacityVariant }
  /** fetch rejects: nothing reached Fly */
  | { kind: "network" }
  /** Fly did the work, then the connection dropped before the answer arrived */
  | { kind: "lost_response" };

/** Fly's own capacity answers, as seen in production (status and body). */
export const CAPACITY_ERRORS: Record<CapacityVariant, { status: number; body: Record<string, string> }> = {
  volume_host: { status: 412, body: { error: "insufficient resources to create new machine with existing volume" } },
  memory: { status: 409, body: { error: "aborted: could not reserve resource for machine: insufficient memory available to fulfill request" } },
  no_capacity: { status: 400, body: { error: "no capacity" } },
  out_of_capacity: { status: 503, body: { error: "out of capacity", status: "insufficient_capacity" } },
  quota: {
    status: 403,
    body: { error: 'organization "acme" is using 1970176 MB of memory in iad which is over the allowed quota. please consider other regions' },
  },
};

type Json = Record<string, unknown>;

export interface FakeApp { name: string; org: string; id: string }
export interface FakeIp { app: string; ip: string; type: string }
export interface FakeVolume {
  id: string;
  app: string;
  name: string;
  region: string;
  sizeGb: number;
  encrypted: boolean;
  compute: unknown;
  state: "created" | "destroyed";
  attachedMachineId: string | null;
}
export interface FakeLease { nonce: string; expiresAt: number; description: string }
export interface FakeMachine {
  id: string;
  app: string;
  name: string;
  region: string;
  state: string;
  instanceId: string;
  config: Json;
  /** Scheduled transitions, oldest first. */
  pending: { state: string; at: number }[];
  lease: FakeLease | null;
  /** Every state the machine has been in, in order. */
  history: string[];
  /** Every version (instance_id) the machine has had, oldest first, with the state of each. */
  versions: FakeVersion[];
}
export interface FakeVersion {
  instanceId: string;
  image: string;
  /** The version's own state: an old version ends `replaced`; the active one follows the machine. */
  state: string;
}
/** How a boot fails on Fly: `failed` stays until acted on; `launch_failed` goes on to `destroyed`. */
export type BootFailure = "failed" | "launch_failed";
/** Which boots fail: those of one machine, or of any machine running one image. */
export type BootMatch = { machineId: string } | { image: string };
export interface FakeCertificate { app: string; hostname: string; status: string }
export interface RecordedRequest {
  route: FlyRoute;
  method: string;
  path: string;
  nonce: string | null;
  body: unknown;
}

export interface FlyFakeState {
  apps: Map<string, FakeApp>;
  ips: FakeIp[];
  volumes: Map<string, FakeVolume>;
  machines: Map<string, FakeMachine>;
  certificates: FakeCertificate[];
  /** Every API call that passed authentication, in order (faults included). */
  requests: RecordedRequest[];
  /** Overrides of an app's /healthz answer. */
  health: Map<string, { status: number; body: JsonBodyType }>;
}

const DEFAULT_TIMINGS: FlyFakeTimings = { launchMs: 500, bootMs: 3000, stopMs: 2000, destroyMs: 1000 };
const LEASE_OWNER = "ci@tokens.fly.io";
const OTHER_OWNER = "someone-else@tokens.fly.io";

export function createFlyFake(opts: FlyFakeOptions = {}) {
  const token = opts.token ?? "fly-test-token";
  const v1 = `${(opts.apiBaseUrl ?? "https://api.machines.dev").replace(/\/+$/, "")}/v1`;
  const orgs = new Set(opts.orgs ?? ["personal"]);
  const timings: FlyFakeTimings = { ...DEFAULT_TIMINGS, ...opts.timings };
  let now = Date.UTC(2026, 0, 1);
  let seq = 0;
  const nextId = (width: number) => (++seq).toString(16).padStart(width, "0");
  const faults = new Map<FlyRoute, FlyFault[]>();
  const bootFailures: { match: BootMatch; as: BootFailure; times: number }[] = [];

  const state: FlyFakeState = {
    apps: new Map(),
    ips: [],
    volumes: new Map(),
    machines: new Map(),
    certificates: [],
    requests: [],
    health: new Map(),
  };

  const clock = {
    now: () => now,
    advance(ms: number) {
      now += ms;
      settle();
    },
  };

  function settle() {
    for (const m of state.machines.values()) {
      while (m.pending[0] && m.pending[0].at <= now) {
        enter(m, m.pending[0].state);
        m.pending.shift();
      }
    }
  }

  function enter(m: FakeMachine, s: string) {
    m.state = s;
    m.history.push(s);
    if (s !== "replacing") m.versions.at(-1)!.state = s;
    if (s === "destroyed") {
      for (const v of state.volumes.values()) if (v.attachedMachineId === m.id) v.attachedMachineId = null;
      m.lease = null;
    }
  }

  /** The first state now, each next one after its delay. */
  function schedule(m: FakeMachine, steps: [string, number][]) {
    let at = now;
    m.pending = steps.map(([s, delay]) => ({ state: s, at: (at += delay) }));
    settle();
  }

  /**
   * How the active version boots, `delay` ms from now: starting, then started after
   * `bootMs`; or, when a `failBoot` rule matches, `failed` (it stays) or
   * `launch_failed` (then destroyed, which frees its volume).
   */
  function boot(m: FakeMachine, delay: number): [string, number][] {
    const rule = bootFailures.find(
      (r) => r.times > 0 && ("machineId" in r.match ? r.match.machineId === m.id : r.match.image === m.config.image),
    );
    if (!rule) return [["starting", delay], ["started", timings.bootMs]];
    rule.times--;
    if (rule.as === "launch_failed") return [["launch_failed", delay], ["destroyed", timings.destroyMs]];
    return [["starting", delay], ["failed", timings.bootMs]];
  }

  const error = (status: number, message: string, extra: Json = {}) => HttpResponse.json({ error: message, ...extra }, { status });
  const notFound = (what: string) => error(404, `${what} not found`); // approximate wording

  function faultResponse(fault: Exclude<FlyFault, { kind: "lost_response" }>): Response {
    switch (fault.kind) {
      case "status":
        return HttpResponse.json(fault.body ?? { error: `injected ${fault.status}` }, { status: fault.status, headers: fault.headers });
      case "timeout":
        return error(408, "request timed out");
      case "rate_limit":
        return HttpResponse.json(
          { error: "rate limit exceeded" }, // approximate wording
          { status: 429, headers: { "Retry-After": String(fault.retryAfterSeconds ?? 5) } },
        );
      case "capacity": {
        const c = CAPACITY_ERRORS[fault.variant ?? "volume_host"];
        return HttpResponse.json(c.body, { status: c.status });
      }
      case "network":
        return HttpResponse.error();
    }
  }

  type Resolver = (req: { request: Request; params: Record<string, string>; url: URL; body: unknown; nonce: string | null }) =>
    Response | Promise<Response>;

  /** Authentication, recording and fault injection around one API route. */
  function route(route: FlyRoute, resolver: Resolver) {
    return async ({ request, params }: { request: Request; params: Record<string, string | readonly string[] | undefined> }) => {
      if (request.headers.get("authorization") !== `Bearer ${token}`) return error(401, "unauthorized"); // approximate wording
      const url = new URL(request.url);
      const text = request.method === "GET" || request.method === "HEAD" ? "" : await request.text();
      let body: unknown = undefined;
      if (text) {
        try {
          body = JSON.parse(text);
        } catch {
          return error(400, "invalid JSON body");
        }
      }
      const nonce = request.headers.get("fly-machine-lease-nonce");
      state.requests.push({ route, method: request.method, path: url.pathname + url.search, nonce, body });
      settle();
      const p = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, decodeURIComponent(String(v))]));
      const fault = faults.get(route)?.shift();
      if (fault && fault.kind !== "lost_response") return faultResponse(fault);
      const res = await resolver({ request, params: p, url, body, nonce });
      return fault ? HttpResponse.error() : res;
    };
  }

  // --- model helpers ---

  function visibleApp(name: string): FakeApp | Response {
    const app = state.apps.get(name);
    if (!app) return notFound("app");
    if (!orgs.has(app.org)) return error(403, "unauthorized"); // names are global; others' apps are refused, not hidden
    return app;
  }

  function machineIn(appName: string, id: string): FakeMachine | Response {
    const app = visibleApp(appName);
    if (app instanceof Response) return app;
    const m = state.machines.get(id);
    return m && m.app === appName ? m : notFound("machine");
  }

  function activeLease(m: FakeMachine): FakeLease | null {
    return m.lease && m.lease.expiresAt > now ? m.lease : null;
  }

  /** Fly refuses changes to a leased machine unless the request carries the lease's nonce. */
  function leaseConflict(m: FakeMachine, nonce: string | null): Response | null {
    const lease = activeLease(m);
    if (!lease || lease.nonce === nonce) return null;
    return error(409, `aborted: machine ID ${m.id} lease currently held by ${OTHER_OWNER}, expires at ${new Date(lease.expiresAt).toISOString()}`);
  }

  function machineJson(m: FakeMachine): Json {
    const lease = activeLease(m);
    return {
      id: m.id,
      name: m.name,
      state: m.state,
      region: m.region,
      instance_id: m.instanceId,
      private_ip: `fdaa:0:1:a7b:1:${m.id.slice(-4)}::2`,
      config: structuredClone(m.config),
      created_at: new Date(now).toISOString(),
      updated_at: new Date(now).toISOString(),
      events: [],
      ...(lease ? { nonce: lease.nonce } : {}),
    };
  }

  function volumeJson(v: FakeVolume): Json {
    return {
      id: v.id,
      name: v.name,
      state: v.state,
      size_gb: v.sizeGb,
      region: v.region,
      zone: "a4df",
      encrypted: v.encrypted,
      attached_machine_id: v.attachedMachineId,
      attached_alloc_id: null,
      fstype: "ext4",
      snapshot_retention: 5,
      auto_backup_enabled: true,
    };
  }

  function certificateJson(c: FakeCertificate): Json {
    return {
      hostname: c.hostname,
      configured: false,
      acme_requested: true,
      status: c.status,
      certificates: [],
      dns_requirements: { cname: `${c.app}.fly.dev` },
      validation_errors: [],
    };
  }

  /** Checks a machine config the way Fly does; returns an error message or null. */
  function configProblem(config: unknown, appName: string, region: string, machineId: string | null): string | null {
    if (typeof config !== "object" || config === null) return "config is required"; // approximate wording
    const c = config as Json;
    if (typeof c.image !== "string" || c.image === "") return "image is required";
    const guest = c.guest as Json | undefined;
    if (guest && typeof guest.memory_mb === "number" && guest.memory_mb % 256 !== 0) return "memory_mb must be a multiple of 256";
    for (const f of (c.files as Json[] | undefined) ?? []) {
      if (typeof f.guest_path !== "string" || !f.guest_path.startsWith("/")) return "file guest_path must be an absolute path";
      if (typeof f.raw_value !== "string" || Buffer.from(f.raw_value, "base64").toString("base64") !== f.raw_value) {
        return "file raw_value must be base64";
      }
    }
    for (const mount of (c.mounts as Json[] | undefined) ?? []) {
      const v = state.volumes.get(String(mount.volume));
      if (!v || v.app !== appName || v.state !== "created") return `volume not found`;
      if (v.region !== region) return `volume ${v.id} is in ${v.region}, not ${region}`;
      if (v.attachedMachineId && v.attachedMachineId !== machineId) return `volume ${v.id} is already attached`;
    }
    return null;
  }

  function attachMounts(m: FakeMachine) {
    for (const mount of (m.config.mounts as Json[] | undefined) ?? []) {
      const v = state.volumes.get(String(mount.volume));
      if (v) v.attachedMachineId = m.id;
    }
  }

  const newInstanceId = () => `01J${nextId(23).toUpperCase()}`;

  // --- handlers ---

  const handlers: HttpHandler[] = [
    // Apps
    http.post(`${v1}/apps`, route("createApp", ({ body }) => {
      const b = (body ?? {}) as Json;
      const name = String(b.app_name ?? "");
      const org = String(b.org_slug ?? "");
      if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(name)) {
        return error(422, "Validation failed: Name under 63 chars using numbers, lowercase letters and dashes");
      }
      if (state.apps.has(name)) return error(422, "Validation failed: Name has already been taken", { status: "name_taken" });
      if (!orgs.has(org)) return notFound("organization");
      const app: FakeApp = { name, org, id: nextId(16) };
      state.apps.set(name, app);
      return HttpResponse.json({ id: app.id, created_at: now }, { status: 201 });
    })),
    http.get(`${v1}/apps/:app`, route("getApp", ({ params }) => {
      const app = visibleApp(params.app!);
      if (app instanceof Response) return app;
      return HttpResponse.json({ id: app.id, name: app.name, status: "deployed", organization: { name: app.org, slug: app.org } });
    })),
    http.delete(`${v1}/apps/:app`, route("deleteApp", ({ params, url }) => {
      const app = visibleApp(params.app!);
      if (app instanceof Response) return app;
      const live = [...state.machines.values()].filter((m) => m.app === app.name && m.state !== "destroyed");
      if (live.some((m) => m.state !== "stopped") && url.searchParams.get("force") !== "true") {
        return error(412, "app has running machines; stop them or use force=true"); // approximate wording
      }
      for (const m of live) enter(m, "destroyed");
      for (const v of state.volumes.values()) if (v.app === app.name) v.state = "destroyed";
      state.ips = state.ips.filter((ip) => ip.app !== app.name);
      state.certificates = state.certificates.filter((c) => c.app !== app.name);
      state.apps.delete(app.name);
      return new HttpResponse(null, { status: 202 });
    })),

    // IP assignments
    http.get(`${v1}/apps/:app/ip_assignments`, route("listIps", ({ params }) => {
      const app = visibleApp(params.app!);
      if (app instanceof Response) return app;
      const ips = state.ips.filter((ip) => ip.app === app.name);
      return HttpResponse.json({ ips: ips.map((ip) => ({ ip: ip.ip, region: "global", shared: ip.type === "shared_v4", service_name: "" })) });
    })),
    http.post(`${v1}/apps/:app/ip_assignments`, route("assignIp", ({ params, body }) => {
      const app = visibleApp(params.app!);
      if (app instanceof Response) return app;
      const type = String((body as Json | undefined)?.type ?? "");
      const n = ++seq;
      const ip = { shared_v4: "66.241.124.1", v4: `137.66.0.${n % 250}`, v6: `2a09:8280:1::${n.toString(16)}`, private_v6: `fdaa:0:1::${n.toString(16)}` }[type];
      if (!ip) return error(400, `invalid ip type ${type}`);
      state.ips.push({ app: app.name, ip, type });
      return HttpResponse.json({ ip, region: "global", shared: type === "shared_v4", service_name: "" });
    })),

    // Volumes
    http.get(`${v1}/apps/:app/volumes`, route("listVolumes", ({ params }) => {
      const app = visibleApp(params.app!);
      if (app instanceof Response) return app;
      return HttpResponse.json([...state.volumes.values()].filter((v) => v.app === app.name && v.state !== "destroyed").map(volumeJson));
    })),
    http.post(`${v1}/apps/:app/volumes`, route("createVolume", ({ params, body }) => {
      const app = visibleApp(params.app!);
      if (app instanceof Response) return app;
      const b = (body ?? {}) as Json;
      if (typeof b.name !== "string" || !/^[a-z0-9_]{1,30}$/.test(b.name)) return error(400, "invalid volume name");
      if (typeof b.region !== "string") return error(400, "region is required");
      const v: FakeVolume = {
        id: `vol_${nextId(16)}`,
        app: app.name,
        name: b.name,
        region: b.region,
        sizeGb: typeof b.size_gb === "number" ? b.size_gb : 3,
        encrypted: b.encrypted !== false,
        compute: b.compute,
        state: "created",
        attachedMachineId: null,
      };
      state.volumes.set(v.id, v);
      return HttpResponse.json(volumeJson(v));
    })),
    http.delete(`${v1}/apps/:app/volumes/:id`, route("deleteVolume", ({ params }) => {
      const app = visibleApp(params.app!);
      if (app instanceof Response) return app;
      const v = state.volumes.get(params.id!);
      if (!v || v.app !== app.name || v.state === "destroyed") return notFound("volume");
      if (v.attachedMachineId) return error(412, `volume is attached to machine ${v.attachedMachineId}`); // approximate wording
      v.state = "destroyed";
      return HttpResponse.json(volumeJson(v));
    })),

    // Machines
    http.get(`${v1}/apps/:app/machines`, route("listMachines", ({ params, url }) => {
      const app = visibleApp(params.app!);
      if (app instanceof Response) return app;
      const includeDeleted = url.searchParams.get("include_deleted") === "true";
      return HttpResponse.json(
        [...state.machines.values()].filter((m) => m.app === app.name && (includeDeleted || m.state !== "destroyed")).map(machineJson),
      );
    })),
    http.post(`${v1}/apps/:app/machines`, route("createMachine", ({ params, body }) => {
      const app = visibleApp(params.app!);
      if (app instanceof Response) return app;
      const b = (body ?? {}) as Json;
      const region = typeof b.region === "string" ? b.region : "iad";
      const problem = configProblem(b.config, app.name, region, null);
      if (problem) return error(400, problem);
      const m: FakeMachine = {
        id: nextId(14),
        app: app.name,
        name: typeof b.name === "string" ? b.name : `machine-${seq}`,
        region,
        state: "created",
        instanceId: newInstanceId(),
        config: structuredClone(b.config as Json),
        pending: [],
        lease: null,
        history: ["created"],
        versions: [],
      };
      m.versions.push({ instanceId: m.instanceId, image: String(m.config.image), state: "created" });
      state.machines.set(m.id, m);
      attachMounts(m);
      if (b.skip_launch !== true) schedule(m, boot(m, timings.launchMs));
      return HttpResponse.json(machineJson(m));
    })),
    http.get(`${v1}/apps/:app/machines/:id`, route("getMachine", ({ params }) => {
      const m = machineIn(params.app!, params.id!);
      return m instanceof Response ? m : HttpResponse.json(machineJson(m));
    })),
    http.post(`${v1}/apps/:app/machines/:id`, route("updateMachine", ({ params, body, nonce }) => {
      const m = machineIn(params.app!, params.id!);
      if (m instanceof Response) return m;
      const conflict = leaseConflict(m, nonce);
      if (conflict) return conflict;
      const b = (body ?? {}) as Json;
      const problem = configProblem(b.config, m.app, m.region, m.id);
      if (problem) return error(400, problem);
      // A new version replaces the active one, which is marked `replaced` (a terminal state).
      const running = m.state === "started" || m.state === "starting";
      m.versions.at(-1)!.state = "replaced";
      m.config = structuredClone(b.config as Json);
      m.instanceId = newInstanceId();
      m.versions.push({ instanceId: m.instanceId, image: String(m.config.image), state: "created" });
      attachMounts(m);
      // `replacing` while the old version shuts down (as long as a stop, when it was running);
      // then the new version boots, unless skip_launch leaves it `created`.
      const shutdown = running ? timings.stopMs : 0;
      schedule(m, [["replacing", 0], ...(b.skip_launch === true ? ([["created", shutdown]] as [string, number][]) : boot(m, shutdown))]);
      return HttpResponse.json(machineJson(m));
    })),
    http.post(`${v1}/apps/:app/machines/:id/start`, route("startMachine", ({ params, nonce }) => {
      const m = machineIn(params.app!, params.id!);
      if (m instanceof Response) return m;
      const conflict = leaseConflict(m, nonce);
      if (conflict) return conflict;
      if (!["stopped", "created", "suspended", "failed"].includes(m.state)) {
        return error(412, `unable to start machine from current state: '${m.state}'`); // approximate wording
      }
      const previous = m.state;
      schedule(m, boot(m, 0));
      return HttpResponse.json({ previous_state: previous, migrated: false, new_host: "" });
    })),
    http.post(`${v1}/apps/:app/machines/:id/stop`, route("stopMachine", ({ params, nonce }) => {
      const m = machineIn(params.app!, params.id!);
      if (m instanceof Response) return m;
      const conflict = leaseConflict(m, nonce);
      if (conflict) return conflict;
      if (m.state === "destroyed" || m.state === "destroying") return error(412, `unable to stop machine in state '${m.state}'`);
      if (m.state !== "stopped") schedule(m, [["stopping", 0], ["stopped", timings.stopMs]]);
      return HttpResponse.json({ ok: true });
    })),
    http.post(`${v1}/apps/:app/machines/:id/restart`, route("restartMachine", ({ params, nonce }) => {
      const m = machineIn(params.app!, params.id!);
      if (m instanceof Response) return m;
      const conflict = leaseConflict(m, nonce);
      if (conflict) return conflict;
      if (m.state !== "started") return error(412, `unable to restart machine in state '${m.state}'`); // approximate wording
      schedule(m, [["stopping", 0], ["stopped", timings.stopMs], ...boot(m, 0)]);
      return HttpResponse.json({ ok: true });
    })),
    http.delete(`${v1}/apps/:app/machines/:id`, route("deleteMachine", ({ params, url, nonce }) => {
      const m = machineIn(params.app!, params.id!);
      if (m instanceof Response) return m;
      if (m.state === "destroyed") return notFound("machine");
      const conflict = leaseConflict(m, nonce);
      if (conflict) return conflict;
      if (!["stopped", "created", "failed", "launch_failed"].includes(m.state) && url.searchParams.get("force") !== "true") {
        return error(412, "unable to destroy machine, not currently stopped"); // approximate wording
      }
      schedule(m, [["destroying", 0], ["destroyed", timings.destroyMs]]);
      return HttpResponse.json({ ok: true });
    })),
    http.get(`${v1}/apps/:app/machines/:id/wait`, route("wait", ({ params, url }) => {
      const m = machineIn(params.app!, params.id!);
      if (m instanceof Response) return m;
      const target = url.searchParams.get("state") ?? "started";
      if (!["started", "stopped", "suspended", "destroyed"].includes(target)) return error(400, `invalid state ${target}`);
      const timeout = Number(url.searchParams.get("timeout") ?? "60");
      // Fly's proxy ends requests at 60 s; the fake refuses longer waits outright.
      if (!Number.isInteger(timeout) || timeout < 1 || timeout > 60) return error(400, "timeout must be between 1 and 60 seconds");
      const instanceId = url.searchParams.get("instance_id");
      if (target === "stopped" && !instanceId) return error(400, "instance_id is required when waiting for stopped");
      if (instanceId && !m.versions.some((v) => v.instanceId === instanceId)) return error(404, `machine version ${instanceId} not found`); // approximate wording
      // An old version is `replaced` for good: it never reaches the state, so the wait runs out.
      if (instanceId && instanceId !== m.instanceId) {
        clock.advance(timeout * 1000);
        return error(408, "deadline_exceeded: machine did not reach the requested state in time"); // approximate wording
      }
      const limit = now + timeout * 1000;
      if (m.state === target) return HttpResponse.json({ ok: true });
      const step = m.pending.find((s) => s.state === target);
      if (step && step.at <= limit) {
        clock.advance(step.at - now);
        return HttpResponse.json({ ok: true });
      }
      clock.advance(timeout * 1000);
      return error(408, "deadline_exceeded: machine did not reach the requested state in time"); // approximate wording
    })),

    // Leases
    http.post(`${v1}/apps/:app/machines/:id/lease`, route("acquireLease", ({ params, body, url, nonce }) => {
      const m = machineIn(params.app!, params.id!);
      if (m instanceof Response) return m;
      const lease = activeLease(m);
      if (lease && lease.nonce !== nonce) {
        return error(409, `aborted: machine ID ${m.id} lease currently held by ${OTHER_OWNER}, expires at ${new Date(lease.expiresAt).toISOString()}`);
      }
      const b = (body ?? {}) as Json;
      const ttl = typeof b.ttl === "number" ? b.ttl : Number(url.searchParams.get("ttl") ?? "30");
      m.lease = {
        nonce: lease?.nonce ?? nextId(12),
        expiresAt: now + ttl * 1000,
        description: typeof b.description === "string" ? b.description : "",
      };
      return HttpResponse.json(
        {
          status: "success",
          data: { nonce: m.lease.nonce, expires_at: Math.floor(m.lease.expiresAt / 1000), owner: LEASE_OWNER, description: m.lease.description, version: m.instanceId },
        },
        { status: 201 },
      );
    })),
    http.delete(`${v1}/apps/:app/machines/:id/lease`, route("releaseLease", ({ params, nonce }) => {
      const m = machineIn(params.app!, params.id!);
      if (m instanceof Response) return m;
      const lease = activeLease(m);
      if (!lease) return notFound("lease");
      if (lease.nonce !== nonce) return error(409, "lease nonce does not match"); // approximate wording
      m.lease = null;
      return HttpResponse.json({ status: "success", data: { ok: true } });
    })),

    // Certificates
    http.get(`${v1}/apps/:app/certificates/:hostname`, route("getCertificate", ({ params }) => {
      const app = visibleApp(params.app!);
      if (app instanceof Response) return app;
      const c = state.certificates.find((c) => c.app === app.name && c.hostname === params.hostname);
      return c ? HttpResponse.json(certificateJson(c)) : notFound("certificate");
    })),
    http.post(`${v1}/apps/:app/certificates/acme`, route("createCertificate", ({ params, body }) => {
      const app = visibleApp(params.app!);
      if (app instanceof Response) return app;
      const hostname = String((body as Json | undefined)?.hostname ?? "");
      if (!/^[a-z0-9.-]+\.[a-z]{2,}$/.test(hostname)) return error(422, "invalid hostname");
      if (state.certificates.some((c) => c.app === app.name && c.hostname === hostname)) {
        return error(422, "Hostname already exists on app"); // approximate wording
      }
      const c: FakeCertificate = { app: app.name, hostname, status: "pending_validation" };
      state.certificates.push(c);
      return HttpResponse.json(certificateJson(c), { status: 201 });
    })),

    // The app's public health endpoint, through Fly's proxy (no API token involved).
    http.get(/^https:\/\/[a-z0-9-]+\.fly\.dev\/healthz$/, ({ request }) => {
      const appName = new URL(request.url).hostname.replace(/\.fly\.dev$/, "");
      state.requests.push({ route: "healthz", method: "GET", path: request.url, nonce: null, body: undefined });
      settle();
      const fault = faults.get("healthz")?.shift();
      if (fault) return fault.kind === "lost_response" ? HttpResponse.error() : faultResponse(fault);
      const override = state.health.get(appName);
      if (override) return HttpResponse.json(override.body, { status: override.status });
      const app = state.apps.get(appName);
      const reachable = app && state.ips.some((ip) => ip.app === appName && ip.type !== "private_v6");
      if (!reachable) return new HttpResponse("no such app", { status: 404 });
      const running = [...state.machines.values()].find((m) => m.app === appName && m.state === "started" && gatewayWouldServe(m.config));
      if (!running) return new HttpResponse("no healthy machines", { status: 503 });
      return HttpResponse.json({ ok: true, status: "live" });
    }),
  ];

  return {
    handlers,
    state,
    clock,
    timings,
    /** The next `times` calls of `route` answer with `fault` instead of (or, for lost_response, after) doing their work. */
    inject(route: FlyRoute, fault: FlyFault, times = 1) {
      const queue = faults.get(route) ?? [];
      for (let i = 0; i < times; i++) queue.push(fault);
      faults.set(route, queue);
    },
    /**
     * The next `times` boots of a machine (by id) or of any machine with this image fail:
     * the version ends `failed` (a crash on boot) or `launch_failed` (then `destroyed`).
     */
    failBoot(match: BootMatch, as: BootFailure = "failed", times = Infinity) {
      bootFailures.push({ match, as, times });
    },
    /** Another client takes the machine's lease (as flyctl would during a deploy). */
    leaseByOther(machineId: string, ttlSeconds = 60) {
      const m = state.machines.get(machineId);
      if (!m) throw new Error(`no machine ${machineId}`);
      m.lease = { nonce: "other-client-nonce", expiresAt: now + ttlSeconds * 1000, description: "flyctl deploy" };
    },
    /** An app owned by an org the token cannot see. */
    addForeignApp(name: string, org = "someone-else") {
      state.apps.set(name, { name, org, id: nextId(16) });
    },
    machinesOf: (app: string) => [...state.machines.values()].filter((m) => m.app === app && m.state !== "destroyed"),
    volumesOf: (app: string) => [...state.volumes.values()].filter((v) => v.app === app && v.state !== "destroyed"),
    requestsTo: (route: FlyRoute) => state.requests.filter((r) => r.route === route),
  };
}

export type FlyFake = ReturnType<typeof createFlyFake>;

/**
 * Whether OpenClaw's gateway would come up and be reachable through Fly's proxy
 * with this config: listening on the LAN at the service's internal port (3000),
 * and with a gateway token, which it requires when bound beyond loopback.
 */
function gatewayWouldServe(config: Json): boolean {
  const cmd = ((config.init as Json | undefined)?.cmd as string[] | undefined) ?? [];
  const arg = (flag: string) => cmd[cmd.indexOf(flag) + 1];
  const env = (config.env as Record<string, string> | undefined) ?? {};
  const services = (config.services as Json[] | undefined) ?? [];
  return (
    cmd.includes("gateway") &&
    arg("--bind") === "lan" &&
    services.some((s) => String(s.internal_port) === arg("--port")) &&
    Boolean(env.OPENCLAW_GATEWAY_TOKEN)
  );
}
