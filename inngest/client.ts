import { Inngest, type ClientOptions } from "inngest";
import { config, type Config } from "@/lib/config";

export const INNGEST_APP_ID = "myopenclaw";

/**
 * The client's settings come from `config()` alone. In embedded mode
 * (`jobs.kind === "local"`) the client gets only its id: building it does not
 * throw, and nothing should send through it there (the local runner takes the
 * events), so an accidental `inngest.send()` fails loudly for want of an event key.
 */
export function inngestClientOptions(jobs: Config["jobs"]): ClientOptions {
  if (jobs.kind !== "inngest") return { id: INNGEST_APP_ID };
  return {
    id: INNGEST_APP_ID,
    eventKey: jobs.eventKey,
    signingKey: jobs.signingKey,
    isDev: jobs.dev,
    baseUrl: jobs.baseUrl,
  };
}

export const inngest = new Inngest(inngestClientOptions(config().jobs));
