import type { OperationType } from "@/lib/operations/lifecycle";
import { backup } from "./backup";
import { configure } from "./configure";
import { create } from "./create";
import { destroy } from "./delete";
import type { OperationSteps } from "./kit";
import { restart } from "./restart";
import { restore } from "./restore";
import { start } from "./start";
import { stop } from "./stop";
import { upgrade } from "./upgrade";

/**
 * The step function of each operation type in the lifecycle table
 * (lib/operations/lifecycle.ts). The type says every row has one: a new
 * operation type does not compile until its step function is named here.
 */
export const STEPS: Record<OperationType, OperationSteps> = {
  "instance.create": create,
  "instance.start": start,
  "instance.stop": stop,
  "instance.restart": restart,
  "instance.delete": destroy,
  "instance.configure": configure,
  "instance.upgrade": upgrade,
  "instance.backup": backup,
  "instance.restore": restore,
};
