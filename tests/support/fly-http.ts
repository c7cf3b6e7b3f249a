import { eq } from "drizzle-orm";
import { afterAll, afterEach, beforeAll, beforeEach, expect } from "vitest";
import { getDb } from "@/db/client";
import { instance } from "@/db/schema";
import { createRuntime, type Runtime } from "@/inngest/runtime";
import { createComputeProvider } from "@/lib/compute";
import { config, resetConfig } from "@/lib/config";
import { hasInstalledDeps, installDeps, installedDeps, type Deps } from "@/lib/deps";
import type { JobLogger } from "@/lib/jobs/types";
import { mockServer } from "./msw";
import { createFlyFake, type FakeMachine, type FlyFake } from "../fakes/fly-api";
import { client, createAccount, uniqueSubdomain, waitForOperation, type ApiResponse } from "./fixtures";
import { useApiServer } from "./security";

/**
 * The API over real HTTP with `INSTANCE_PROVIDER=fly`, against the stateful Fly
 * fake (tests/fakes/fly-api.ts, through msw): a request travels the wrapper, the
 * service, the run-operation function on the test's runtime (inngest/runtime.ts,
 * installed as the process's for the test), the FlyProvider the configuration builds, and Fly-shaped HTTP, and comes back as the operation
 * a user polls. Only time is not real: the provider and the runner sleep on the
 * fake's clock, so a 3 s health-check pause or a 60 s /wait take no time.
 *
 *   const fly = useFlyApi();
 *   it("...", async () => {
 *     const { api, id } = await fly.runningInstance();
 *     const op = await fly.finished(api, await api.post(`/api/v1/instances/${id}/stop`));
 *     expect(fly.machineOf(...).state).toBe("stopped");
 *   });
 *
 * Each test gets a fresh fake (`fly.fake`) and a fresh runtime.
 */

export const FLY_TOKEN = "fly-test-token";
export const FLY_ORG = "personal";
export const FLY_INSTANCE_DOMAIN = "myopenclaw.app";

const SETTINGS: Record<string, string> = {
  INSTANCE_PROVIDER: "fly",
  FLY_API_TOKEN: FLY_TOKEN,
  FLY_ORG_SLUG: FLY_ORG,
  FLY_API_BASE_URL: "https://api.machines.dev",
  INSTANCE_DOMAIN: FLY_INSTANCE_DOMAIN,
  // Fly configured means production rules; links are absolute from the request's host only
  // where the deployment says so (as behind a proxy that sets X-Forwarded-Host).
  TRUST_FORWARDED_HOST: "1",
};

const quiet: JobLogger = { info() {}, warn() {}, error() {}, debug() {} };

export type Api = ReturnType<typeof client>;

export interface FlyApi {
  readonly url: string;
  /** This test's Fly: its state, clock, fault injection and recorded requests. */
  readonly fake: FlyFake;
  /** Every sleep the runner took (step sleeps and retry backoffs), in ms of the fake's clock. */
  readonly sleeps: number[];
  /** The runner's sleeps wait until `release()`: an operation can be looked at while it waits to retry. */
  holdSleeps(): { release(): void };
  /** A new Pro account's client (all scopes, room for many operations). */
  account(): Promise<Api>;
  /** A 202 operation answer, followed over HTTP until it has finished; answers the finished operation. */
  finished(api: Api, accepted: ApiResponse<any>): Promise<ApiResponse<any>>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** An instance created over HTTP (with `body`'s documents) whose create succeeded. */
  runningInstance(body?: Record<string, unknown>): Promise<{ api: Api; id: string }>;
  /** An instance created and then stopped over HTTP. */
  stoppedInstance(body?: Record<string, unknown>): Promise<{ api: Api; id: string }>;
  /** The instance's Fly app name, as recorded on its row. */
  appOf(instanceId: string): Promise<string>;
  /** The instance's one live machine on the fake. */
  machineOf(instanceId: string): Promise<FakeMachine>;
}

export function useFlyApi(): FlyApi {
  const saved: Record<string, string | undefined> = {};
  const msw = mockServer();
  const server = useApiServer();
  let fake: FlyFake | undefined;
  let runtime: Runtime | undefined;
  let previous: Deps | undefined;
  let sleeps: number[] = [];
  let hold: { gate: Promise<void>; release(): void } | null = null;

  beforeAll(async () => {
    for (const [k, v] of Object.entries(SETTINGS)) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
    resetConfig();
    expect(config().compute.kind).toBe("fly");
    msw.listen();
    await getDb(); // opening the database takes seconds: not inside the first test's time limit
  });

  beforeEach(() => {
    const f = (fake = createFlyFake({ token: FLY_TOKEN, orgs: [FLY_ORG] }));
    msw.server.resetHandlers(...f.handlers);
    sleeps = [];
    // The composition root as production builds it, from the configuration above: the
    // provider is the production factory's with only the fake's clock, and the runner's
    // sleeps move that clock instead of waiting.
    runtime = createRuntime(config(), {
      compute: createComputeProvider(config(), { now: f.clock.now, sleep: async (ms) => f.clock.advance(ms) }),
      runner: {
        sleep: async (ms) => {
          sleeps.push(ms);
          while (hold) await hold.gate;
          f.clock.advance(ms);
        },
        logger: process.env.DEBUG_JOBS ? console : quiet,
      },
    });
    previous = hasInstalledDeps() ? installedDeps() : undefined;
    installDeps(runtime.deps);
  });

  afterEach(async () => {
    hold?.release();
    // Nothing a test started may run on into the next one.
    await runtime?.runner?.idle();
    runtime?.stop();
    if (previous) installDeps(previous);
  });

  afterAll(() => {
    msw.server.close();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    resetConfig();
  });

  const harness: FlyApi = {
    get url() {
      return server.url;
    },
    get fake() {
      if (!fake) throw new Error("the Fly fake exists only inside a test");
      return fake;
    },
    get sleeps() {
      return sleeps;
    },
    holdSleeps() {
      let open!: () => void;
      const h = {
        gate: new Promise<void>((r) => (open = r)),
        release() {
          if (hold === h) hold = null;
          open();
        },
      };
      hold = h;
      return h;
    },
    async account() {
      const me = await createAccount({ plan: "pro", limits: { heavy: 100 } });
      return client(server.url, me.token);
    },
    async finished(api, accepted) {
      expect(accepted.status, accepted.text).toBe(202);
      const done = await waitForOperation(api, accepted.body.id);
      expect(done.body.id).toBe(accepted.body.id);
      return done;
    },
    async runningInstance(body = {}) {
      const api = await harness.account();
      const op = await harness.finished(api, await api.post("/api/v1/instances", { subdomain: uniqueSubdomain("fly"), ...body }));
      expect(op.body, op.text).toMatchObject({ status: "succeeded", error: null });
      return { api, id: op.body.instance_id as string };
    },
    async stoppedInstance(body = {}) {
      const { api, id } = await harness.runningInstance(body);
      const op = await harness.finished(api, await api.post(`/api/v1/instances/${id}/stop`));
      expect(op.body, op.text).toMatchObject({ status: "succeeded", error: null });
      return { api, id };
    },
    async appOf(instanceId) {
      const [row] = await (await getDb()).select({ appName: instance.appName }).from(instance).where(eq(instance.id, instanceId));
      if (!row?.appName) throw new Error(`instance ${instanceId} has no Fly app recorded`);
      return row.appName;
    },
    async machineOf(instanceId) {
      const machines = harness.fake.machinesOf(await harness.appOf(instanceId));
      expect(machines, `machines of ${instanceId}`).toHaveLength(1);
      return machines[0]!;
    },
  };
  return harness;
}
