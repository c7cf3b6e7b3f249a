import http from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { ApiError } from "../errors";
import { log } from "../log";
import { problemResponse, requestIdFrom } from "./problem";

/**
 * The front door: every request under /api/ as it arrives on the socket,
 * before Next.js reads it. Next.js answers some requests with its own bare
 * 500, 400 or 308 before any route or proxy of ours runs:
 *  - a path that is not valid percent-encoded UTF-8 (`/api/v1/instances/%FF`):
 *    its router fails to decode it (500);
 *  - a method the Fetch API refuses (TRACE), which fails building the route's
 *    `Request` (500 and a stack trace in the log), or one Next.js does not
 *    route (PROPFIND and the rest of WebDAV: an empty 400);
 *  - a trailing slash, `//` or `\` in the path: a 308 redirect (which a POST
 *    client may follow with its body, or not at all);
 * so they are handled here, on the raw method and request target, in one place.
 * Everything else passes untouched. Where a route's own answer is the right
 * one, the request is rewritten and handed on rather than answered here.
 */

/** The methods the API answers; anything else is refused with 405 and the route's `Allow`. */
export const API_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/**
 * A request with a method outside the API is handed to its route as OPTIONS
 * with this header naming the method, so the route answers 405 with its exact
 * `Allow` (lib/http/route.ts). The front door drops any copy a client sends.
 */
export const REFUSED_METHOD_HEADER = "x-moc-refused-method";

export type FrontDoorDecision =
  /** Not ours, or nothing to correct: hand on as it is. */
  | { kind: "pass" }
  /** Hand on with this request target (path and query) and, if set, as OPTIONS naming the refused method. */
  | { kind: "rewrite"; url: string; refusedMethod?: string }
  /** Answer here: a problem, or (`OPTIONS *`) the server's methods. */
  | { kind: "answer"; error: ApiError }
  | { kind: "server-options" };

/**
 * What to do with a request, from its method and raw request target (as on the
 * request line: origin form `/api/...?q`, absolute form `http://host/api/...`,
 * or asterisk form `*`).
 */
export function frontDoor(method: string, target: string): FrontDoorDecision {
  if (target === "*") {
    // RFC 9110 9.3.7: OPTIONS * asks about the server itself; no other method may name it.
    if (method === "OPTIONS") return { kind: "server-options" };
    return { kind: "answer", error: new ApiError("invalid_path", "Only OPTIONS may name the server itself (`*`) as its target.") };
  }
  let url = target;
  let absolute = false;
  if (!url.startsWith("/")) {
    // Absolute form (RFC 9112 3.2.2), which only proxies send: served as its path and query, on the
    // Host it names. Next.js would answer it with a redirect to whatever host it names.
    const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*([^#]*)/.exec(url);
    if (!m) return { kind: "answer", error: new ApiError("invalid_path", "The request target is neither a path nor an absolute URL.") };
    url = m[1] || "/";
    if (!url.startsWith("/")) url = "/" + url;
    absolute = true;
  }
  const q = url.indexOf("?");
  let path = q === -1 ? url : url.slice(0, q);
  const query = q === -1 ? "" : url.slice(q);
  if (path !== "/api" && !path.startsWith("/api/")) return absolute ? { kind: "rewrite", url } : { kind: "pass" };

  try {
    decodeURIComponent(path);
  } catch {
    return {
      kind: "answer",
      error: new ApiError("invalid_path", "The request path is not valid percent-encoded UTF-8 (e.g. a stray `%` or `%FF`). Encode each path segment with encodeURIComponent."),
    };
  }
  if (/\/\/|\\/.test(path)) {
    return {
      kind: "answer",
      error: new ApiError("route_not_found", "No route has an empty path segment (`//`) or a backslash. See /api/v1/openapi.json for the API's routes."),
    };
  }
  let rewritten = absolute;
  if (path.length > 1 && path.endsWith("/")) {
    // A trailing slash names the same resource: answered as without it, never redirected.
    path = path.slice(0, -1);
    rewritten = true;
  }
  if (!API_METHODS.has(method)) return { kind: "rewrite", url: path + query, refusedMethod: method };
  return rewritten ? { kind: "rewrite", url: path + query } : { kind: "pass" };
}

/** Applies the front door to a Node request; answers it and returns true when the request ends here. */
export function handleAtFrontDoor(req: http.IncomingMessage, res: http.ServerResponse): boolean {
  if (req.headers[REFUSED_METHOD_HEADER] !== undefined) delete req.headers[REFUSED_METHOD_HEADER];
  const decision = frontDoor(req.method ?? "GET", req.url ?? "/");
  if (decision.kind === "pass") return false;
  if (decision.kind === "rewrite") {
    req.url = decision.url;
    if (decision.refusedMethod) {
      req.headers[REFUSED_METHOD_HEADER] = decision.refusedMethod;
      req.method = "OPTIONS";
    }
    return false;
  }
  const given = req.headers["x-request-id"];
  const requestId = requestIdFrom(typeof given === "string" ? given : null);
  const answer =
    decision.kind === "server-options"
      ? new Response(null, { status: 204, headers: { allow: [...API_METHODS].join(", "), "x-request-id": requestId, "cache-control": "no-store" } })
      : problemResponse(decision.error, requestId, new Headers({ "cache-control": "no-store" }));
  log.info("request", { request_id: requestId, method: req.method, path: (req.url ?? "").split("?")[0]?.slice(0, 200), status: answer.status, at: "front door" });
  void answer.text().then((body) => {
    const headers: Record<string, string> = {};
    answer.headers.forEach((v, k) => (headers[k] = v));
    req.resume(); // a body nobody reads must not hold the connection
    res.writeHead(answer.status, headers).end(req.method === "HEAD" ? undefined : body);
  });
  return true;
}

const INSTALLED = Symbol.for("moc.frontDoor");

function isApiPath(target: string | undefined): boolean {
  const path = (target ?? "").replace(/^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/, "").split("?")[0]!;
  return path === "/api" || path.startsWith("/api/");
}

/**
 * Puts the front door in front of every HTTP server of this process: the one
 * `next start` / `next dev` listen with, created before any code of ours runs
 * (instrumentation's register() is the earliest hook), so its `request`
 * events are intercepted where Node emits them. Idempotent.
 */
export function installFrontDoor(): void {
  const proto = http.Server.prototype as http.Server & { [INSTALLED]?: true };
  if (proto[INSTALLED]) return;
  const emit = proto.emit as (this: http.Server, event: string | symbol, ...args: unknown[]) => boolean;
  proto.emit = function (this: http.Server, event: string | symbol, ...args: unknown[]): boolean {
    if (event === "request" && handleAtFrontDoor(args[0] as http.IncomingMessage, args[1] as http.ServerResponse)) return true;
    if (event === "upgrade" && isApiPath((args[0] as http.IncomingMessage).url)) {
      // The API speaks plain HTTP: a request asking to upgrade (WebSocket, h2c) is answered as if it had
      // not asked, as RFC 9110 7.8 allows, instead of Next.js closing the connection without an answer.
      const [req, socket, head] = args as [http.IncomingMessage, Duplex, Buffer];
      if (head?.length) socket.unshift(head);
      const res = new http.ServerResponse(req);
      res.shouldKeepAlive = false;
      res.assignSocket(socket as Socket);
      res.on("finish", () => socket.end());
      return this.emit("request", req, res);
    }
    return emit.call(this, event, ...args);
  } as typeof proto.emit;
  proto[INSTALLED] = true;
}
