import { instanceAppName } from "@/lib/compute/naming";
import { callCompute, type OperationSteps } from "./kit";

/**
 * instance.delete: removes machine, volume and app. A create that failed
 * half-way may have left an app, IPs and a volume without a recorded machine:
 * destroy removes everything in the instance's app, named after the instance.
 */
export const destroy: OperationSteps = async (run) => {
  const { op, compute } = run;
  const ref = op.ref ?? { appName: instanceAppName(op.instanceId), machineId: "", volumeId: null, region: op.region };
  await run.step.run("destroy", () => callCompute(() => compute.destroy(ref)));
};
