import type { AuthInfo, CallToolResult, McpServer, ServerContext, StandardSchemaWithJSON } from "@modelcontextprotocol/server";
import { createMcpHandler } from "mcp-handler";
import { getDb } from "@/db/client";
import { ApiError, validationError } from "../errors";
import { inspectJson, validate } from "../http/body";
import { idempotencyKeyValue, requestFingerprint, respondOnce } from "../http/idempotency";
import { problemBody, problemResponse, requestIdFrom } from "../http/problem";
import { enforceRateLimit, type Authentication } from "../http/ratelimit";
import { Reply } from "../http/reply";
import { authenticate, authorize, isMutation, METHODS, optionsHandler, rateClassOf, render, toApiError, runService, type Endpoint, type Method } from "../http/route";
import { errorMessage, log } from "../log";
import { loadRoutes, type RouteModule } from "../openapi/document";
import { getOperation } from "../services/operations";
import { TOOLS, type ToolSpec } from "./tools";

/**
 * The MCP server at /api/mcp: Streamable HTTP, stateless (every request stands
 * alone, so it runs as a serverless route handler), on the official SDK
 * (@modelcontextprotocol/server) through mcp-handler's route-handler adapter.
 *
 * A request is authenticated before MCP sees it, by the REST wrapper's own
 * `authenticate` (lib/http/route.ts): a missing or bad key is the same
 * problem+json 401. Each tool call then goes through the wrapper's steps for
 * the REST endpoint the tool mirrors (lib/mcp/tools.ts): its rate class, its
 * scope, the body checks (NUL, depth) and the tool's zod schema, the
 * endpoint's `prepare`, and its handler inside `runService` (a mutation in one
 * transaction, events after commit). An ApiError becomes an `isError` tool
 * result carrying the problem: `code`, `title`, `status`, `detail`,
 * `request_id` and the problem's extra members.
 */

/** The server's name and version in the MCP handshake. */
const SERVER_INFO = { name: "myopenclaw", version: "1.0.0" };

const INSTRUCTIONS =
  "Manages hosted OpenClaw assistants (instances) of one account: create, start, stop, restart, upgrade and delete them, back them up and restore them, " +
  "configure their model provider, chat integrations and agents, and manage the account's API keys and webhook endpoints. " +
  "Changes to an instance are asynchronous: the tool answers an operation at once; call wait_for_operation with its id to learn the outcome. " +
  "Tools that change something take an optional idempotency_key: pass a fresh one per intended change, and the same one when retrying that change. " +
  "An instance is named by its id (inst_...) or its subdomain. Errors carry a stable `code` (e.g. not_found, insufficient_scope, rate_limited with retry_after seconds) and a request_id.";

/** How often wait_for_operation reads the operation again, in milliseconds. */
const WAIT_POLL_MS = 250;

interface CallAuth {
  authentication: Authentication;
  requestId: string;
}

type Endpoints = Map<string, { method: Method; endpoint: Endpoint }>;

/** The mirrored endpoints of every tool, read from the REST route modules (lib never imports app: they are passed in). */
async function endpointsOf(modules: readonly RouteModule[]): Promise<Endpoints> {
  const out: Endpoints = new Map();
  for (const { path, definition } of await loadRoutes(modules)) {
    for (const method of METHODS) {
      const e = definition[method];
      if (e && e.scope !== "public") out.set(`${method} ${path}`, { method, endpoint: e as Endpoint });
    }
  }
  for (const t of TOOLS) if (!out.has(t.mirrors)) throw new Error(`MCP tool ${t.name} mirrors ${t.mirrors}, which no route module declares`);
  return out;
}

/**
 * A schema the SDK lists (its JSON Schema, from zod) but does not enforce: the
 * tool validates its arguments itself, after the rate limit and scope checks
 * as the REST wrapper does, so a bad argument is a `validation_error` problem.
 */
function listedOnly(schema: ToolSpec["input"]): StandardSchemaWithJSON {
  const std = schema["~standard"] as unknown as StandardSchemaWithJSON["~standard"];
  const jsonSchema = {
    input: (o: Parameters<typeof std.jsonSchema.input>[0]) => inlineTopRef(std.jsonSchema.input(o)),
    output: (o: Parameters<typeof std.jsonSchema.output>[0]) => inlineTopRef(std.jsonSchema.output(o)),
  };
  return { "~standard": { ...std, jsonSchema, validate: (value: unknown) => ({ value }) } };
}

/**
 * A schema with an OpenAPI component id (`.meta({id})`) converts to a bare
 * `{$ref, $defs}`; MCP wants the arguments' object at the top (`type: "object"`,
 * its `properties`), so the referenced definition is lifted there.
 */
function inlineTopRef(schema: Record<string, unknown>): Record<string, unknown> {
  const name = typeof schema.$ref === "string" ? /^#\/\$defs\/(.+)$/.exec(schema.$ref)?.[1] : undefined;
  const defs = schema.$defs as Record<string, Record<string, unknown>> | undefined;
  if (!name || !defs?.[name]) return schema;
  const { $ref: _ref, ...rest } = schema;
  return { ...rest, ...defs[name] };
}

function authOf(ctx: ServerContext): CallAuth {
  const extra = ctx.http?.authInfo?.extra as Partial<CallAuth> | undefined;
  if (!extra?.authentication || !extra.requestId) throw new Error("MCP tool called without the request's authentication");
  return { authentication: extra.authentication, requestId: extra.requestId };
}

/** A tool's answer: the value as structured content, and as JSON text for clients that read only text. */
function success(value: unknown, note?: string): CallToolResult {
  const structured = (value !== null && typeof value === "object" && !Array.isArray(value) ? value : { value }) as Record<string, unknown>;
  const content: CallToolResult["content"] = [{ type: "text", text: JSON.stringify(structured, null, 2) }];
  if (note) content.push({ type: "text", text: note });
  return { content, structuredContent: structured };
}

/** An ApiError as an isError result: the problem document the REST API would answer, plus retry_after when waiting helps. */
function toolError(err: ApiError, requestId: string): CallToolResult {
  const problem = problemBody(err, requestId);
  if (err.retryAfter !== undefined) problem.retry_after = err.retryAfter;
  return { isError: true, content: [{ type: "text", text: JSON.stringify(problem, null, 2) }], structuredContent: problem };
}

/**
 * The optional argument of every tool that changes something: the REST API's
 * Idempotency-Key (DESIGN 3.5), with the same rules and the same records, so a
 * retried call (the same key, the same arguments) answers what the first one
 * did instead of starting a second operation.
 */
const idempotencyArgument = idempotencyKeyValue.optional().meta({
  description:
    "Optional. A unique string (1-255 printable ASCII characters, e.g. a UUID) for this change: calling again with the same key and the same arguments " +
    "within 24 hours answers the first call's result instead of doing it twice. Reuse it only to retry the same call.",
});

/** A mutation's arguments without `idempotency_key`, and the key (null when not given). */
function takeIdempotencyKey(raw: unknown): { key: string | null; rest: unknown } {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw) || !("idempotency_key" in raw)) return { key: null, rest: raw };
  const { idempotency_key: given, ...rest } = raw as Record<string, unknown>;
  const key = idempotencyKeyValue.safeParse(given);
  if (!key.success) throw new ApiError("invalid_idempotency_key", "idempotency_key must be 1-255 printable ASCII characters.");
  return { key: key.data, rest };
}

/** The mirrored request's path, as the REST API would see it (its idempotency fingerprint names it). */
function pathOf(mirrors: ToolSpec["mirrors"], params: Record<string, string>): string {
  return mirrors.slice(mirrors.indexOf(" ") + 1).replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(params[name] ?? ""));
}

/** A mutation's rendered response back as the Reply a tool presents. */
async function replyOf(res: Response): Promise<Reply> {
  const text = res.status === 204 ? "" : await res.text();
  return new Reply(res.status, text ? JSON.parse(text) : undefined, Object.fromEntries(res.headers));
}

/** What a handler answered, as a tool presents it: a page as `{items, next_cursor}`, a 204 as `{done: true}`. */
function present(out: unknown): { value: unknown; note?: string } {
  const reply = out instanceof Reply ? out : new Reply(200, out);
  if (reply.status === 204) return { value: { done: true } };
  if (Array.isArray(reply.body)) return { value: { items: reply.body, next_cursor: reply.nextCursor } };
  if (reply.headers["config-unchanged"]) return { value: { unchanged: true, document: reply.body } };
  const replayed = reply.headers["idempotent-replayed"] ? "This is the answer of the earlier call with the same idempotency_key: nothing was done again. " : "";
  if (reply.status === 202 && (reply.body as { type?: string }).type) {
    const op = reply.body as { id: string; type: string };
    return { value: op, note: `${replayed}Started ${op.type} as operation ${op.id}. Call wait_for_operation with operation_id "${op.id}" to learn its outcome.` };
  }
  return { value: reply.body, note: replayed.trim() || undefined };
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
  });

async function callTool(tool: ToolSpec, mirrored: { method: Method; endpoint: Endpoint }, args: unknown, ctx: ServerContext): Promise<CallToolResult> {
  const { authentication, requestId } = authOf(ctx);
  let principal = authentication.principal;
  const { method, endpoint: e } = mirrored;
  let outcome = "ok";
  try {
    // What the key is now, should its account's auth version have moved on (a revocation, a plan change).
    principal = (await enforceRateLimit(authentication, rateClassOf(method, e))).auth.principal;
    authorize(principal, e.scope);
    const mutation = isMutation(method);
    const { key: idemKey, rest: raw } = mutation ? takeIdempotencyKey(args ?? {}) : { key: null, rest: args ?? {} };
    const problem = inspectJson(raw);
    if (problem) throw validationError([problem]);
    const { value } = validate(tool.input, raw);
    const { params = {}, query, body } = tool.request(value);
    const prepared = e.prepare ? await e.prepare({ body, query, params } as never) : undefined;
    const req = ctx.http?.req ?? new Request("http://localhost/api/mcp", { method: "POST" });
    const db = await getDb();
    const input = { body, query, params, prepared } as never;
    let out: unknown;
    if (mutation) {
      // As the REST wrapper runs it: one transaction, the key checked live at commit, the response
      // rendered and (with an idempotency_key) stored under the same records a REST retry would find.
      // The fingerprint is the REST request's: the path and the body as the caller sent them.
      const fingerprint = idemKey ? requestFingerprint(method, pathOf(tool.mirrors, params), tool.request(raw as never).body ?? null) : "";
      const scope = { accountId: principal.account.id, keyId: principal.key.id };
      const res = await runService(db, principal, requestId, true, (sctx, tx) =>
        respondOnce(tx!, scope, idemKey, fingerprint, {}, async () => render(req, new URL(req.url), await e.handler(sctx, input, req), {})),
      );
      out = await replyOf(res);
    } else {
      out = await runService(db, principal, requestId, false, (sctx) => e.handler(sctx, input, req));
    }
    if (tool.waitSeconds) {
      const deadline = Date.now() + tool.waitSeconds(value) * 1000;
      const unfinished = () => {
        const status = ((out instanceof Reply ? out.body : out) as { status?: string }).status;
        return status === "pending" || status === "running";
      };
      while (unfinished() && Date.now() < deadline && !ctx.mcpReq.signal.aborted) {
        await sleep(Math.min(WAIT_POLL_MS, Math.max(0, deadline - Date.now())), ctx.mcpReq.signal);
        out = await runService(db, principal, requestId, false, (sctx) => getOperation(sctx, params.id!));
      }
    }
    const { value: result, note } = present(out);
    return success(result, note);
  } catch (err) {
    const apiError = toApiError(err, requestId);
    outcome = apiError.code;
    return toolError(apiError, requestId);
  } finally {
    log.info("mcp tool call", { request_id: requestId, tool: tool.name, key_id: principal.key.id, outcome });
  }
}

function registerTools(server: McpServer, endpoints: Endpoints): void {
  for (const tool of TOOLS) {
    const mirrored = endpoints.get(tool.mirrors)!;
    const input = isMutation(mirrored.method) ? tool.input.extend({ idempotency_key: idempotencyArgument }) : tool.input;
    server.registerTool(
      tool.name,
      { title: tool.title, description: tool.description, inputSchema: listedOnly(input), annotations: { title: tool.title, ...tool.annotations } },
      (args: unknown, ctx: ServerContext) => callTool(tool, mirrored, args, ctx),
    );
  }
}

type Handler = (req: Request) => Promise<Response>;

/** Whether a Streamable HTTP POST carries a `tools/call` (alone or in a batch): those count in callTool, as their tool. */
async function carriesToolCall(req: Request): Promise<boolean> {
  if (req.method !== "POST") return false;
  let message: unknown;
  try {
    message = JSON.parse(await req.clone().text());
  } catch {
    return false; // not JSON: the SDK answers the parse error, counted as a read
  }
  return (Array.isArray(message) ? message : [message]).some((m) => (m as { method?: unknown } | null)?.method === "tools/call");
}

/** The methods of Streamable HTTP (POST messages; GET and DELETE, which a stateless server answers 405 to, say so themselves). */
const ALLOW = "GET, POST, DELETE, OPTIONS";

/**
 * The /api/mcp route's handlers. `modules` are the REST API's route modules
 * (app/api/v1/openapi.json/routes.ts), which the tools mirror.
 */
export function mcpRoute(modules: readonly RouteModule[]): Record<"GET" | "POST" | "DELETE" | "PUT" | "PATCH" | "OPTIONS", Handler> {
  let endpoints: Promise<Endpoints> | undefined;
  const loaded = () => {
    endpoints ??= endpointsOf(modules).catch((err) => {
      endpoints = undefined; // retried on the next request, not cached
      throw err;
    });
    return endpoints;
  };
  const mcp = createMcpHandler(async (server) => registerTools(server, await loaded()), { serverInfo: SERVER_INFO, instructions: INSTRUCTIONS });

  const serve: Handler = async (req) => {
    const started = performance.now();
    const requestId = requestIdFrom(req.headers.get("x-request-id"));
    const done = (res: Response, keyId?: string) => {
      log.info("request", { request_id: requestId, method: req.method, path: "/api/mcp", status: res.status, key_id: keyId, ms: Math.round(performance.now() - started) });
      return res;
    };
    let authentication: Authentication;
    const limitHeaders: Record<string, string> = {};
    try {
      authentication = await authenticate(req, await getDb());
      if (!(await carriesToolCall(req))) {
        // A message that calls no tool (initialize, tools/list, a notification, a GET) counts as one read, and its
        // remembered key is checked against the account's auth version as any request's is; a tool call counts as its tool.
        const admitted = await enforceRateLimit(authentication, "read");
        authentication = admitted.auth;
        Object.assign(limitHeaders, admitted.headers);
      }
    } catch (err) {
      return done(problemResponse(toApiError(err, requestId), requestId)); // a 429 carries its limit headers itself
    }
    const { principal } = authentication;
    const auth: AuthInfo = {
      token: principal.key.id, // never the key itself: nothing downstream needs it
      clientId: principal.key.id,
      scopes: [...principal.key.scopes],
      extra: { authentication, requestId } satisfies CallAuth,
    };
    (req as Request & { auth?: AuthInfo }).auth = auth;
    let res: Response;
    try {
      res = await mcp(req);
    } catch (err) {
      log.error("mcp request failed", { request_id: requestId, error: errorMessage(err) });
      return done(problemResponse(toApiError(err, requestId), requestId), principal.key.id);
    }
    const headers = new Headers(res.headers);
    for (const [k, v] of Object.entries(limitHeaders)) headers.set(k, v);
    headers.set("x-request-id", requestId);
    headers.set("cache-control", "no-store");
    return done(new Response(res.body, { status: res.status, statusText: res.statusText, headers }), principal.key.id);
  };
  const notAllowed: Handler = async (req) =>
    problemResponse(
      new ApiError("method_not_allowed", `${req.method} is not allowed here. Allowed: ${ALLOW}.`, { headers: { allow: ALLOW } }),
      requestIdFrom(req.headers.get("x-request-id")),
    );
  return { GET: serve, POST: serve, DELETE: serve, PUT: notAllowed, PATCH: notAllowed, OPTIONS: optionsHandler(ALLOW) };
}
