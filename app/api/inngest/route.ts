import { serve } from "inngest/next";
import { inngest } from "@/inngest/client";
import { allFunctions } from "@/inngest/functions";
import { optionsHandler } from "@/lib/http/route";
import { toInngestFunction } from "@/lib/jobs/define";

// Inngest Cloud (or the Inngest dev server) calls this endpoint to run the durable functions.
export const { GET, POST, PUT } = serve({
  client: inngest,
  functions: allFunctions().map((def) => toInngestFunction(inngest, def)),
});

// The answer to OPTIONS, and to methods outside the API (the front door hands those on as OPTIONS).
export const OPTIONS = optionsHandler("GET, POST, PUT, OPTIONS");
