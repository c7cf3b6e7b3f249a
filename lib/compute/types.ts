/**
 * The one interface every compute provider implements. The operation runner
 * calls these methods from durable steps, so each must be safe to call again
 * after a crash or a retry (idempotent): "already there" is success.
 */

/**
 * A machine's states, as Fly names them (https://fly.io/docs/machines/machine-states/);
 * the local provider uses the same. The one list: the providers and the lifecycle's
 * observed-state mapping (lib/operations/lifecycle.ts) read it.
 */
export const MACHINE_STATES = [
  "created",
  "starting",
  "started",
  "stopping",
  "stopped",
  "suspending",
  "suspended",
  "replacing",
  "updating",
  "destroying",
  "destroyed",
  "failed",
] as const;
export type MachineState = (typeof MACHINE_STATES)[number];

/** Where an instance lives on the provider, stored on the instance row once known. */
export interface MachineRef {
  appName: string;
  machineId: string;
  volumeId: string | null;
  region: string;
}

/** The OpenClaw configuration rendered for one machine (see the instance config documents). */
export interface RenderedConfig {
  /** Files written into the machine, e.g. the OpenClaw config JSON. */
  files: { path: string; content: string }[];
  /** Plain environment variables. */
  env: Record<string, string>;
  /** Secret environment variables (model keys, bot tokens); never logged. */
  secrets: Record<string, string>;
}

export interface ProvisionSpec {
  instanceId: string;
  subdomain: string;
  region: string;
  /** The container image the machine runs: its OpenClaw version's, pinned (lib/openclaw/versions.ts). */
  image: string;
  /** OPENCLAW_GATEWAY_TOKEN for the machine; a secret. */
  gatewayToken: string;
  config: RenderedConfig | null;
  /** Days the volume's snapshots are kept (its `snapshot_retention`, 1-60); the provider's default when absent. */
  backupRetentionDays?: number;
}

/** A snapshot's state in the API's words (Fly's "created" is `ready`). The one list: the backup resource's enum reads it. */
export const SNAPSHOT_STATUSES = ["creating", "ready", "failed"] as const;
export type SnapshotStatus = (typeof SNAPSHOT_STATUSES)[number];

/** A point-in-time copy of a volume, as the provider lists it (https://fly.io/docs/volumes/snapshots/). */
export interface VolumeSnapshot {
  /** The provider's id (Fly: `vs_...`). */
  id: string;
  status: SnapshotStatus;
  /** Bytes stored; null when the provider does not say yet. */
  sizeBytes: number | null;
  /** RFC 3339. */
  createdAt: string;
  /** Days the provider keeps it, counted from `createdAt`; null when it does not say. */
  retentionDays: number | null;
}

/** What `restoreVolume` makes: a new volume holding a snapshot's data, beside the machine's current one. */
export interface RestoreVolumeSpec {
  snapshotId: string;
  /** Names the new volume, so a retried call finds the one it already made (the restore operation's id). */
  tag: string;
  /** The new volume's snapshot retention, in days. */
  backupRetentionDays: number;
}

export interface HealthResult {
  healthy: boolean;
  detail: string;
}

/**
 * A health check's status as Fly reports it on the machine (Consul's three:
 * fly-go `ConsulCheckStatus`). "warning" is also what a check shows before its
 * first run.
 */
export const CHECK_STATUSES = ["passing", "warning", "critical"] as const;
export type CheckStatus = (typeof CHECK_STATUSES)[number];

/**
 * One of the machine's health checks, as the machine object's `checks` reports
 * it (https://fly.io/docs/machines/api/machines-resource/, "Machine properties";
 * fly-go `MachineCheckStatus`): a service check is named like
 * `servicecheck-00-http-3000`.
 */
export interface MachineCheck {
  name: string;
  status: CheckStatus;
  /** What the check last saw, e.g. the HTTP status and body. */
  output: string;
  /** When the check last reported (RFC 3339), if the provider says. */
  updatedAt: string | null;
}

/** What one look at a machine shows: its state (null: it no longer exists) and its health checks. */
export interface MachineObservation {
  state: MachineState | null;
  checks: MachineCheck[];
}

export interface ComputeProvider {
  readonly kind: "local" | "fly";
  /**
   * Creates whatever is missing of app, volume, certificate and machine, and starts it
   * (it may still be booting on return: wait for "started"). Idempotent.
   */
  provision(spec: ProvisionSpec): Promise<MachineRef>;
  start(ref: MachineRef): Promise<void>;
  stop(ref: MachineRef): Promise<void>;
  restart(ref: MachineRef): Promise<void>;
  /**
   * Writes the rendered config onto the machine, which restarts it (a stopped
   * machine is started too, as Fly does for an update): wait for "started" after.
   * Throws only when the config was not written (refused, or the call failed);
   * once it was written, a machine that then fails to boot is reported by that
   * wait, so the caller knows there is something to roll back.
   */
  applyConfig(ref: MachineRef, config: RenderedConfig): Promise<void>;
  /**
   * Moves the machine to another image (an OpenClaw upgrade, or putting the
   * previous image back), keeping everything else of it; like applyConfig this
   * restarts it, starting a stopped one: wait for "started" after. Throws only
   * when the image was not written; a new image that then fails to boot is
   * reported by that wait. Idempotent: the image it already runs is written again.
   */
  changeImage(ref: MachineRef, image: string): Promise<void>;
  /**
   * Resolves once the machine is in `state`; throws a retryable ComputeError on
   * timeout, and a permanent one when the machine is gone, being destroyed, or
   * failed while "started" was awaited.
   */
  waitForState(ref: MachineRef, state: "started" | "stopped", timeoutMs: number): Promise<void>;
  checkHealth(ref: MachineRef): Promise<HealthResult>;
  /** The machine's current state, or null when it no longer exists. */
  getState(ref: MachineRef): Promise<MachineState | null>;
  /**
   * The machine's state and health checks in one provider call (Fly: one GET of
   * the machine), for the regular observation of every instance. A machine that
   * no longer exists is `{state: null}`; a provider that cannot answer throws
   * a ComputeError (retryable, with `retryAfterMs` on a 429), which is no
   * observation at all.
   */
  observe(ref: MachineRef): Promise<MachineObservation>;
  /** Removes machine, volume and app. Idempotent: what is already gone is fine. */
  destroy(ref: MachineRef): Promise<void>;

  // --- backups (volume snapshots) and restores ---

  /**
   * The snapshots of one of the instance's volumes (its current one, or one it had
   * before a restore: a destroyed volume's snapshots stay until they expire), in
   * no particular order; null when the provider does not know the volume (any more).
   */
  listSnapshots(ref: MachineRef, volumeId: string): Promise<VolumeSnapshot[] | null>;
  /**
   * Starts an on-demand snapshot of a volume (it is `creating` at first). `known`
   * is the volume's snapshot ids listed before the first attempt: a snapshot not
   * among them is this call's own, made by an attempt whose answer was lost, and
   * is answered instead of a second one. `id` is null while the provider has not
   * named it yet (look for the new one in listSnapshots).
   */
  createSnapshot(ref: MachineRef, volumeId: string, known: readonly string[]): Promise<{ id: string | null }>;
  /** Sets how many days the volume's future snapshots are kept (1-60). */
  setBackupRetention(ref: MachineRef, volumeId: string, days: number): Promise<void>;
  /**
   * Creates a volume from a snapshot in the machine's region, named after
   * `spec.tag` (a retried call finds the one it made). Answers the new volume's
   * id at once; it may still be restoring (mountVolume waits for it).
   */
  restoreVolume(ref: MachineRef, spec: RestoreVolumeSpec): Promise<string>;
  /**
   * Moves the machine onto `volumeId` (once that volume can be mounted),
   * mounted where its current volume is, which reboots it (a stopped machine is
   * started, as Fly does for an update), and resolves once the machine's new
   * version is started; a machine that already mounts it is started if it is
   * not running, and waited for.
   * Throws a permanent ComputeError when the machine fails to start on it.
   */
  mountVolume(ref: MachineRef, volumeId: string): Promise<void>;
  /** Destroys one volume (it must not be mounted). Idempotent: a volume already gone is fine. */
  destroyVolume(ref: MachineRef, volumeId: string): Promise<void>;
}

/**
 * A provider failure. `retryable` says whether trying the same call again may
 * succeed (5xx, 408, 429, no capacity, a held lease, a wait that timed out) or
 * never will (a bad request, a missing resource, an auth failure).
 * `retryAfterMs` carries the provider's own hint (a 429's Retry-After) when it
 * gave one. Messages never contain API tokens or secret values.
 */
export class ComputeError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  constructor(
    code: string,
    message: string,
    opts: { retryable: boolean; status?: number; retryAfterMs?: number; cause?: unknown },
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "ComputeError";
    this.code = code;
    this.retryable = opts.retryable;
    this.status = opts.status;
    this.retryAfterMs = opts.retryAfterMs;
  }
}
