import type { OperationSteps } from "./kit";

/** instance.stop: stops the machine and waits until it is stopped. */
export const stop: OperationSteps = async (run) => {
  const ref = run.machine();
  await run.change("stop", (compute) => compute.stop(ref));
  await run.waitFor(ref, "stopped");
};
