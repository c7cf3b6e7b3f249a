import type { OperationSteps } from "./kit";

/** instance.start: starts the stopped machine and waits until its assistant answers healthy. */
export const start: OperationSteps = async (run) => {
  const ref = run.machine();
  await run.change("start", (compute) => compute.start(ref));
  await run.waitFor(ref, "started");
  await run.healthy(ref);
};
