import { z } from "zod";
import { defineEvent } from "@/lib/jobs/types";

/** An operation was recorded and waits to be carried out. Its id doubles as the event id, so a re-send is ignored. */
export const operationRequested = defineEvent(
  "instance/operation.requested",
  z.object({
    operation_id: z.string(),
    instance_id: z.string(),
    account_id: z.string(),
    type: z.string(),
  }),
);
