import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createComputeProvider, FlyProvider, LocalProvider } from "@/lib/compute";
import type { Config } from "@/lib/config";
import { createFlyFake } from "@/tests/fakes/fly-api";
import { mockServer } from "../support/msw";

const spec = { instanceId: "inst_factory1", subdomain: "carol", region: "iad", image: "ghcr.io/openclaw/openclaw:2026.11.20", gatewayToken: "gw-factory-0123456789", config: null };

const { server, listen } = mockServer();
beforeAll(listen);
afterAll(() => server.close());

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

type FactoryConfig = Pick<Config, "compute" | "instanceDomain" | "dataDir" | "database">;

describe("createComputeProvider", () => {
  it("builds a Fly provider that speaks to the configured Machines API origin", async () => {
    const fake = createFlyFake({ token: "fly-factory-token" });
    server.resetHandlers(...fake.handlers);
    const cfg: FactoryConfig = {
      compute: { kind: "fly", token: "fly-factory-token", org: "personal", apiBaseUrl: "https://api.machines.dev" },
      instanceDomain: "myopenclaw.app",
      dataDir: ".data",
      database: { kind: "pg", url: "postgres://x" },
    };
    const fly = createComputeProvider(cfg, { now: fake.clock.now, sleep: async (ms) => fake.clock.advance(ms) });
    expect(fly).toBeInstanceOf(FlyProvider);
    expect(fly.kind).toBe("fly");
    const ref = await fly.provision(spec);
    await fly.waitForState(ref, "started", 60_000);
    expect(fake.state.certificates.map((c) => c.hostname)).toEqual(["carol.myopenclaw.app"]);
    expect(fake.machinesOf(ref.appName)[0]?.config.env).toMatchObject({ OPENCLAW_GATEWAY_TOKEN: spec.gatewayToken });
  });

  it("keeps simulated machines in DATA_DIR/machines.json beside a file-backed PGlite", async () => {
    dir = mkdtempSync(path.join(tmpdir(), "moc-factory-"));
    const cfg: FactoryConfig = {
      compute: { kind: "local", delayMs: 0, failingImages: [] },
      instanceDomain: "localhost",
      dataDir: dir,
      database: { kind: "pglite", dataDir: path.join(dir, "pglite") },
    };
    const p = createComputeProvider(cfg);
    expect(p).toBeInstanceOf(LocalProvider);
    const ref = await p.provision(spec);
    expect(existsSync(path.join(dir, "machines.json"))).toBe(true);
    expect(await createComputeProvider(cfg).getState(ref)).toBe("started");
  });

  it("keeps them in memory with an in-memory or shared database", async () => {
    dir = mkdtempSync(path.join(tmpdir(), "moc-factory-"));
    for (const database of [{ kind: "pglite", dataDir: null }, { kind: "pg", url: "postgres://x" }] as const) {
      const cfg: FactoryConfig = { compute: { kind: "local", delayMs: 0, failingImages: [] }, instanceDomain: "localhost", dataDir: dir, database };
      const ref = await createComputeProvider(cfg).provision(spec);
      expect(existsSync(path.join(dir, "machines.json"))).toBe(false);
      expect(await createComputeProvider(cfg).getState(ref)).toBeNull();
    }
  });
});
