import { randomBytes } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { ensurePrivateDir } from "../data-dir";
import { SEEDED_VERSION } from "../openclaw/versions";
import { OPENCLAW_GATEWAY_PORT, OPENCLAW_STATE_DIR } from "../openclaw/runtime";
import { instanceAppName } from "./naming";
import {
  ComputeError,
  MACHINE_STATES,
  type ComputeProvider,
  type HealthResult,
  type MachineObservation,
  type MachineRef,
  type MachineState,
  type ProvisionSpec,
  type RenderedConfig,
  type RestoreVolumeSpec,
  type VolumeSnapshot,
} from "./types";

/**
 * The embedded compute provider: a simulated machine per instance that moves
 * through Fly's states the way a real one does, each transition taking
 * `delayMs` (0: immediate, for tests and benchmarks):
 *
 *   provision:    created -> starting -> started
 *   start:        starting -> started
 *   stop:         stopping -> stopped
 *   restart:      stopping -> stopped -> starting -> started (a stopped machine just starts)
 *   applyConfig:  records the config, then restarts as above
 *   changeImage:  records the image, then restarts as above
 *   mountVolume:  moves the machine onto another volume, then restarts as above
 *   destroy:      destroying -> destroyed, after which the machine no longer exists
 *
 * Its gateway's `/healthz` check passes while the machine is started, unless
 * `simulate` made it fail. `simulate` also crashes a machine (it stops by
 * itself) and recovers it, so the embedded mode can show what monitoring sees.
 *
 * Each machine's volume is a real folder, `<dataDir>/volumes/<volume id>`, its
 * `/data`: the config files are written into it whenever the machine (re)boots
 * with them, as Fly writes a machine's `files`, and anything else put there
 * stays. A snapshot is a copy of that folder (`<dataDir>/snapshots/<id>`),
 * `creating` for `delayMs`, kept for the volume's retention; one is taken by
 * itself once a day, as Fly does (looked at whenever snapshots are listed); a
 * restored volume is a copy of a snapshot. So a restore in embedded mode really
 * brings older files back.
 *
 * Transitions are stored as timestamps, not timers, so they keep running across
 * a process restart when the machines live in a state file.
 *
 * Images can be made to fail, to try a rolled-back upgrade: `failingImages`
 * (LOCAL_FAILING_IMAGES) and `failImage()` make the assistant of a machine on
 * such an image never answer healthy, or the machine crash on boot (`failed`,
 * as Fly reports it).
 */

export interface LocalProviderOptions {
  /** Time each state transition takes. */
  delayMs: number;
  /** JSON file holding the machines so they survive a restart; in memory when absent. Secret values are never written to it. */
  stateFile?: string;
  /**
   * Where the volumes' and snapshots' folders live (DATA_DIR with a file-backed
   * database); absent: a private temporary folder, made when first needed and
   * removed when the process exits.
   */
  dataDir?: string;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  /** Images whose assistant never answers healthy. */
  failingImages?: readonly string[];
}

/** How a machine on a failing image fails: its assistant never answers healthy, or it crashes on boot. */
export type ImageFailure = "unhealthy" | "boot";

/** The provider methods a fault can be injected into. */
export type LocalProviderMethod = Exclude<keyof ComputeProvider, "kind">;

/** What `simulate` does to a machine: stop it behind the platform's back, fail its health check, or put both right. */
export const SIMULATIONS = ["crash", "unhealthy", "recover"] as const;
export type Simulation = (typeof SIMULATIONS)[number];

/** The simulated gateway's one health check, named as Fly names a service's first HTTP check. */
const CHECK_NAME = `servicecheck-00-http-${OPENCLAW_GATEWAY_PORT}`;

/** How often waitForState looks again when no transition is scheduled (another call may start one). */
const POLL_MS = 250;
const REDACTED = "[redacted]";
const DAY_MS = 86_400_000;
/** Fly's default snapshot retention, for volumes created without one. */
const DEFAULT_RETENTION_DAYS = 5;

const stateSchema = z.enum(MACHINE_STATES);
const configSchema = z.object({
  files: z.array(z.object({ path: z.string(), content: z.string() })),
  env: z.record(z.string(), z.string()),
  secrets: z.record(z.string(), z.string()),
});
const machineSchema = z.object({
  instanceId: z.string(),
  subdomain: z.string(),
  appName: z.string(),
  machineId: z.string(),
  volumeId: z.string(),
  region: z.string(),
  /** Machines written before images were recorded ran the one image of that time. */
  image: z.string().default(SEEDED_VERSION.image),
  state: stateSchema,
  /** Scheduled transitions, oldest first: the machine enters `state` at `at` (epoch ms). */
  pending: z.array(z.object({ state: stateSchema, at: z.number() })),
  config: configSchema.nullable(),
  // Defaults, so a machines file written before health was simulated still reads.
  /** The health check fails while started (simulate "unhealthy"). */
  unhealthy: z.boolean().default(false),
  /** When the check's result last changed: the machine entered `started`, or `simulate` changed it (epoch ms). */
  checkChangedAt: z.number().nullable().default(null),
});
const volumeSchema = z.object({
  id: z.string(),
  instanceId: z.string(),
  name: z.string(),
  region: z.string(),
  createdAt: z.number(),
  /** Until then it is `restoring` (a volume made from a snapshot). */
  readyAt: z.number(),
  retentionDays: z.number(),
  /** When the last daily snapshot was taken (its creation, before the first). */
  lastScheduledAt: z.number(),
  destroyed: z.boolean(),
});
const snapshotSchema = z.object({
  id: z.string(),
  volumeId: z.string(),
  createdAt: z.number(),
  /** Until then it is `creating`. */
  readyAt: z.number(),
  sizeBytes: z.number(),
  retentionDays: z.number(),
});
const docSchema = z.object({
  version: z.literal(1),
  machines: z.array(machineSchema),
  // Absent from files written before volumes were simulated.
  volumes: z.array(volumeSchema).default([]),
  snapshots: z.array(snapshotSchema).default([]),
});
type LocalMachine = z.infer<typeof machineSchema>;
type LocalVolume = z.infer<typeof volumeSchema>;
type LocalSnapshot = z.infer<typeof snapshotSchema>;
type StateDoc = z.infer<typeof docSchema>;

/** Temporary data folders of providers without a DATA_DIR, removed when the process exits. */
const temporaryDirs = new Set<string>();
let cleanupHooked = false;
function temporaryDataDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "moc-volumes-"));
  temporaryDirs.add(dir);
  if (!cleanupHooked) {
    cleanupHooked = true;
    process.once("exit", () => {
      for (const d of temporaryDirs) rmSync(d, { recursive: true, force: true });
    });
  }
  return dir;
}

export class LocalProvider implements ComputeProvider {
  readonly kind = "local" as const;
  private readonly delayMs: number;
  private readonly stateFile: string | undefined;
  private dataDir: string | undefined;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;
  /** The machines when there is no state file. */
  private memory: StateDoc = { version: 1, machines: [], volumes: [], snapshots: [] };
  private readonly faults = new Map<LocalProviderMethod, ComputeError[]>();
  private readonly imageFailures: { image: string; as: ImageFailure; machineId?: string }[];

  constructor(opts: LocalProviderOptions) {
    this.imageFailures = (opts.failingImages ?? []).map((image) => ({ image, as: "unhealthy" as const }));
    this.delayMs = opts.delayMs;
    this.stateFile = opts.stateFile;
    this.dataDir = opts.dataDir;
    this.sleep = opts.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.now = opts.now ?? Date.now;
  }

  /** Makes the next `times` calls of `method` throw `error` before doing anything. */
  failNext(method: LocalProviderMethod, error: ComputeError, times = 1): void {
    const queue = this.faults.get(method) ?? [];
    for (let i = 0; i < times; i++) queue.push(error);
    this.faults.set(method, queue);
  }

  /** Makes machines on `image` fail from now on (only `machineId`, when given): see ImageFailure. */
  failImage(image: string, o: { as?: ImageFailure; machineId?: string } = {}): void {
    this.imageFailures.push({ image, as: o.as ?? "unhealthy", machineId: o.machineId });
  }

  /** The image the machine runs. */
  imageOf(ref: MachineRef): string | null {
    return this.update((doc) => this.find(doc, ref)?.image ?? null);
  }

  /**
   * The config the machine would run: the one given to provision or the last applyConfig.
   * Read back from a state file, secret values show as "[redacted]".
   */
  lastAppliedConfig(ref: MachineRef): RenderedConfig | null {
    return this.update((doc) => this.find(doc, ref)?.config ?? null);
  }

  /** The folder holding a volume's data (the machine's `/data`). */
  volumeFolder(volumeId: string): string {
    return path.join(this.root(), "volumes", volumeId);
  }

  async provision(spec: ProvisionSpec): Promise<MachineRef> {
    this.injectedFault("provision");
    return this.update((doc) => {
      const existing = doc.machines.find((m) => m.instanceId === spec.instanceId && !isGoing(m));
      if (existing) {
        // A retried provision: make sure it runs, as it would after a first success.
        if (["stopped", "suspended", "failed"].includes(existing.state)) this.schedule(existing, this.boot(existing));
        return refOf(existing);
      }
      const volume = this.newVolume(doc, spec.instanceId, spec.region, spec.backupRetentionDays ?? DEFAULT_RETENTION_DAYS);
      const machine: LocalMachine = {
        instanceId: spec.instanceId,
        subdomain: spec.subdomain,
        appName: instanceAppName(spec.instanceId),
        machineId: randomBytes(7).toString("hex"),
        volumeId: volume.id,
        region: spec.region,
        image: spec.image,
        state: "created",
        pending: [],
        config: structuredClone(spec.config),
        unhealthy: false,
        checkChangedAt: null,
      };
      this.schedule(machine, ["created", ...this.boot(machine)]);
      doc.machines.push(machine);
      this.writeFiles(doc, machine);
      return refOf(machine);
    });
  }

  async start(ref: MachineRef): Promise<void> {
    this.injectedFault("start");
    this.update((doc) => {
      const m = this.require(doc, ref);
      if (finalState(m) !== "started") this.schedule(m, this.boot(m));
    });
  }

  async stop(ref: MachineRef): Promise<void> {
    this.injectedFault("stop");
    this.update((doc) => {
      const m = this.require(doc, ref);
      if (finalState(m) !== "stopped") this.schedule(m, ["stopping", "stopped"]);
    });
  }

  async restart(ref: MachineRef): Promise<void> {
    this.injectedFault("restart");
    this.update((doc) => this.restartMachine(this.require(doc, ref)));
  }

  async applyConfig(ref: MachineRef, config: RenderedConfig): Promise<void> {
    this.injectedFault("applyConfig");
    this.update((doc) => {
      const m = this.require(doc, ref);
      m.config = structuredClone(config);
      this.restartMachine(m);
      this.writeFiles(doc, m);
    });
  }

  async changeImage(ref: MachineRef, image: string): Promise<void> {
    this.injectedFault("changeImage");
    this.update((doc) => {
      const m = this.require(doc, ref);
      m.image = image;
      this.restartMachine(m);
    });
  }

  async waitForState(ref: MachineRef, state: "started" | "stopped", timeoutMs: number): Promise<void> {
    this.injectedFault("waitForState");
    const deadline = this.now() + timeoutMs;
    for (;;) {
      const m = this.update((doc) => this.find(doc, ref));
      if (!m) {
        throw new ComputeError("local_machine_not_found", `machine ${ref.machineId} does not exist`, { retryable: false, status: 404 });
      }
      if (m.state === state) return;
      if (m.state === "destroying" || (state === "started" && m.state === "failed")) {
        throw new ComputeError("local_machine_unavailable", `machine ${ref.machineId} is ${m.state}; it will not become ${state}`, {
          retryable: false,
        });
      }
      const now = this.now();
      if (now >= deadline) {
        throw new ComputeError(
          "local_wait_timeout",
          `machine ${ref.machineId} did not become ${state} within ${timeoutMs} ms (last seen ${m.state})`,
          { retryable: true },
        );
      }
      const next = m.pending[0]?.at ?? now + POLL_MS;
      await this.sleep(Math.min(deadline, next) - now);
    }
  }

  async checkHealth(ref: MachineRef): Promise<HealthResult> {
    this.injectedFault("checkHealth");
    const m = this.update((doc) => this.find(doc, ref));
    if (!m) return { healthy: false, detail: "no such machine" };
    if (m.state !== "started") return { healthy: false, detail: `machine is ${m.state}` };
    if (this.failure(m) === "unhealthy") return { healthy: false, detail: `simulated gateway: ${m.image} does not answer /healthz (a failing image)` };
    return m.unhealthy ? { healthy: false, detail: UNHEALTHY_OUTPUT } : { healthy: true, detail: "simulated gateway: ok (live)" };
  }

  async observe(ref: MachineRef): Promise<MachineObservation> {
    this.injectedFault("observe");
    const m = this.update((doc) => this.find(doc, ref));
    if (!m) return { state: null, checks: [] };
    if (m.state !== "started") return { state: m.state, checks: [] };
    const updatedAt = m.checkChangedAt === null ? null : new Date(m.checkChangedAt).toISOString();
    return {
      state: m.state,
      checks: [
        m.unhealthy || this.failure(m) === "unhealthy"
          ? { name: CHECK_NAME, status: "critical", output: UNHEALTHY_OUTPUT, updatedAt }
          : { name: CHECK_NAME, status: "passing", output: 'HTTP GET /healthz: 200 OK {"ok":true,"status":"live"}', updatedAt },
      ],
    };
  }

  /**
   * Makes something happen to a machine behind the platform's back, as monitoring
   * would see it on Fly: `crash` stops it at once (its process died and stays
   * down), `unhealthy` makes its health check fail while it runs, `recover`
   * makes the check pass again and starts a machine that is not running.
   * Throws a not-found ComputeError for a machine that does not exist.
   */
  simulate(ref: MachineRef, what: Simulation): void {
    this.update((doc) => {
      const m = this.require(doc, ref);
      const now = this.now();
      if (what === "crash") {
        m.pending = [];
        m.state = "stopped";
      } else if (what === "unhealthy") {
        if (!m.unhealthy) m.checkChangedAt = now;
        m.unhealthy = true;
      } else {
        if (m.unhealthy) m.checkChangedAt = now;
        m.unhealthy = false;
        if (finalState(m) !== "started") this.schedule(m, ["starting", "started"]);
      }
    });
  }

  async getState(ref: MachineRef): Promise<MachineState | null> {
    this.injectedFault("getState");
    return this.update((doc) => this.find(doc, ref)?.state ?? null);
  }

  async destroy(ref: MachineRef): Promise<void> {
    this.injectedFault("destroy");
    this.update((doc) => {
      const m = this.find(doc, ref);
      if (m && !isGoing(m)) this.schedule(m, ["destroying", "destroyed"]);
      // Everything the instance stored goes with it: its volumes, and their snapshots.
      const instanceId = m?.instanceId ?? doc.volumes.find((v) => v.id === ref.volumeId)?.instanceId;
      for (const v of doc.volumes.filter((v) => v.instanceId === instanceId)) {
        this.removeVolume(v);
        for (const snap of doc.snapshots.filter((x) => x.volumeId === v.id)) rmSync(this.snapshotFolder(snap.id), { recursive: true, force: true });
        doc.snapshots = doc.snapshots.filter((x) => x.volumeId !== v.id);
      }
      doc.volumes = doc.volumes.filter((v) => v.instanceId !== instanceId);
    });
  }

  // --- backups and restores ---

  async listSnapshots(ref: MachineRef, volumeId: string): Promise<VolumeSnapshot[] | null> {
    this.injectedFault("listSnapshots");
    return this.update((doc) => {
      const volume = doc.volumes.find((v) => v.id === volumeId);
      if (!volume) return null;
      const now = this.now();
      // The daily snapshot, due once a day since the last (Fly takes it by itself; here it is taken when looked for).
      if (!volume.destroyed && now - volume.lastScheduledAt >= DAY_MS) {
        this.takeSnapshot(doc, volume);
        volume.lastScheduledAt = now;
      }
      return doc.snapshots.filter((x) => x.volumeId === volumeId).map((x) => snapshotOf(x, now));
    });
  }

  async createSnapshot(ref: MachineRef, volumeId: string, known: readonly string[]): Promise<{ id: string | null }> {
    this.injectedFault("createSnapshot");
    return this.update((doc) => {
      const mine = doc.snapshots.find((x) => x.volumeId === volumeId && !known.includes(x.id));
      if (mine) return { id: mine.id };
      const volume = doc.volumes.find((v) => v.id === volumeId && !v.destroyed);
      if (!volume) throw notFound(`volume ${volumeId}`);
      return { id: this.takeSnapshot(doc, volume).id };
    });
  }

  async setBackupRetention(ref: MachineRef, volumeId: string, days: number): Promise<void> {
    this.injectedFault("setBackupRetention");
    this.update((doc) => {
      const volume = doc.volumes.find((v) => v.id === volumeId && !v.destroyed);
      if (!volume) throw notFound(`volume ${volumeId}`);
      volume.retentionDays = days;
    });
  }

  async restoreVolume(ref: MachineRef, spec: RestoreVolumeSpec): Promise<string> {
    this.injectedFault("restoreVolume");
    const name = `restore-${spec.tag}`;
    return this.update((doc) => {
      const m = this.require(doc, ref);
      const found = doc.volumes.find((v) => v.instanceId === m.instanceId && v.name === name && !v.destroyed);
      if (found) return found.id; // a retried call: the volume it made
      const snap = doc.snapshots.find((x) => x.id === spec.snapshotId);
      if (!snap || snap.readyAt > this.now()) throw notFound(`snapshot ${spec.snapshotId} (ready)`);
      const v = this.newVolume(doc, m.instanceId, m.region, spec.backupRetentionDays, { name, copyOf: this.snapshotFolder(snap.id) });
      v.readyAt = this.now() + this.delayMs; // restoring
      return v.id;
    });
  }

  async mountVolume(ref: MachineRef, volumeId: string): Promise<void> {
    this.injectedFault("mountVolume");
    // A restored volume is usable once it has finished restoring.
    const readyAt = this.update((doc) => doc.volumes.find((v) => v.id === volumeId)?.readyAt ?? 0);
    if (readyAt > this.now()) await this.sleep(readyAt - this.now());
    this.update((doc) => {
      const m = this.require(doc, ref);
      if (m.volumeId === volumeId) {
        // Already there: started, as moving it there would have.
        if (finalState(m) !== "started") this.schedule(m, ["starting", "started"]);
        return;
      }
      const volume = doc.volumes.find((v) => v.id === volumeId && !v.destroyed && v.instanceId === m.instanceId);
      if (!volume || volume.readyAt > this.now()) throw notFound(`volume ${volumeId} (ready)`);
      m.volumeId = volumeId;
      // Rebooted onto it, its config files written there, as a Fly update does.
      this.restartMachine(m);
      this.writeFiles(doc, m);
    });
    await this.waitForState(ref, "started", 60_000);
  }

  async destroyVolume(ref: MachineRef, volumeId: string): Promise<void> {
    this.injectedFault("destroyVolume");
    this.update((doc) => {
      const volume = doc.volumes.find((v) => v.id === volumeId);
      if (!volume || volume.destroyed) return;
      const user = doc.machines.find((m) => m.volumeId === volumeId && !isGoing(m));
      if (user) {
        throw new ComputeError("local_volume_attached", `volume ${volumeId} is mounted by machine ${user.machineId}`, { retryable: false, status: 412 });
      }
      this.removeVolume(volume);
    });
  }

  // --- volumes and snapshots ---

  /** The folder under which volumes and snapshots live, made on first use. */
  private root(): string {
    this.dataDir ??= temporaryDataDir();
    return this.dataDir;
  }

  private snapshotFolder(snapshotId: string): string {
    return path.join(this.root(), "snapshots", snapshotId);
  }

  private newVolume(doc: StateDoc, instanceId: string, region: string, retentionDays: number, o: { name?: string; copyOf?: string } = {}): LocalVolume {
    const now = this.now();
    const volume: LocalVolume = {
      id: `vol_${randomBytes(8).toString("hex")}`,
      instanceId,
      name: o.name ?? "data",
      region,
      createdAt: now,
      readyAt: now,
      retentionDays,
      lastScheduledAt: now,
      destroyed: false,
    };
    const folder = this.volumeFolder(volume.id);
    mkdirSync(path.dirname(folder), { recursive: true, mode: 0o700 });
    if (o.copyOf) cpSync(o.copyOf, folder, { recursive: true });
    else mkdirSync(folder, { recursive: true, mode: 0o700 });
    doc.volumes.push(volume);
    return volume;
  }

  /** A machine made before volumes were simulated gets its volume (an empty folder) when first needed. */
  private volumeOf(doc: StateDoc, m: LocalMachine): LocalVolume {
    const found = doc.volumes.find((v) => v.id === m.volumeId);
    if (found) return found;
    const now = this.now();
    const volume: LocalVolume = {
      id: m.volumeId, instanceId: m.instanceId, name: "data", region: m.region,
      createdAt: now, readyAt: now, retentionDays: DEFAULT_RETENTION_DAYS, lastScheduledAt: now, destroyed: false,
    };
    mkdirSync(this.volumeFolder(volume.id), { recursive: true, mode: 0o700 });
    doc.volumes.push(volume);
    return volume;
  }

  /** Copies the volume's folder as it is now; `creating` for one transition's time. */
  private takeSnapshot(doc: StateDoc, volume: LocalVolume): LocalSnapshot {
    const now = this.now();
    const snap: LocalSnapshot = {
      id: `vs_${randomBytes(12).toString("hex")}`,
      volumeId: volume.id,
      createdAt: now,
      readyAt: now + this.delayMs,
      sizeBytes: 0,
      retentionDays: volume.retentionDays,
    };
    const from = this.volumeFolder(volume.id);
    const to = this.snapshotFolder(snap.id);
    mkdirSync(path.dirname(to), { recursive: true, mode: 0o700 });
    cpSync(from, to, { recursive: true });
    snap.sizeBytes = folderBytes(to);
    doc.snapshots.push(snap);
    return snap;
  }

  private removeVolume(volume: LocalVolume): void {
    rmSync(this.volumeFolder(volume.id), { recursive: true, force: true });
    // Its snapshots stay until they expire, as Fly keeps a destroyed volume's.
    volume.destroyed = true;
  }

  /** Writes the config files under OPENCLAW_STATE_DIR into the machine's volume folder, as the machine's boot does. */
  private writeFiles(doc: StateDoc, m: LocalMachine): void {
    const folder = this.volumeFolder(this.volumeOf(doc, m).id);
    for (const f of m.config?.files ?? []) {
      const rel = path.posix.relative(OPENCLAW_STATE_DIR, f.path);
      if (rel.startsWith("..") || path.posix.isAbsolute(rel)) continue; // outside the volume: not kept across boots
      const target = path.join(folder, ...rel.split("/"));
      mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
      writeFileSync(target, f.content, { mode: 0o600 });
    }
  }

  // --- state machine ---

  private restartMachine(m: LocalMachine): void {
    if (["created", "stopped", "suspended", "failed"].includes(finalState(m))) this.schedule(m, this.boot(m));
    else this.schedule(m, ["stopping", "stopped", ...this.boot(m)]);
  }

  /** How the machine boots on its image: starting, then started, or failed on an image that crashes on boot. */
  private boot(m: LocalMachine): MachineState[] {
    return ["starting", this.failure(m) === "boot" ? "failed" : "started"];
  }

  private failure(m: LocalMachine): ImageFailure | undefined {
    return this.imageFailures.find((f) => f.image === m.image && (f.machineId === undefined || f.machineId === m.machineId))?.as;
  }

  /** Replaces the machine's pending transitions: the first state now, each next one `delayMs` later. */
  private schedule(m: LocalMachine, states: MachineState[]): void {
    const now = this.now();
    m.pending = states.map((state, i) => ({ state, at: now + i * this.delayMs }));
  }

  /** Applies every transition that is due; a destroyed machine is gone. */
  private settle(doc: StateDoc): void {
    const now = this.now();
    for (const m of doc.machines) {
      while (m.pending[0] && m.pending[0].at <= now) {
        m.state = m.pending[0].state;
        if (m.state === "started") m.checkChangedAt = m.pending[0].at;
        m.pending.shift();
      }
    }
    doc.machines = doc.machines.filter((m) => m.state !== "destroyed");
    // Snapshots past their retention are deleted, as Fly does.
    for (const snap of doc.snapshots.filter((x) => x.createdAt + x.retentionDays * DAY_MS <= now)) {
      rmSync(this.snapshotFolder(snap.id), { recursive: true, force: true });
    }
    doc.snapshots = doc.snapshots.filter((x) => x.createdAt + x.retentionDays * DAY_MS > now);
  }

  private find(doc: StateDoc, ref: MachineRef): LocalMachine | undefined {
    return doc.machines.find((m) => m.machineId === ref.machineId);
  }

  private require(doc: StateDoc, ref: MachineRef): LocalMachine {
    const m = this.find(doc, ref);
    if (!m || isGoing(m)) {
      throw new ComputeError("local_machine_not_found", `machine ${ref.machineId} does not exist`, { retryable: false, status: 404 });
    }
    return m;
  }

  private injectedFault(method: LocalProviderMethod): void {
    const error = this.faults.get(method)?.shift();
    if (error) throw error;
  }

  // --- storage ---

  /**
   * Reads the machines, brings them up to date, runs `fn` and saves the result (transitions
   * `fn` schedules take effect on the next read, at once when delayMs is 0). Everything here
   * is synchronous, so concurrent calls in this process can never interleave halfway.
   */
  private update<T>(fn: (doc: StateDoc) => T): T {
    const { doc, text } = this.load();
    this.settle(doc);
    const out = fn(doc);
    this.save(doc, text);
    return structuredClone(out);
  }

  /** The machines, and the file text they were read from. */
  private load(): { doc: StateDoc; text: string | null } {
    if (this.stateFile === undefined) return { doc: this.memory, text: null };
    let text: string;
    try {
      text = readFileSync(this.stateFile, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return { doc: { version: 1, machines: [], volumes: [], snapshots: [] }, text: null };
      throw err;
    }
    let parsed: unknown = undefined;
    try {
      parsed = JSON.parse(text);
    } catch {
      // reported below with the schema failure
    }
    const result = docSchema.safeParse(parsed);
    if (!result.success) {
      throw new ComputeError("local_state_unreadable", `${this.stateFile} is not a machines file this version can read`, { retryable: false });
    }
    return { doc: result.data, text };
  }

  /** Writes the machines back, unless nothing changed since `previous` was read (reads stay reads). */
  private save(doc: StateDoc, previous: string | null): void {
    if (this.stateFile === undefined) {
      this.memory = doc;
      return;
    }
    const onDisk: StateDoc = {
      ...doc,
      machines: doc.machines.map((m) => ({
        ...m,
        config: m.config && { ...m.config, secrets: Object.fromEntries(Object.keys(m.config.secrets).map((k) => [k, REDACTED])) },
      })),
    };
    const text = `${JSON.stringify(onDisk, null, 2)}\n`;
    if (text === previous) return;
    // Temp file + rename: a crash mid-write leaves the old file whole, never half a file.
    ensurePrivateDir(path.dirname(this.stateFile));
    const tmp = `${this.stateFile}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
    writeFileSync(tmp, text, { mode: 0o600 });
    renameSync(tmp, this.stateFile);
  }
}

const UNHEALTHY_OUTPUT = 'HTTP GET /healthz: 503 Service Unavailable {"ok":false,"status":"unhealthy"} (simulated)';
function notFound(what: string): ComputeError {
  return new ComputeError("local_not_found", `${what} does not exist`, { retryable: false, status: 404 });
}

function snapshotOf(x: LocalSnapshot, now: number): VolumeSnapshot {
  return {
    id: x.id,
    status: x.readyAt <= now ? "ready" : "creating",
    sizeBytes: x.sizeBytes,
    createdAt: new Date(x.createdAt).toISOString(),
    retentionDays: x.retentionDays,
  };
}

/** Bytes of the files under `dir`. */
function folderBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    total += entry.isDirectory() ? folderBytes(p) : statSync(p).size;
  }
  return total;
}

function refOf(m: LocalMachine): MachineRef {
  return { appName: m.appName, machineId: m.machineId, volumeId: m.volumeId, region: m.region };
}

/** The state the machine is heading for once its pending transitions are done. */
function finalState(m: LocalMachine): MachineState {
  return m.pending.at(-1)?.state ?? m.state;
}

/** Being destroyed, or scheduled to be. */
function isGoing(m: LocalMachine): boolean {
  return finalState(m) === "destroyed" || m.state === "destroying";
}
