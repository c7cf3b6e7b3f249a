import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Redis } from "ioredis";

/**
 * A small stand-in for the Upstash REST API in front of a real redis-server, so
 * the production client (@upstash/redis + @upstash/ratelimit) can be tested for
 * real. No local Upstash server exists on npm (see STACK.md).
 *
 * Speaks: `POST /` with a JSON command array (`["SET","k","v"]`), `POST /pipeline`
 * and `POST /multi-exec` with an array of command arrays, a Bearer token, and
 * `Upstash-Encoding: base64` responses. Errors are `{ error }`: 401 for a bad
 * token, 400 for a command Redis refused, 500 when Redis cannot be reached.
 *
 * Two adaptations for Debian's redis-server 7.0:
 * - @upstash/ratelimit >= 2.1 starts its Lua scripts with
 *   `#!lua flags=allow-key-locking`, which 7.0 rejects: the flag is stripped, and
 *   the EVALSHA hash of the original script is mapped to the rewritten one.
 * - ioredis returns HGETALL as an object: it is flattened back to an array.
 *
 * `mode` lets a test break it: "error" answers every request with a 500,
 * "hang" accepts requests and never answers (until `close()`).
 */
export interface UpstashRelay {
  /** Base URL for `new Redis({ url })`, e.g. http://127.0.0.1:41234 */
  readonly url: string;
  readonly token: string;
  /** HTTP requests received since start (or since the test last set it). */
  requests: number;
  mode: "normal" | "error" | "hang";
  close(): Promise<void>;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Reply = { result: Json } | { error: string };

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const sha1 = (s: string) => createHash("sha1").update(s).digest("hex");

/** Removes flags this Redis does not know from a script's shebang line. */
function rewriteScript(script: string): string {
  const m = /^#!lua([^\n]*)/.exec(script);
  if (!m) return script;
  const rest = m[1]!.replace(/flags=([^\s]*)/, (_all, flags: string) => {
    const kept = flags.split(",").filter((f) => f && f !== "allow-key-locking");
    return kept.length ? `flags=${kept.join(",")}` : "";
  });
  return `#!lua${rest.trimEnd()}` + script.slice(m[0].length);
}

function toJson(value: unknown): Json {
  if (value === null || value === undefined) return null;
  if (typeof value === "number" || typeof value === "string" || typeof value === "boolean") return value;
  if (Buffer.isBuffer(value)) return value.toString("utf8");
  if (Array.isArray(value)) return value.map(toJson);
  if (value instanceof Error) return value.message;
  if (typeof value === "object") {
    // ioredis turns HGETALL into an object; Upstash answers with a flat array.
    return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => [k, toJson(v)]);
  }
  return String(value);
}

function encode(value: Json): Json {
  // Upstash leaves the status reply "OK" as is and base64-encodes strings.
  if (typeof value === "string") return value === "OK" ? value : Buffer.from(value, "utf8").toString("base64");
  if (Array.isArray(value)) return value.map(encode);
  return value;
}

const isReplyError = (err: unknown) => err instanceof Error && err.name === "ReplyError";

export async function startUpstashRelay(opts: { redisUrl: string; token?: string }): Promise<UpstashRelay> {
  const token = opts.token ?? "relay-test-token";
  // No offline queue and no per-command retries: with redis-server down, a
  // command fails at once (answered as a 500) instead of waiting for a reconnect.
  const redis = new Redis(opts.redisUrl, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    lazyConnect: true,
    retryStrategy: () => 100,
  });
  redis.on("error", () => {
    /* reported per request */
  });
  await redis.connect();

  /** sha1(original script) -> sha1(rewritten script) */
  const shaMap = new Map<string, string>();

  function prepare(cmd: unknown): [string, (string | number)[]] {
    if (!Array.isArray(cmd) || cmd.length === 0 || typeof cmd[0] !== "string") {
      throw new HttpError(400, "ERR command must be a non-empty array starting with a string");
    }
    const name = cmd[0].toLowerCase();
    const args = cmd.slice(1).map((a: unknown) =>
      typeof a === "number" ? a : typeof a === "string" ? a : a === null ? "" : JSON.stringify(a),
    );
    if ((name === "eval" || name === "eval_ro") && typeof args[0] === "string") {
      const original = args[0];
      const rewritten = rewriteScript(original);
      if (rewritten !== original) shaMap.set(sha1(original), sha1(rewritten));
      args[0] = rewritten;
    } else if ((name === "evalsha" || name === "evalsha_ro") && typeof args[0] === "string") {
      args[0] = shaMap.get(args[0].toLowerCase()) ?? args[0];
    } else if (name === "script" && String(args[0]).toLowerCase() === "load" && typeof args[1] === "string") {
      const original = args[1];
      const rewritten = rewriteScript(original);
      if (rewritten !== original) shaMap.set(sha1(original), sha1(rewritten));
      args[1] = rewritten;
    }
    return [name, args];
  }

  /** A script loaded under its rewritten hash answers SCRIPT LOAD with the original hash. */
  function finish(name: string, args: (string | number)[], cmd: unknown[], result: unknown): Json {
    if (name === "script" && String(args[0]).toLowerCase() === "load" && typeof cmd[2] === "string") {
      return sha1(cmd[2]);
    }
    return toJson(result);
  }

  async function one(cmd: unknown): Promise<Reply> {
    const [name, args] = prepare(cmd);
    try {
      const result = await redis.call(name, ...args);
      return { result: finish(name, args, cmd as unknown[], result) };
    } catch (err) {
      if (isReplyError(err)) return { error: (err as Error).message };
      throw new HttpError(500, `redis unavailable: ${(err as Error).message}`);
    }
  }

  async function pipeline(cmds: unknown, transaction: boolean): Promise<Reply[]> {
    if (!Array.isArray(cmds)) throw new HttpError(400, "ERR expected an array of commands");
    const prepared = cmds.map(prepare);
    const p = transaction ? redis.multi() : redis.pipeline();
    for (const [name, args] of prepared) p.call(name, ...args);
    let results: [Error | null, unknown][] | null;
    try {
      results = await p.exec();
    } catch (err) {
      if (isReplyError(err)) throw new HttpError(400, (err as Error).message);
      throw new HttpError(500, `redis unavailable: ${(err as Error).message}`);
    }
    if (!results) throw new HttpError(400, "EXECABORT Transaction discarded");
    return results.map(([err, result], i) => {
      if (err) {
        if (!isReplyError(err)) throw new HttpError(500, `redis unavailable: ${err.message}`);
        return { error: err.message };
      }
      const [name, args] = prepared[i]!;
      return { result: finish(name, args, cmds[i] as unknown[], result) };
    });
  }

  const hanging = new Set<ServerResponse>();
  const relay = {
    url: "",
    token,
    requests: 0,
    mode: "normal" as UpstashRelay["mode"],
    close: async () => {},
  };

  async function handle(req: IncomingMessage, res: ServerResponse) {
    relay.requests += 1;
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (relay.mode === "hang") {
      hanging.add(res);
      res.on("close", () => hanging.delete(res));
      return;
    }
    if (relay.mode === "error") return send(500, { error: "ERR relay is in error mode" });
    if (req.method !== "POST") return send(405, { error: "ERR only POST is supported" });
    if (req.headers.authorization !== `Bearer ${token}`) return send(401, { error: "Unauthorized" });
    const base64 = String(req.headers["upstash-encoding"] ?? "").toLowerCase() === "base64";
    const enc = (r: Reply): Reply => ("result" in r && base64 ? { result: encode(r.result) } : r);
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      return send(400, { error: "ERR failed to parse command" });
    }
    const path = (req.url ?? "/").split("?")[0]!.replace(/\/+$/, "");
    try {
      if (path === "") {
        const r = await one(body);
        return send("error" in r ? 400 : 200, enc(r));
      }
      if (path === "/pipeline" || path === "/multi-exec") {
        const rs = await pipeline(body, path === "/multi-exec");
        return send(200, rs.map(enc));
      }
      return send(404, { error: "ERR unknown endpoint" });
    } catch (err) {
      if (err instanceof HttpError) return send(err.status, { error: err.message });
      return send(500, { error: `ERR ${(err as Error).message}` });
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  relay.url = `http://127.0.0.1:${port}`;
  relay.close = async () => {
    for (const res of hanging) res.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    redis.disconnect();
  };
  return relay;
}
