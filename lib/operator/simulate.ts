import { z } from "zod";
import { SIMULATIONS, type LocalProvider, type Simulation } from "../compute/local";
import { findAnyLiveInstance } from "../services/instance-lookup";
import { machineRef } from "../services/operation-progress";
import { defineCommand, UsageError } from "./command";

const WHAT: Record<Simulation, string> = {
  crash: "crashed: it is stopped, and stays down",
  unhealthy: "fails its health check now (it keeps running)",
  recover: "passes its health check again, and starts if it was down",
};

/**
 * `npm run admin -- simulate --instance <id|subdomain> crash|unhealthy|recover`:
 * something happens to an embedded instance's simulated machine behind the
 * platform's back, so a newcomer can watch monitoring notice it: within a
 * minute the observation changes the instance's status and health, records
 * instance.status_changed / instance.health_changed (delivered to webhook
 * endpoints, listed by GET /events), and GET /metrics shows it. It runs in the
 * server, which holds the simulated machines.
 */
export const simulate = defineCommand({
  name: "simulate",
  summary: "Make an embedded instance's simulated machine crash, fail its health check, or recover",
  usage: `--instance <id|subdomain> <${SIMULATIONS.join("|")}>`,
  positionals: ["what"],
  where: "server",
  args: z.strictObject({
    instance: z.string().min(1, "an instance id (inst_...) or subdomain"),
    what: z.enum(SIMULATIONS, `one of ${SIMULATIONS.join(", ")}`),
  }),
  async run({ db, compute }, a) {
    // By kind, not instanceof: Next.js bundles the route that runs this apart from the start-up
    // code that built the provider, each with its own copy of the LocalProvider class.
    const found = compute();
    if (found.kind !== "local") {
      throw new UsageError(`simulate acts on the simulated machines of the embedded mode; this server's instances run on ${found.kind}.`);
    }
    const provider = found as LocalProvider;
    const inst = await findAnyLiveInstance(db, a.instance);
    if (!inst) throw new UsageError(`No live instance ${a.instance}`);
    const ref = machineRef(inst);
    if (!ref) throw new UsageError(`Instance ${inst.id} has no machine yet (its creation has not provisioned one).`);
    try {
      provider.simulate(ref, a.what);
    } catch (err) {
      throw new UsageError(`Instance ${inst.id}: ${(err as Error).message}`);
    }
    const next = new Date(Math.floor(Date.now() / 60_000) * 60_000 + 60_000);
    return {
      text:
        `The machine of ${inst.id} (${inst.subdomain}) ${WHAT[a.what]}. ` +
        `The platform notices at its next observation (within a minute, from ${next.toISOString().slice(11, 19)} UTC): ` +
        "GET /api/v1/instances/{id}, GET /api/v1/events, GET /api/v1/metrics and your webhook endpoints will show it.",
      json: { instance_id: inst.id, subdomain: inst.subdomain, simulated: a.what, next_observation_at: next.toISOString() },
    };
  },
});
