// Next.js calls register() once when a server process starts.
export async function register() {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  // First: requests under /api/ that Next.js would answer itself get ours (lib/http/front-door.ts).
  const { installFrontDoor } = await import("./lib/http/front-door");
  installFrontDoor();
  const { startServer, failedStart } = await import("./lib/startup");
  const { processRuntime } = await import("./inngest/runtime");
  try {
    // The composition root is built once the configuration has checked out, and installed before any request.
    await startServer(() => processRuntime().start());
  } catch (err) {
    // A start that failed must not serve: Next.js would log the error and go on answering
    // every request with its own 500. Say why, and stop.
    failedStart(err);
  }
}
