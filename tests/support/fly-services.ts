import { eq } from "drizzle-orm";
import { beforeAll, beforeEach } from "vitest";
import { getDb } from "@/db/client";
import { backup, instance, operation } from "@/db/schema";
import { makeRunOperation } from "@/inngest/functions/run-operation";
import type { FlyProvider } from "@/lib/compute/fly";
import type { ServiceContext } from "@/lib/context";
import type { Deps } from "@/lib/deps";
import { operationRequestedEvent } from "@/lib/jobs/events";
import { LocalRunner } from "@/lib/jobs/local-runner";
import { verifyToken, type Principal } from "@/lib/keys/verify";
import type { PlanName } from "@/lib/plans";
import type { OperationResource } from "@/lib/schemas/instances";
import { createInstance } from "@/lib/services/instances";
import { getOperation } from "@/lib/services/operations";
import type { FakeMachine, FlyFake } from "../fakes/fly-api";
import { createAccount, uniqueSubdomain, type TestAccount } from "./fixtures";
import { silent, useFlyFake } from "./operation-harness";

/**
 * Services called as a request calls them (one transaction, the key's
 * account), and the operations they start carried out to their end by the
 * real run-operation function on a LocalRunner, against a FlyProvider on the
 * stateful Fly fake. Time is the fake's: the runner's sleeps (step sleeps,
 * retry backoffs) and the provider's waits move its clock, so a snapshot being
 * made or a restored volume hydrating takes no real time.
 *
 *   const fly = useFlyServices();
 *   const id = await fly.runningInstance();
 *   const op = await fly.run(await fly.call((ctx) => startBackup(ctx, id)));
 */
export interface FlyServices {
  readonly fake: FlyFake;
  readonly provider: FlyProvider;
  /** The Deps the runner's functions get (the fake's provider and clock). */
  readonly deps: Deps;
  /** The test's account (Pro unless `useFlyServices({ plan })`). */
  readonly account: TestAccount;
  call<T>(fn: (ctx: ServiceContext) => Promise<T>): Promise<T>;
  /** Carries the operation out to its end; answers it as GET /operations/{id} would. */
  run(op: OperationResource): Promise<OperationResource>;
  /** An instance created through the services whose create succeeded. */
  runningInstance(): Promise<string>;
  instanceRow(id: string): Promise<typeof instance.$inferSelect>;
  backupRows(id: string): Promise<(typeof backup.$inferSelect)[]>;
  /** The instance's one live machine. */
  machineOf(id: string): Promise<FakeMachine>;
}

export function useFlyServices(opts: { plan?: PlanName } = {}): FlyServices {
  const newFly = useFlyFake();
  let made: ReturnType<typeof newFly> | undefined;
  let deps: Deps | undefined;
  let runner: LocalRunner | undefined;
  let account: TestAccount | undefined;
  let who: Principal | undefined;

  beforeAll(async () => {
    await getDb(); // opening the database takes seconds: not inside the first test's time limit
  }, 60_000);

  beforeEach(async () => {
    const m = (made = newFly());
    // The services read the real clock (a backup past its expiry is not listed): the fake's starts at today.
    m.fake.clock.advance(Math.max(0, Date.now() - m.fake.clock.now()));
    deps = { db: getDb, compute: () => m.provider, send: async () => {}, now: () => new Date(m.fake.clock.now()) };
    runner = new LocalRunner([makeRunOperation(deps)], { sleep: async (ms) => m.fake.clock.advance(ms), backoffMs: () => 1000, logger: silent });
    account = await createAccount({ plan: opts.plan ?? "pro", limits: { heavy: 1000 } });
    const v = await verifyToken(await getDb(), account.token);
    if (!v.ok) throw new Error("test key did not verify");
    who = v.principal;
  });

  const need = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`${what} exists only inside a test`);
    return v;
  };

  const self: FlyServices = {
    get fake() {
      return need(made, "the Fly fake").fake;
    },
    get provider() {
      return need(made, "the Fly provider").provider;
    },
    get deps() {
      return need(deps, "deps");
    },
    get account() {
      return need(account, "the account");
    },
    async call(fn) {
      const p = need(who, "the account");
      const db = await getDb();
      return db.transaction((tx) =>
        fn({ requestId: "req_fly_services", db: tx, account: p.account, key: p.key, afterCommit: () => undefined, sendAfterCommit: () => undefined }),
      );
    },
    async run(op) {
      const r = need(runner, "the runner");
      const [row] = await (await getDb()).select().from(operation).where(eq(operation.id, op.id));
      await r.send(operationRequestedEvent(row!));
      await r.idle();
      return self.call((ctx) => getOperation(ctx, op.id));
    },
    async runningInstance() {
      const op = await self.run(await self.call((ctx) => createInstance(ctx, { subdomain: uniqueSubdomain("flyb") })));
      if (op.status !== "succeeded") throw new Error(`create failed: ${JSON.stringify(op.error)}`);
      return op.instance_id;
    },
    async instanceRow(id) {
      const [row] = await (await getDb()).select().from(instance).where(eq(instance.id, id));
      return row!;
    },
    async backupRows(id) {
      return (await getDb()).select().from(backup).where(eq(backup.instanceId, id)).orderBy(backup.id);
    },
    async machineOf(id) {
      const machines = self.fake.machinesOf((await self.instanceRow(id)).appName!);
      if (machines.length !== 1) throw new Error(`expected one machine for ${id}, found ${machines.length}`);
      return machines[0]!;
    },
  };
  return self;
}
