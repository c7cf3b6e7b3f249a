import http from "node:http";
import https from "node:https";
import type { Requester, UpstashRequest, UpstashResponse } from "@upstash/redis";

/**
 * How @upstash/redis reaches the Upstash REST API here: a `Requester` (the
 * client's documented extension point, `new Redis(requester)`) on node:http(s)
 * with a keep-alive agent, in place of the client's own `fetch`. Every request
 * of the API makes one rate-limit call, and fetch's WHATWG machinery (Request,
 * Response and AbortSignal objects, body streams) cost about as much CPU as the
 * rest of the request together (docs/benchmarks.md).
 *
 * Speaks what the client asks for: POST `<url>/<path...>` with a JSON body and
 * the Bearer token, `{ result } | { error }` (or an array of them for
 * `/pipeline`) back; the read-your-writes sync token is carried as the client
 * does. Answers are not base64-encoded (`Upstash-Encoding`): the limiter's
 * scripts answer numbers. One attempt, no retry; an answer not complete
 * within `timeoutMs` (the connection included) is abandoned and its socket
 * destroyed; any failure rejects, with the store's own error message for a
 * refused command (so `NOSCRIPT` reaches the client's script fallback).
 * https://upstash.com/docs/redis/features/restapi
 */
export class UpstashHttp implements Requester {
  readonly readYourWrites = true;
  upstashSyncToken = "";
  private readonly base: URL;
  private readonly transport: typeof http | typeof https;
  private readonly agent: http.Agent;
  private readonly authorization: string;

  constructor(url: string, token: string, private readonly timeoutMs: number) {
    this.base = new URL(url.replace(/\/+$/, ""));
    if (this.base.protocol !== "https:" && this.base.protocol !== "http:") throw new TypeError(`an Upstash REST URL is http(s)://..., got ${url}`);
    this.transport = this.base.protocol === "https:" ? https : http;
    this.agent = new this.transport.Agent({ keepAlive: true });
    this.authorization = `Bearer ${token}`;
  }

  request<TResult = unknown>(req: UpstashRequest): Promise<UpstashResponse<TResult>> {
    const body = JSON.stringify(req.body);
    const path = [this.base.pathname === "/" ? "" : this.base.pathname, ...(req.path ?? [])].join("/") || "/";
    return new Promise((resolve, reject) => {
      let settled = false;
      let current: http.ClientRequest | undefined;
      const finish = (err: Error | null, value?: UpstashResponse<TResult>) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(value!);
      };
      const timer = setTimeout(() => {
        current?.destroy();
        finish(new Error(`no answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      const attempt = (retryOnStaleSocket: boolean) => {
        const r = (current = this.send(req, path, body, (err, value) => {
          // A kept-alive connection the server closed as it was reused: sent again once, on a new one
          // (https://nodejs.org/api/http.html#requestreusedsocket). Nothing reached the store.
          if (err && retryOnStaleSocket && r.reusedSocket && (err as NodeJS.ErrnoException).code === "ECONNRESET" && !settled) attempt(false);
          else finish(err, value as UpstashResponse<TResult>);
        }));
      };
      attempt(true);
    });
  }

  private send(req: UpstashRequest, path: string, body: string, done: (err: Error | null, value?: unknown) => void): http.ClientRequest {
    let answered = false;
    const once = (err: Error | null, value?: unknown) => {
      if (answered) return;
      answered = true;
      done(err, value);
    };
    const r = this.transport.request(
      {
        protocol: this.base.protocol,
        hostname: this.base.hostname,
        port: this.base.port,
        path,
        method: "POST",
        agent: this.agent,
        headers: {
          authorization: this.authorization,
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          "upstash-sync-token": this.upstashSyncToken,
          ...req.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", (err) => once(err));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            return once(new Error(`Upstash answered ${res.statusCode} with a body that is not JSON: ${text.slice(0, 200)}`));
          }
          const sync = res.headers["upstash-sync-token"];
          if (typeof sync === "string") this.upstashSyncToken = sync;
          const status = res.statusCode ?? 0;
          if (status < 200 || status >= 300) {
            const error = (parsed as { error?: unknown })?.error;
            return once(new Error(typeof error === "string" ? error : `Upstash answered ${status}`));
          }
          once(null, parsed);
        });
      },
    );
    r.on("error", (err) => once(err));
    r.end(body);
    return r;
  }
}
