import { planRetentionDays } from "@/lib/services/backup-records";
import { ensureGatewayToken, recordMachine } from "@/lib/services/operation-progress";
import { renderInstanceConfig } from "@/lib/services/instance-config";
import { instanceImage } from "@/lib/services/versions";
import { callCompute, type OperationSteps } from "./kit";

/**
 * instance.create: provisions the machine (app, volume, certificate, machine)
 * on the image of the instance's version, with the documents given at creation
 * (or the defaults) and the volume's snapshot retention from the account's
 * plan, then waits for it to start and its assistant to answer healthy.
 */
export const create: OperationSteps = async (run) => {
  const { op, deps, compute } = run;
  const ref = await run.step.run("provision", async () => {
    const db = await deps.db();
    await run.stillOpen(db);
    // The gateway token is made once and kept sealed, so a retried step provisions with the same one.
    const gatewayToken = await ensureGatewayToken(db, op.instanceId);
    // Rendered here so the documents' secrets never leave the step.
    const config = renderInstanceConfig(await run.documents(db), { subdomain: op.subdomain, gatewayToken });
    const image = await instanceImage(db, op.instanceId);
    const backupRetentionDays = await planRetentionDays(db, op.instanceId);
    const r = await callCompute(() =>
      compute.provision({ instanceId: op.instanceId, subdomain: op.subdomain, region: op.region, image, gatewayToken, config, backupRetentionDays }),
    );
    await recordMachine(db, op.instanceId, r, backupRetentionDays);
    return r;
  });
  await run.waitFor(ref, "started");
  await run.healthy(ref);
};
