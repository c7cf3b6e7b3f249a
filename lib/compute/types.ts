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
  /** OPENCLAW_GATEWAY_TOKEN for the machine; a secret. */
  gatewayToken: string;
  config: RenderedConfig | null;
}

export interface HealthResult {
  healthy: boolean;
  detail: string;
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
   * Resolves once the machine is in `state`; throws a retryable ComputeError on
   * timeout, and a permanent one when the machine is gone, being destroyed, or
   * failed while "started" was awaited.
   */
  waitForState(ref: MachineRef, state: "started" | "stopped", timeoutMs: number): Promise<void>;
  checkHealth(ref: MachineRef): Promise<HealthResult>;
  /** The machine's current state, or null when it no longer exists. */
  getState(ref: MachineRef): Promise<MachineState | null>;
  /** Removes machine, volume and app. Idempotent: what is already gone is fine. */
  destroy(ref: MachineRef): Promise<void>;
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
