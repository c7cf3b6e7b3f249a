import type { RequestHandler } from "msw";
import { setupServer } from "msw/node";

/**
 * An msw server that fails any request it has no handler for, except loopback
 * ones: `onUnhandledRequest: "error"` would also block 127.0.0.1, which local
 * servers in other suites need.
 */
export function mockServer(...handlers: RequestHandler[]) {
  const server = setupServer(...handlers);
  return {
    server,
    listen() {
      server.listen({
        onUnhandledRequest(request, print) {
          const host = new URL(request.url).hostname;
          if (host === "127.0.0.1" || host === "localhost" || host === "[::1]") return;
          print.error();
        },
      });
    },
  };
}
