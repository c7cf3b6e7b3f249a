import type { AddressInfo } from "node:net";
import { connect, type Socket } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";

/**
 * A WebSocket-to-TCP relay, so @neondatabase/serverless's Pool (which speaks the
 * Postgres protocol over a WebSocket) can be pointed at a local Postgres:
 *
 *   const relay = await startNeonRelay({ pgHost: "127.0.0.1", pgPort: 5432 });
 *   neonConfig.webSocketConstructor = ws;
 *   neonConfig.wsProxy = relay.proxy;          // "127.0.0.1:<port>/v1"
 *   neonConfig.useSecureWebSocket = false;
 *   neonConfig.pipelineTLS = false;
 *   neonConfig.pipelineConnect = false;
 *
 * The driver appends `?address=<host>:<port>` to a string wsProxy; this relay
 * ignores it and always connects to the Postgres it was started for (it is a
 * test fixture, not an open proxy).
 */
export interface NeonRelay {
  /** The value for `neonConfig.wsProxy`: host:port/v1, without a protocol. */
  readonly proxy: string;
  /** Connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

export async function startNeonRelay(opts: { pgHost: string; pgPort: number }): Promise<NeonRelay> {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise<void>((resolve, reject) => {
    wss.once("listening", resolve);
    wss.once("error", reject);
  });
  const pairs = new Set<{ ws: WebSocket; tcp: Socket }>();
  let connections = 0;

  wss.on("connection", (ws) => {
    connections += 1;
    const tcp = connect({ host: opts.pgHost, port: opts.pgPort });
    tcp.setNoDelay(true);
    const pair = { ws, tcp };
    pairs.add(pair);
    // Writes before the TCP connection is up are buffered by the socket.
    ws.on("message", (data: Buffer | ArrayBuffer | Buffer[]) => {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      tcp.write(buf);
    });
    tcp.on("data", (chunk) => {
      if (ws.readyState === ws.OPEN) ws.send(chunk, { binary: true });
    });
    const end = () => {
      pairs.delete(pair);
      if (!tcp.destroyed) tcp.destroy();
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close();
    };
    ws.on("close", end);
    ws.on("error", end);
    tcp.on("close", end);
    tcp.on("error", end);
  });

  const { port } = wss.address() as AddressInfo;
  return {
    proxy: `127.0.0.1:${port}/v1`,
    get connections() {
      return connections;
    },
    close: async () => {
      for (const { ws, tcp } of pairs) {
        tcp.destroy();
        ws.terminate();
      }
      pairs.clear();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
