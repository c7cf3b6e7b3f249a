import type { OperationSteps } from "./kit";

/** instance.restart: restarts the machine and waits until its assistant answers healthy again. */
export const restart: OperationSteps = async (run) => {
  const ref = run.machine();
  await run.change("restart", (compute) => compute.restart(ref));
  await run.waitFor(ref, "started");
  await run.healthy(ref);
};
