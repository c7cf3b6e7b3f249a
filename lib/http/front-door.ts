import http from "node:http";
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
  /** Answer here. */
  | { kind: "answer"; error: ApiError };

/**
 * What to do with a request, from its method and raw request target (as on the
 * request line: origin form `/api/...?q`, or absolute form `http://host/api/...`).
 */
export function frontDoor(method: string, target: string): FrontDoorDecision {
  let url = target;
  if (!url.startsWith("/")) {
    const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*(.*)$/.exec(url); // absolute form: keep path and query
    if (!m) return { kind: "pass" };
    url = m[1] || "/";
  }
  const q = url.indexOf("?");
  let path = q === -1 ? url : url.slice(0, q);
  const query = q === -1 ? "" : url.slice(q);
  if (path !== "/api" && !path.startsWith("/api/")) return { kind: "pass" };

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
  let rewritten = false;
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
  const answer = problemResponse(decision.error, requestId, new Headers({ "cache-control": "no-store" }));
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
    return emit.call(this, event, ...args);
  } as typeof proto.emit;
  proto[INSTALLED] = true;
}
