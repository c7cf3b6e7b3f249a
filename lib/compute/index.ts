import path from "node:path";
import type { Config } from "@/lib/config";
import { FlyProvider } from "./fly";
import { LocalProvider } from "./local";
import type { ComputeProvider } from "./types";

export { CHECK_STATUSES, ComputeError, MACHINE_STATES } from "./types";
export type {
  CheckStatus,
  ComputeProvider,
  HealthResult,
  MachineCheck,
  MachineObservation,
  MachineRef,
  MachineState,
  ProvisionSpec,
  RenderedConfig,
} from "./types";
export { FlyProvider, type FlyProviderOptions } from "./fly";
export { LocalProvider, type ImageFailure, type LocalProviderOptions, type LocalProviderMethod } from "./local";

/** Test seams shared by both providers: fetch (Fly only), sleep and clock. */
export interface ComputeProviderOverrides {
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/**
 * The provider the configuration asks for. The simulated machines are kept
 * next to a file-backed PGlite database (DATA_DIR/machines.json), and their
 * volumes and snapshots in DATA_DIR/volumes and DATA_DIR/snapshots, so they
 * outlive a restart just as the instance rows do; with any other database
 * (in memory, or a real Postgres shared by several processes) the machines
 * live in memory and their folders in a temporary folder.
 */
export function createComputeProvider(
  cfg: Pick<Config, "compute" | "instanceDomain" | "dataDir" | "database">,
  opts: ComputeProviderOverrides = {},
): ComputeProvider {
  if (cfg.compute.kind === "fly") {
    return new FlyProvider({
      token: cfg.compute.token,
      org: cfg.compute.org,
      apiBaseUrl: cfg.compute.apiBaseUrl,
      instanceDomain: cfg.instanceDomain,
      ...opts,
    });
  }
  const fileBacked = cfg.database.kind === "pglite" && cfg.database.dataDir !== null;
  return new LocalProvider({
    delayMs: cfg.compute.delayMs,
    failingImages: cfg.compute.failingImages,
    stateFile: fileBacked ? path.join(cfg.dataDir, "machines.json") : undefined,
    dataDir: fileBacked ? cfg.dataDir : undefined,
    sleep: opts.sleep,
    now: opts.now,
  });
}
