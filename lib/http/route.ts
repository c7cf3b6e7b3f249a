import type { z } from "zod";
import { DatabaseLockedError, getDb, type Db, type Tx } from "@/db/client";
import { runAfter } from "../after";
import { installedDeps } from "../deps";
import { ApiError, validationError, type ErrorCode } from "../errors";
import { checkToken } from "../keys/token-check";
import { tokenDigest } from "../keys/cache";
import { keyStateForCommit, type Principal } from "../keys/verify";
import { errorMessage, log } from "../log";
import { RateLimiterUnavailable, type RateClass } from "../ratelimit/types";
import type { Scope } from "../scopes";
import { baseUrlFromHeaders, linkTo } from "./base-url";
import { parseBody } from "./body";
import type { ServiceContext } from "../context";
import { readIdempotencyKey, requestFingerprint, respondOnce } from "./idempotency";
import { REFUSED_METHOD_HEADER } from "./front-door";
import { problemResponse, requestIdFrom } from "./problem";
import { readQuery } from "./query";
import { enforceRateLimit, knownToBeRefused, limiterUnavailable, type Authentication } from "./ratelimit";
import { Reply } from "./reply";

export const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"] as const;
export type Method = (typeof METHODS)[number];

/*
 * The wrapper's behaviour as facts, exported so the OpenAPI document
 * (lib/openapi/document.ts) reads them instead of restating them.
 */

/** Whether the wrapper runs a request as a mutation: in one transaction, taking an Idempotency-Key (every method but GET). */
export function isMutation(method: string): boolean {
  return method !== "GET";
}

/** The rate class an endpoint's requests count against: its own, else read for GET and write for a mutation. */
export function rateClassOf(method: string, e: { rate?: RateClass }): RateClass {
  return e.rate ?? (isMutation(method) ? "write" : "read");
}

/**
 * The error codes the wrapper itself may answer for an authenticated
 * endpoint, before its handler's own (`Endpoint.errors`): authentication, the
 * plan, the scope, the rate limit, the body and query (a page's `cursor`
 * answers invalid_cursor), the idempotency key; and not_found for a path that
 * names a resource, which every service answers for one the account does not have
 * (and invalid_path for a path that is not percent-encoded UTF-8, lib/http/front-door.ts);
 * service_unavailable when the database cannot be reached.
 */
export function wrapperErrors(method: Method, e: Endpoint, path: string): ErrorCode[] {
  const codes: ErrorCode[] = ["validation_error", "malformed_json", "missing_api_key", "invalid_api_key", "api_key_expired"];
  codes.push("plan_without_api_access", "cookies_not_allowed");
  if (e.scope !== "any") codes.push("insufficient_scope");
  if (path.includes("{")) codes.push("not_found", "invalid_path");
  if (queryKeys(e).includes("cursor")) codes.push("invalid_cursor");
  codes.push("payload_too_large", "unsupported_media_type");
  if (isMutation(method)) codes.push("invalid_idempotency_key", "idempotency_key_in_use", "idempotency_key_reused");
  codes.push("rate_limited", "rate_limiter_unavailable", "service_unavailable");
  return codes;
}

/** The query parameters an endpoint declares. */
export function queryKeys(e: Endpoint): string[] {
  const shape = (e.query as unknown as { shape?: Record<string, unknown> } | undefined)?.shape;
  return shape ? Object.keys(shape) : [];
}

type AnySchema = z.ZodType;
type Out<S> = S extends AnySchema ? z.output<S> : undefined;

/** One endpoint: who may call it, what it takes, what it does. */
export interface Endpoint<
  B extends AnySchema | undefined = AnySchema | undefined,
  Q extends AnySchema | undefined = AnySchema | undefined,
  P = unknown,
> {
  summary: string;
  description?: string;
  /** The scope a key needs; "any" = any valid key. (A public endpoint is a PublicEndpoint.) */
  scope: Scope | "any";
  /** Rate class; defaults to read for GET, write otherwise. "heavy" marks a request that starts an operation. */
  rate?: RateClass;
  body?: B;
  query?: Q;
  /**
   * The success response's schema, status and extra headers (e.g. "Retry-After"), for the OpenAPI document;
   * `contentType` when it is not JSON (the handler answers with `plainText`).
   */
  response?: { status: number; schema?: AnySchema; description: string; headers?: string[]; contentType?: string };
  /** Another success the handler may answer instead (a PUT that changed nothing: 200 with `Config-Unchanged`), for the OpenAPI document. */
  alsoResponds?: { status: number; schema?: AnySchema; description: string; headers?: string[] };
  /** The error codes this endpoint may answer beyond the common ones, for the OpenAPI document. */
  errors?: string[];
  /**
   * Slow work that needs no database (a DNS lookup), done before the request's
   * transaction opens so it never holds its locks; its result reaches the
   * handler as `prepared`. It runs before the idempotency check.
   */
  prepare?(input: { body: Out<B>; query: Out<Q>; params: Record<string, string> }): Promise<P>;
  handler(ctx: ServiceContext, input: { body: Out<B>; query: Out<Q>; params: Record<string, string>; prepared: P }, req: Request): Promise<unknown>;
}

/** A public endpoint's handler gets no account or key. */
export interface PublicEndpoint {
  summary: string;
  description?: string;
  scope: "public";
  response?: { status: number; schema?: AnySchema; description: string; headers?: string[] };
  handler(req: Request): Promise<unknown> | unknown;
}

type RouteContext = { params: Promise<Record<string, string | string[] | undefined>> };
type Handler = (req: Request, context: RouteContext) => Promise<Response>;
export type RouteDefinition = Partial<Record<Method, Endpoint<any, any, any> | PublicEndpoint>>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Declares an endpoint with its schemas' types flowing into the handler. */
export function endpoint<B extends AnySchema | undefined = undefined, Q extends AnySchema | undefined = undefined, P = undefined>(
  def: Endpoint<B, Q, P>,
): Endpoint<B, Q, P> {
  return def;
}

/**
 * Builds a route file's exports: every HTTP method, the declared ones through
 * the shared pipeline, the others as a problem+json 405 with `Allow`.
 *
 *   export const { GET, POST, PUT, PATCH, DELETE, OPTIONS } = route({ GET: endpoint({...}) });
 */
export function route(defs: RouteDefinition): Record<Method | "OPTIONS", Handler> & { definition: RouteDefinition } {
  const allow = [...METHODS.filter((m) => defs[m]), "OPTIONS"].join(", ");
  const out = { definition: defs } as Record<Method | "OPTIONS", Handler> & { definition: RouteDefinition };
  for (const m of METHODS) {
    const def = defs[m];
    out[m] = def ? (req, c) => run(def, req, c) : (req) => methodNotAllowed(req, allow);
  }
  out.OPTIONS = optionsHandler(allow);
  // A route file may export only its handlers, so the OpenAPI document reads the definition from them.
  for (const k of [...METHODS, "OPTIONS"] as const) Object.assign(out[k], { definition: defs });
  return out;
}

async function methodNotAllowed(req: Request, allow: string, method = req.method): Promise<Response> {
  const requestId = requestIdOf(req);
  return problemResponse(
    new ApiError("method_not_allowed", `${method} is not allowed here. Allowed: ${allow}.`, { headers: { allow } }),
    requestId,
  );
}

/**
 * OPTIONS for a route whose methods are `allow`: 204 with `Allow` and a request
 * id; or, for a request the front door handed on for a method outside the API
 * (TRACE, PROPFIND, ...), 405 with the same `Allow` (lib/http/front-door.ts).
 */
export function optionsHandler(allow: string): (req: Request) => Promise<Response> {
  return async (req) => {
    const refused = req.headers.get(REFUSED_METHOD_HEADER);
    if (refused) return methodNotAllowed(req, allow, refused.slice(0, 20));
    return new Response(null, { status: 204, headers: { allow, "x-request-id": requestIdOf(req), "cache-control": "no-store" } });
  };
}

/** Any method on a path no route file serves: a problem+json 404 (the /api and /api/v1 catch-alls). */
export async function routeNotFound(req: Request): Promise<Response> {
  return problem(req, new ApiError("route_not_found", `No route ${new URL(req.url).pathname}. See /api/v1/openapi.json for the API's routes.`));
}

/** Keeps a caller's X-Request-Id when it is a sane token, so logs on both sides line up. */
function requestIdOf(req: Request): string {
  return requestIdFrom(req.headers.get("x-request-id"));
}

async function run(def: Endpoint | PublicEndpoint, req: Request, context: RouteContext): Promise<Response> {
  const started = performance.now();
  const requestId = requestIdOf(req);
  const url = new URL(req.url);
  // A plain record until the one Response is built: every Headers object is validated entry by entry.
  const headers: Record<string, string> = { "x-request-id": requestId, "cache-control": "no-store" };
  let response: Response;
  let keyId: string | undefined;
  try {
    if (def.scope === "public") {
      response = render(req, url, await (def as PublicEndpoint).handler(req), headers);
    } else {
      const e = def as Endpoint;
      const db = await getDb();
      let auth = await authenticate(req, db);
      keyId = auth.principal.key.id;
      const mutation = isMutation(req.method);
      // A read's query runs while the limiter decides; its answer is dropped, never sent, unless the request is admitted.
      // Not when this process already knows the limiter will refuse it: a key over its limit costs the database nothing.
      const rateClass = rateClassOf(req.method, e);
      let read =
        !mutation && allows(auth.principal, e.scope) && !knownToBeRefused(auth.principal, rateClass)
          ? settled(runRead(e, req, url, context, db, auth.principal, requestId))
          : undefined;
      const admitted = await enforceRateLimit(auth, rateClass);
      Object.assign(headers, admitted.headers);
      if (admitted.auth !== auth) {
        // Read again from the database (its auth version had moved on): the query runs again for what the key is now.
        auth = admitted.auth;
        read = undefined;
      }
      authorize(auth.principal, e.scope);
      if (mutation) response = await runMutation(e, req, url, context, db, auth.principal, requestId, headers);
      else response = render(req, url, await (read ?? settled(runRead(e, req, url, context, db, auth.principal, requestId))).then(unwrap), headers);
    }
  } catch (err) {
    response = problemResponse(toApiError(err, requestId), requestId, new Headers(headers));
  }
  log.info("request", {
    request_id: requestId,
    method: req.method,
    path: url.pathname,
    status: response.status,
    key_id: keyId,
    ms: Math.round(performance.now() - started),
  });
  return response;
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };
/** The promise's outcome as a value, so one left unawaited (a refused read) is no unhandled rejection. */
const settled = <T>(p: Promise<T>): Promise<Settled<T>> => p.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }));
const unwrap = <T>(s: Settled<T>): T => {
  if (!s.ok) throw s.error;
  return s.value;
};

/** Bearer-key authentication and the plan's API access (the route wrapper's, and the MCP server's). `reread`: whatever this process remembers. */
export async function authenticate(req: Request, db: Db, opts: { reread?: boolean } = {}): Promise<Authentication> {
  if (req.headers.has("cookie")) {
    throw new ApiError("cookies_not_allowed", "This API accepts API keys only; requests carrying cookies are refused. Send no Cookie header.");
  }
  const header = req.headers.get("authorization");
  if (!header) throw new ApiError("missing_api_key", "Send an API key as `Authorization: Bearer moc_...`.");
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) throw new ApiError("invalid_api_key", "The Authorization header must be `Bearer <api key>`.");
  const token = m[1]!;
  const digest = tokenDigest(token);
  const v = await checkToken(db, token, req.headers, { reread: opts.reread, digest });
  if (!v.ok) {
    switch (v.reason) {
      case "malformed":
        throw new ApiError("invalid_api_key", "The API key is malformed or mistyped (its checksum does not match).");
      case "expired":
        throw new ApiError("api_key_expired", "The API key has expired. Create a new one.");
      case "revoked":
        throw new ApiError("invalid_api_key", "The API key has been revoked.");
      default:
        throw new ApiError("invalid_api_key", "The API key is not valid.");
    }
  }
  if (!v.principal.account.apiAccess) {
    throw new ApiError(
      "plan_without_api_access",
      `The ${v.principal.account.plan} plan has no API access. Upgrade to Pro or Business to use the API.`,
    );
  }
  return { principal: v.principal, verification: v, digest, reread: () => authenticate(req, db, { reread: true }) };
}

/** Whether a key holds the scope an endpoint (or an MCP tool) needs. */
function allows(principal: Principal, scope: Scope | "any"): boolean {
  return scope === "any" || principal.key.scopes.includes(scope);
}

/** Refuses a key without the scope an endpoint (or an MCP tool) needs: 403 insufficient_scope naming it. */
export function authorize(principal: Principal, scope: Scope | "any"): void {
  if (allows(principal, scope)) return;
  throw new ApiError("insufficient_scope", `This request needs the \`${scope}\` scope, which this key does not have.`, {
    extra: { required_scope: scope },
  });
}

/** The request's path parameters, query and body, read and validated as the endpoint declares them, and its `prepare` work. */
async function readInput(e: Endpoint, req: Request, context: RouteContext, url: URL) {
  const params = await routeParams(context);
  const nulParam = Object.entries(params).find(([, v]) => v.includes("\0")) ?? [...url.searchParams].find(([, v]) => v.includes("\0"));
  if (nulParam) throw validationError([{ path: nulParam[0], message: "May not contain NUL characters." }]);
  const query = readQuery(e.query, url.searchParams);
  const idemKey = isMutation(req.method) ? readIdempotencyKey(req) : null;
  const { value: body, raw } = await parseBody(req, e.body);
  const prepared = e.prepare ? await e.prepare({ body, query, params } as never) : undefined;
  return { input: { body, query, params, prepared }, idemKey, raw };
}

/** A read: the handler's result, on the pool. */
async function runRead(e: Endpoint, req: Request, url: URL, context: RouteContext, db: Db, principal: Principal, requestId: string): Promise<unknown> {
  const { input } = await readInput(e, req, context, url);
  return runService(db, principal, requestId, false, (ctx) => e.handler(ctx, input as never, req));
}

async function runMutation(
  e: Endpoint,
  req: Request,
  url: URL,
  context: RouteContext,
  db: Db,
  principal: Principal,
  requestId: string,
  headers: Record<string, string>,
): Promise<Response> {
  const { input, idemKey, raw } = await readInput(e, req, context, url);
  // A mutation's writes, and its idempotency record, commit together or not at all.
  const fingerprint = idemKey ? requestFingerprint(req.method, url.pathname, raw ?? null) : "";
  const idemScope = { accountId: principal.account.id, keyId: principal.key.id };
  return runService(db, principal, requestId, true, (ctx, tx) =>
    respondOnce(tx!, idemScope, idemKey, fingerprint, headers, async () => render(req, url, await e.handler(ctx, input as never, req), headers)),
  );
}

/**
 * Runs a request's service work with its ServiceContext, as the wrapper runs
 * a handler (and the MCP server a tool, lib/mcp/): a read on the pool; a
 * mutation in one transaction that commits only while the key is still live
 * (`invalid_api_key` / `api_key_expired` otherwise, nothing changed), run again
 * when Postgres aborts it as a deadlock victim. The events and after-commit work
 * the services queued leave once it committed, and never for a rolled-back attempt.
 * `work` gets the context and, for a mutation, the transaction itself.
 */
export async function runService<T>(
  db: Db,
  principal: Principal,
  requestId: string,
  mutation: boolean,
  work: (ctx: ServiceContext, tx?: Tx) => Promise<T>,
): Promise<T> {
  const effects: (() => Promise<unknown> | unknown)[] = [];
  const ctxFor = (q: Db | Tx): ServiceContext => ({
    requestId,
    db: q,
    account: principal.account,
    key: principal.key,
    afterCommit: (fn) => void effects.push(fn),
    sendAfterCommit: (events) => void effects.push(() => installedDeps().send(events)),
  });
  let result: T;
  if (!mutation) {
    result = await work(ctxFor(db));
  } else {
    result = await retryOnConflict(() => db.transaction(async (tx) => {
      effects.length = 0;
      // The key must still be live when the mutation commits, not only when its headers arrived.
      const keyState = await keyStateForCommit(tx, principal.key.id);
      if (keyState === "revoked") throw new ApiError("invalid_api_key", "The API key was revoked while this request was in flight. Nothing was changed.");
      if (keyState === "expired") throw new ApiError("api_key_expired", "The API key expired while this request was in flight. Nothing was changed.");
      if (keyState) {
        throw new ApiError("plan_without_api_access", `The account moved to the ${keyState.noApiAccess} plan, which has no API access, while this request was in flight. Nothing was changed.`);
      }
      return work(ctxFor(tx), tx);
    }));
  }
  for (const fn of effects) runAfter("after-commit", async () => fn());
  return result;
}

/**
 * Runs a transaction again when Postgres aborted it as a deadlock victim or a
 * serialization failure (SQLSTATE 40P01, 40001): e.g. two keys revoking each
 * other at once, each holding a share lock on its own row. Nothing of an
 * aborted attempt was committed, so running it again is safe.
 */
async function retryOnConflict<T>(run: () => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await run();
    } catch (err) {
      const e = err as { code?: string; cause?: { code?: string } };
      const code = e?.code ?? e?.cause?.code;
      if (i >= attempts || (code !== "40P01" && code !== "40001")) throw err;
    }
  }
}

async function routeParams(context: RouteContext): Promise<Record<string, string>> {
  const raw = (await context?.params) ?? {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) if (typeof v === "string") out[k] = safeDecode(v);
  return out;
}

function safeDecode(v: string): string {
  try {
    return decodeURIComponent(v);
  } catch {
    return v; // not percent-encoded after all (a literal "%")
  }
}

/**
 * A handler's result as the HTTP response the API answers (the wrapper's, and
 * the MCP server's for a mutation, so an idempotent replay is the same either
 * way): `Location` and `Operation-Location` made absolute against the request's
 * origin (`url`, the request's parsed URL), a `Link: rel="next"` for a page,
 * JSON unless the handler set a type; `base` are the headers every answer carries.
 */
export function render(req: Request, url: URL, result: unknown, base: Readonly<Record<string, string>>): Response {
  const reply = result instanceof Reply ? result : new Reply(200, result);
  const h: Record<string, string> = { ...base };
  for (const [name, v] of Object.entries(reply.headers)) {
    const k = name.toLowerCase();
    h[k] = k === "location" || k === "operation-location" ? linkTo(baseUrlFromHeaders(req.headers, url), v) : v;
  }
  if (reply.nextCursor) {
    const next = new URL(url);
    next.searchParams.set("cursor", reply.nextCursor);
    h.link = `<${linkTo(baseUrlFromHeaders(req.headers, url), next.pathname + next.search)}>; rel="next"`;
  }
  if (reply.status === 204) return new Response(null, { status: 204, headers: h });
  if (typeof reply.body === "string" && h["content-type"]) return new Response(reply.body, { status: reply.status, headers: h });
  h["content-type"] = "application/json";
  return new Response(JSON.stringify(reply.body), { status: reply.status, headers: h });
}

/** Any error as the ApiError answered for it: its own, service_unavailable for an unreachable database, else internal_error (logged). */
export function toApiError(err: unknown, requestId: string): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof RateLimiterUnavailable) {
    // A change that could not tell the rate limiter's store (lib/keys/auth-version.ts) rolled back.
    log.error("rate limiter unavailable", { request_id: requestId, error: errorMessage(err) });
    return limiterUnavailable(err);
  }
  if (err instanceof DatabaseLockedError || isDatabaseUnavailable(err)) {
    // A database this server cannot reach (start-up stops on a locked embedded one, lib/startup.ts) is
    // an outage to retry after, not a crash: 503, nothing executed.
    log.error("database unavailable", { request_id: requestId, error: errorMessage(err) });
    return new ApiError("service_unavailable", "The database (or another service this request needs) cannot be reached, so the request was not executed. Retry shortly.");
  }
  log.error("unhandled error", { request_id: requestId, error: errorMessage(err) });
  return new ApiError("internal_error", `Something went wrong on our side. Quote request id ${requestId} if you contact support.`);
}

/**
 * Errors that mean the database cannot be reached or used, not that the
 * request was wrong: socket errors, and SQLSTATE classes 08 (connection
 * exception) and 28 (authorization), 3D000 (no such database), 53300 (too many
 * connections), 57P01-57P03 (shutting down, cannot connect now).
 * https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
function isDatabaseUnavailable(err: unknown): boolean {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    const code = typeof e.code === "string" ? e.code : "";
    if (["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENOTFOUND", "EHOSTUNREACH", "EPIPE", "3D000", "53300", "57P01", "57P02", "57P03"].includes(code)) return true;
    if (/^(08|28)[0-9A-Z]{3}$/.test(code)) return true;
    if (e instanceof Error && /Connection terminated|connection timeout|PGlite is closed/i.test(e.message)) return true;
  }
  return false;
}

/** For routes outside the pipeline (the /api/v1 catch-all): a problem+json answer with a request id. */
export function problem(req: Request, err: ApiError): Response {
  return problemResponse(err, requestIdOf(req));
}
