import { serve } from "inngest/next";
import { inngest } from "@/inngest/client";
import { allFunctions } from "@/inngest/functions";
import { toInngestFunction } from "@/lib/jobs/define";

// Inngest Cloud (or the Inngest dev server) calls this endpoint to run the durable functions.
export const { GET, POST, PUT } = serve({
  client: inngest,
  functions: allFunctions().map((def) => toInngestFunction(inngest, def)),
});
