// A real local webhook receiver for tests: node:http on 127.0.0.1, port 0.
// Records every request and verifies it with the standardwebhooks library's own
// verifier, once per configured secret. It can be told to answer a status, hang
// (timeout tests), redirect, or stream an endless body.

import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { Webhook } from "standardwebhooks";

export type ReceiverBehaviour =
  | { type: "status"; status: number; body?: string }
  | { type: "hang" }
  | { type: "redirect"; location: string; status?: 301 | 302 | 303 | 307 | 308 }
  | { type: "stream"; status?: number };

export type Verification = { secret: string; ok: boolean; error: string | null; payload: unknown };

export type ReceivedRequest = {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** One entry per secret the receiver was started with, in order. */
  verifications: Verification[];
};

export type WebhookReceiver = {
  url: string;
  port: number;
  requests: ReceivedRequest[];
  /** TCP connections accepted so far (to prove nothing connected). */
  connections: number;
  /** Behaviour for the following requests (default: 200 "ok"). */
  respondWith(behaviour: ReceiverBehaviour): void;
  close(): Promise<void>;
};

function headerRecord(headers: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (typeof v === "string") out[k] = v;
    else if (Array.isArray(v)) out[k] = v.join(", ");
  }
  return out;
}

export async function startWebhookReceiver(options: { secrets?: string[] } = {}): Promise<WebhookReceiver> {
  const secrets = options.secrets ?? [];
  let behaviour: ReceiverBehaviour = { type: "status", status: 200, body: "ok" };
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const state = {
    requests: [] as ReceivedRequest[],
    connections: 0,
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const verifications = secrets.map((secret): Verification => {
        try {
          const payload = new Webhook(secret).verify(body, headerRecord(req.headers));
          return { secret, ok: true, error: null, payload };
        } catch (err) {
          return { secret, ok: false, error: err instanceof Error ? err.message : String(err), payload: undefined };
        }
      });
      state.requests.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, body, verifications });

      const b = behaviour;
      switch (b.type) {
        case "status":
          res.writeHead(b.status, { "content-type": "text/plain" });
          res.end(b.body ?? "");
          return;
        case "hang":
          return; // never answer; close() tears the socket down
        case "redirect":
          res.writeHead(b.status ?? 302, { location: b.location });
          res.end();
          return;
        case "stream": {
          res.writeHead(b.status ?? 200, { "content-type": "application/octet-stream" });
          const chunk = Buffer.alloc(16 * 1024, 120);
          const pump = () => {
            if (res.destroyed || res.writableEnded) return;
            res.write(chunk);
            const t = setTimeout(pump, 5);
            timers.add(t);
          };
          pump();
          return;
        }
      }
    });
  });

  server.on("connection", (socket) => {
    state.connections += 1;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}/hook`,
    port,
    get requests() {
      return state.requests;
    },
    get connections() {
      return state.connections;
    },
    respondWith(next) {
      behaviour = next;
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
