import path from "node:path";
import { config, type Config } from "@/lib/config";
import { FlyProvider } from "./fly";
import { LocalProvider } from "./local";
import type { ComputeProvider } from "./types";

export { ComputeError } from "./types";
export type { ComputeProvider, HealthResult, MachineRef, MachineState, ProvisionSpec, RenderedConfig } from "./types";
export { FlyProvider, type FlyProviderOptions } from "./fly";
export { LocalProvider, type LocalProviderOptions, type LocalProviderMethod } from "./local";

/** Test seams shared by both providers: fetch (Fly only), sleep and clock. */
export interface ComputeProviderOverrides {
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/**
 * The provider the configuration asks for. The simulated machines are kept
 * next to a file-backed PGlite database (DATA_DIR/machines.json) so they
 * outlive a restart just as the instance rows do; with any other database
 * (in memory, or a real Postgres shared by several processes) they live in
 * memory.
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
      image: cfg.compute.image,
      instanceDomain: cfg.instanceDomain,
      ...opts,
    });
  }
  const fileBacked = cfg.database.kind === "pglite" && cfg.database.dataDir !== null;
  return new LocalProvider({
    delayMs: cfg.compute.delayMs,
    stateFile: fileBacked ? path.join(cfg.dataDir, "machines.json") : undefined,
    sleep: opts.sleep,
    now: opts.now,
  });
}

// Kept on globalThis: Next.js dev reloads modules, and a second LocalProvider
// would lose the in-memory machines.
const holder = globalThis as unknown as { __mocComputeProvider?: ComputeProvider };

/** This process's compute provider, built from `config()` on first use. */
export function computeProvider(): ComputeProvider {
  holder.__mocComputeProvider ??= createComputeProvider(config());
  return holder.__mocComputeProvider;
}

/** Tests only: forget the provider so the next call builds a new one from the (reset) configuration. */
export function resetComputeProvider(): void {
  delete holder.__mocComputeProvider;
}

/** Tests only: use this provider (e.g. one on a fake clock) until reset. */
export function setComputeProvider(provider: ComputeProvider): void {
  holder.__mocComputeProvider = provider;
}
