import { serve } from "inngest/next";
import { processRuntime } from "@/inngest/runtime";
import { optionsHandler } from "@/lib/http/route";
import { toInngestFunction } from "@/lib/jobs/define";

// Inngest Cloud (or the Inngest dev server) calls this endpoint to run the durable functions.
const { client, functions } = processRuntime();
export const { GET, POST, PUT } = serve({
  client,
  functions: functions.map((def) => toInngestFunction(client, def)),
});

// The answer to OPTIONS, and to methods outside the API (the front door hands those on as OPTIONS).
export const OPTIONS = optionsHandler("GET, POST, PUT, OPTIONS");
