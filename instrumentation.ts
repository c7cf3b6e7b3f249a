// Next.js calls register() once when a server process starts.
export async function register() {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  const { startServer } = await import("./lib/startup");
  const { processRuntime } = await import("./inngest/runtime");
  // The composition root is built once the configuration has checked out, and installed before any request.
  await startServer(() => processRuntime().start());
}
