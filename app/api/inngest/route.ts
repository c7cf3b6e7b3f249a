import { serve } from "inngest/next";
import { processRuntime } from "@/inngest/runtime";
import { toInngestFunction } from "@/lib/jobs/define";

// Inngest Cloud (or the Inngest dev server) calls this endpoint to run the durable functions.
const { client, functions } = processRuntime();
export const { GET, POST, PUT } = serve({
  client,
  functions: functions.map((def) => toInngestFunction(client, def)),
});
