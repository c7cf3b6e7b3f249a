import { z } from "zod";
import {
  createDocument,
  type oas32,
  type ZodObjectInput,
  type ZodOpenApiObject,
  type ZodOpenApiOperationObject,
  type ZodOpenApiPathsObject,
  type ZodOpenApiResponseObject,
  type ZodOpenApiResponsesObject,
} from "zod-openapi";
import { ERROR_CODES, type ErrorCode } from "../errors";
import { idempotencyKeyHeader } from "../http/idempotency";
import { problemHeaders } from "../http/problem";
import { RATE_LIMIT_HEADERS } from "../http/ratelimit";
import {
  isMutation,
  METHODS,
  queryKeys,
  rateClassOf,
  wrapperErrors,
  type Endpoint,
  type Method,
  type PublicEndpoint,
  type RouteDefinition,
} from "../http/route";
import { WEBHOOK_PAYLOADS } from "../schemas/events";
import { SCOPES } from "../scopes";
import { ATTEMPT_TIMEOUT_MS } from "../webhooks/attempt";
import { WEBHOOK_EVENT_TYPES, WEBHOOK_EVENTS, type WebhookEventType } from "../webhooks/events";
import { MAX_ATTEMPTS, RETRY_DELAYS_MS } from "../webhooks/schedule";
import { exampleBaseUrl } from "../http/base-url";
import { exampleProblem, problemSchema } from "./errors";
import { apiDescription, SCOPE_DESCRIPTIONS, SHORTCUT_DESCRIPTIONS } from "./guide";
import { operationIdFor, paramSchema, pathSegments, tagFor, TAGS } from "./naming";

/**
 * The OpenAPI 3.1 document, generated from the route files' own definitions
 * (the zod schemas that validate each request), so there is no second copy of
 * the contract. The list of route modules lives in app/ (lib never imports
 * app): this module takes it as input.
 */

/** One route file, as the document's list names it. */
export interface RouteModule {
  /** The OpenAPI path, e.g. `/api/v1/keys/{id}` for app/api/v1/keys/[id]/route.ts. */
  path: string;
  /** `() => import("@/app/api/v1/keys/[id]/route")` */
  load: () => Promise<object>;
}

export interface DocumentedRoute {
  path: string;
  definition: RouteDefinition;
}

/** The generated document, as zod-openapi types it. */
export type OpenApiDocument = ReturnType<typeof createDocument>;

/** The name of the one security scheme (an API key as a bearer token), which /docs preselects. */
export const SECURITY_SCHEME = "bearer";

const JSON_TYPE = "application/json";
const PROBLEM_TYPE = "application/problem+json";

export async function loadRoutes(modules: readonly RouteModule[]): Promise<DocumentedRoute[]> {
  return Promise.all(modules.map(async (m) => ({ path: m.path, definition: definitionOf(await m.load(), m.path) })));
}

/**
 * A route module's definition. Next.js lets a route file export only its
 * handlers (and segment config), so `route()` hangs the definition on each
 * handler it builds; a module-level `definition` export is read too.
 */
export function definitionOf(mod: object, where = "route module"): RouteDefinition {
  const m = mod as Record<string, unknown>;
  const fromHandler = [...METHODS, "OPTIONS"]
    .map((k) => (m[k] as { definition?: RouteDefinition } | undefined)?.definition)
    .find(Boolean);
  const def = (m.definition as RouteDefinition | undefined) ?? fromHandler;
  if (!def) throw new Error(`${where}: no route definition found (expected its handlers to come from route() in lib/http/route.ts, which attaches \`definition\`)`);
  return def;
}

/* ---------- reusable components ---------- */

const ref = (kind: "examples" | "headers" | "parameters" | "schemas", name: string) => ({ $ref: `#/components/${kind}/${name}` });

const int = { type: "integer" } as const;
const str = { type: "string" } as const;

const HEADERS: Record<string, oas32.HeaderObject> = {
  "X-Request-Id": { description: "This request's id; also `request_id` in error bodies. Quote it to support.", schema: str },
  "X-RateLimit-Limit": { description: "Requests allowed per minute in the window closest to refusing (the key's class limit or the account's ceiling)", schema: int },
  "X-RateLimit-Remaining": { description: "Requests left in that window", schema: int },
  "X-RateLimit-Reset": {
    description:
      "When that window's whole quota is back (the limits are sliding one-minute windows), in Unix seconds, if no request is made meanwhile. Over a limit, `Retry-After` says when the next request is admitted, which is sooner.",
    schema: int,
  },
  "RateLimit-Policy": {
    description: 'Both limits, as in the IETF RateLimit headers draft, e.g. `"key-read";q=120;w=60, "account";q=1000;w=60`',
    schema: str,
  },
  RateLimit: {
    description: 'What is left of each limit (`r`) and in how many seconds its whole quota is back (`t`), e.g. `"key-read";r=119;t=1, "account";r=999;t=1`',
    schema: str,
  },
  "Retry-After": { description: "Seconds to wait before retrying; on a 429, a request made after them is admitted (if no other is made meanwhile)", schema: int },
  Location: { description: "The absolute URL of the created resource or of the operation", schema: { type: "string", format: "uri" } },
  "Operation-Location": { description: "The absolute URL to poll the operation at: `GET /api/v1/operations/{id}`", schema: { type: "string", format: "uri" } },
  Link: { description: 'Present when more items follow: `<url-of-next-page>; rel="next"`', schema: str },
  "Idempotent-Replayed": {
    description: "`true` when this is the stored answer to an earlier request with the same `Idempotency-Key`",
    schema: { type: "string", enum: ["true"] },
  },
  "Config-Unchanged": {
    description: "`true` when the configuration sent is, in effect, the one applied already: nothing was started, and the body is that document",
    schema: { type: "string", enum: ["true"] },
  },
  "WWW-Authenticate": { description: 'Always `Bearer realm="api", error="invalid_token"`', schema: str },
};

/** Headers in the order the document lists them. */
const HEADER_ORDER = Object.keys(HEADERS);

const headerRefs = (names: string[]): Record<string, oas32.ReferenceObject> =>
  Object.fromEntries(names.map((n) => [n, ref("headers", n)]));


function securitySchemeDescription(): string {
  return [
    "An API key: `Authorization: Bearer moc_<short>_<long>`. Each operation lists the scope it needs. Scopes:",
    "",
    ...SCOPES.map((s) => `- \`${s}\`: ${SCOPE_DESCRIPTIONS[s]}`),
    "",
    "Shortcuts, accepted wherever scopes are given: " +
      Object.entries(SHORTCUT_DESCRIPTIONS)
        .map(([k, v]) => `\`${k}\` (${v})`)
        .join(", ") +
      ".",
  ].join("\n");
}

/** The Idempotency-Key header every change takes, from the schema the wrapper reads it with (a component, `IdempotencyKey`). */
const IDEMPOTENCY_HEADER = z.object({ "Idempotency-Key": idempotencyKeyHeader.optional().meta({ param: { id: "IdempotencyKey" } }) });

/* ---------- errors ---------- */

const STATUS_TEXT: Record<number, string> = {
  400: "Bad request",
  401: "Unauthenticated",
  403: "Forbidden",
  404: "Not found",
  409: "Conflict",
  413: "Payload too large",
  415: "Unsupported media type",
  422: "Unprocessable",
  429: "Too many requests",
  500: "Internal error",
  503: "Service unavailable",
};

function errorResponses(codes: readonly string[], where: string): Record<string, ZodOpenApiResponseObject> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const c of new Set(codes)) {
    if (!(c in ERROR_CODES)) throw new Error(`${where}: unknown error code "${c}" (not in lib/errors.ts ERROR_CODES)`);
    const code = c as ErrorCode;
    const status = ERROR_CODES[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const out: Record<string, ZodOpenApiResponseObject> = {};
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
    // Every header any of the status's codes carries, in the order the wrapper's problem responses name them.
    const headers = [...new Set(list.flatMap(problemHeaders))].sort((a, b) => HEADER_ORDER.indexOf(a) - HEADER_ORDER.indexOf(b));
    out[String(status)] = {
      description: `${STATUS_TEXT[status] ?? "Error"}: ${list.map((c) => `\`${c}\``).join(", ")}. See [the error reference](/docs/errors).`,
      headers: headerRefs(headers),
      content: {
        [PROBLEM_TYPE]: {
          // The one Problem schema, so a generated client has one error type; the codes are in the description and examples.
          schema: ref("schemas", "Problem"),
          examples: Object.fromEntries(list.map((c) => [c, ref("examples", c)])),
        },
      },
    };
  }
  return out;
}

/* ---------- operations ---------- */

const schemaId = (schema: z.ZodType | undefined) => (schema?.meta() as { id?: string } | undefined)?.id;

const isPublic = (def: Endpoint | PublicEndpoint): def is PublicEndpoint => def.scope === "public";

function successResponse(
  method: Method,
  def: Endpoint | PublicEndpoint,
  r: NonNullable<Endpoint["response"]> = def.response ?? { status: method === "POST" ? 201 : 200, description: "OK" },
): [string, ZodOpenApiResponseObject] {
  const headers = ["X-Request-Id"];
  if (!isPublic(def)) headers.push(...RATE_LIMIT_HEADERS);
  // The wrapper's `created()` and `accepted()` replies carry these; a 202 that is not an operation does not.
  const startsOperation = r.status === 202 && schemaId(r.schema) === "Operation";
  if (r.status === 201 || startsOperation) headers.push("Location");
  if (startsOperation) headers.push("Operation-Location");
  if (!isPublic(def) && queryKeys(def).includes("cursor")) headers.push("Link");
  if (!isPublic(def) && isMutation(method)) headers.push("Idempotent-Replayed");
  headers.push(...(r.headers ?? []));
  return [
    String(r.status),
    {
      description: r.description,
      headers: headerRefs(headers),
      ...(r.schema && r.status !== 204 ? { content: { [r.contentType ?? JSON_TYPE]: { schema: r.schema } } } : {}),
    },
  ];
}

function operation(method: Method, path: string, def: Endpoint | PublicEndpoint): ZodOpenApiOperationObject {
  const params = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
  const pathParams =
    params.length > 0
      ? z.object(
          Object.fromEntries(
            params.map((name) => [name, paramSchema(path, name)]),
          ),
        )
      : undefined;
  const [status, success] = successResponse(method, def);
  const responses: ZodOpenApiResponsesObject = { [status]: success } as ZodOpenApiResponsesObject;
  const also = isPublic(def) ? undefined : def.alsoResponds;
  if (also) {
    const [alsoStatus, alsoSuccess] = successResponse(method, def, also);
    (responses as Record<string, ZodOpenApiResponseObject>)[alsoStatus] = alsoSuccess;
  }
  const notes: string[] = [];
  let security: oas32.SecurityRequirementObject[];

  if (isPublic(def)) {
    security = [];
    notes.push("Public: no API key needed.");
  } else {
    security = [{ [SECURITY_SCHEME]: def.scope === "any" ? [] : [def.scope] }];
    const rate = rateClassOf(method, def);
    notes.push(
      `${def.scope === "any" ? "Any valid API key." : `Scope: \`${def.scope}\`.`} Rate class: ${rate}.` +
        (isMutation(method) ? " Takes an `Idempotency-Key`." : ""),
    );
    Object.assign(
      responses,
      errorResponses([...wrapperErrors(method, def, path), ...(def.errors ?? [])], `${method} ${path}`),
    );
  }

  const body = isPublic(def) ? undefined : def.body;
  const idempotent = !isPublic(def) && isMutation(method);
  const query = isPublic(def) ? undefined : (def.query as ZodObjectInput | undefined);
  return {
    operationId: operationIdFor(method, path, def.response),
    summary: def.summary,
    description: [def.description, notes.join(" ")].filter(Boolean).join("\n\n"),
    tags: [tagFor(path)],
    security,
    ...(pathParams || query || idempotent
      ? { requestParams: { ...(pathParams ? { path: pathParams } : {}), ...(query ? { query } : {}), ...(idempotent ? { header: IDEMPOTENCY_HEADER } : {}) } }
      : {}),
    ...(body
      ? { requestBody: { required: !body.safeParse({}).success, content: { [JSON_TYPE]: { schema: body } } } }
      : {}),
    responses,
  };
}

/* ---------- links ---------- */

type Operations = Record<string, ZodOpenApiOperationObject>;

const operationsOf = (paths: ZodOpenApiPathsObject) =>
  Object.entries(paths).flatMap(([path, item]) => Object.entries(item as Operations).map(([method, op]) => ({ path, method, op })));

const responseSchema = (res: ZodOpenApiResponseObject): z.ZodType | undefined => {
  const media = Object.values(res.content ?? {})[0] as { schema?: unknown } | undefined;
  return media?.schema instanceof z.ZodType ? media.schema : undefined;
};

/**
 * OpenAPI links (3.1, 4.8.20), derived from the schemas so that a tool can follow
 * create -> operation -> instance: every answer that carries a resource links to the
 * GET that reads it again (`$response.body#/id`: an Operation to `getOperation`, a
 * CreatedApiKey to `getApiKey`), and each `<name>_id` field of it to the GET of that
 * resource (an Operation's `instance_id` to `getInstance`). A reader is a GET of one
 * path parameter answering one object with a schema id.
 */
function addLinks(paths: ZodOpenApiPathsObject): void {
  const readers = new Map<string, { operationId: string; param: string }>();
  for (const { path, method, op } of operationsOf(paths)) {
    const params = [...path.matchAll(/\{([^}]+)\}/g)];
    const id = schemaId(responseSchema((op.responses["200"] ?? {}) as ZodOpenApiResponseObject));
    if (method === "get" && params.length === 1 && id && op.operationId) readers.set(id, { operationId: op.operationId, param: params[0]![1]! });
  }
  for (const { op } of operationsOf(paths)) {
    for (const [status, res] of Object.entries(op.responses) as [string, ZodOpenApiResponseObject][]) {
      if (!/^2\d\d$/.test(status)) continue;
      const schema = responseSchema(res);
      const id = schemaId(schema);
      const shape = (schema as { shape?: Record<string, unknown> } | undefined)?.shape;
      if (!id || !shape) continue;
      const links: Record<string, oas32.LinkObject> = {};
      const self = readers.get(id) ?? readers.get(id.replace(/^Created/, ""));
      if (self && self.operationId !== op.operationId && "id" in shape) {
        links[self.operationId] = { operationId: self.operationId, parameters: { [self.param]: "$response.body#/id" }, description: `Read this ${id} again` };
      }
      for (const field of Object.keys(shape).filter((f) => f !== "id" && f.endsWith("_id"))) {
        const target = readers.get(field.slice(0, -3).replace(/(^|_)(\w)/g, (_, __, c: string) => c.toUpperCase()));
        if (!target || target.operationId === op.operationId) continue;
        links[target.operationId] = {
          operationId: target.operationId,
          parameters: { [target.param]: `$response.body#/${field}` },
          description: `The resource \`${field}\` names`,
        };
      }
      if (Object.keys(links).length > 0) res.links = links;
    }
  }
}

/* ---------- webhooks ---------- */

const WEBHOOK_HEADERS: oas32.ParameterObject[] = [
  { name: "webhook-id", in: "header", required: true, description: "The event's id (`msg_...`): the same on every attempt, so a receiver can drop duplicates. `GET /events` lists it.", schema: str },
  { name: "webhook-timestamp", in: "header", required: true, description: "When this attempt was signed, in Unix seconds", schema: int },
  {
    name: "webhook-signature",
    in: "header",
    required: true,
    description:
      "`v1,<base64 HMAC-SHA256>` of `<webhook-id>.<webhook-timestamp>.<body>` under the endpoint's secret (Standard Webhooks); " +
      "while a rotated-out secret is still valid, a second signature follows, space-separated. Verify it with a Standard Webhooks library.",
    schema: str,
  },
];

const retryText = () =>
  `Answer 2xx within ${ATTEMPT_TIMEOUT_MS / 1000} s. Anything else is retried: ${MAX_ATTEMPTS} attempts in all, after ` +
  RETRY_DELAYS_MS.map(duration).join(", ") +
  "; 410 Gone disables the endpoint.";

/** One entry of the document's `webhooks` (OpenAPI 3.1): what an endpoint subscribed to the event receives. */
function webhookEntry(type: WebhookEventType) {
  return {
    post: {
      operationId: `${type.replace(/[._](\w)/g, (_, c: string) => c.toUpperCase())}Webhook`,
      summary: type,
      description: `${WEBHOOK_EVENTS[type].description}\n\n${retryText()}`,
      tags: ["Webhooks"],
      parameters: WEBHOOK_HEADERS,
      requestBody: { required: true, content: { [JSON_TYPE]: { schema: WEBHOOK_PAYLOADS[type] } } },
      responses: {
        "2XX": { description: "Received" },
        "410": { description: "Gone: the endpoint is disabled and receives nothing more until re-enabled" },
      },
    },
  };
}

function duration(ms: number): string {
  return ms >= 3_600_000 ? `${ms / 3_600_000} h` : ms >= 60_000 ? `${ms / 60_000} min` : `${ms / 1000} s`;
}

/** The document without what depends on the deployment (servers, quick start). */
export function buildDocument(routes: readonly DocumentedRoute[]): OpenApiDocument {
  const paths: ZodOpenApiPathsObject = {};
  const usedTags = new Set<string>();
  for (const { path, definition } of [...routes].sort((a, b) => a.path.localeCompare(b.path))) {
    pathSegments(path); // throws on a path not under /api/v1 or with [param] instead of {param}
    const item: ZodOpenApiPathsObject[string] = {};
    for (const method of METHODS) {
      const def = definition[method];
      if (!def) continue;
      item[method.toLowerCase() as Lowercase<Method>] = operation(method, path, def);
      usedTags.add(tagFor(path));
    }
    if (Object.keys(item).length > 0) paths[path] = item;
  }
  addLinks(paths);
  // Each error code's example is written once, under components, and referenced by every response that can carry it.
  const usedCodes = Object.values(paths)
    .flatMap((item) => Object.values(item as Record<string, ZodOpenApiOperationObject>))
    .flatMap((op) => Object.values(op.responses) as ZodOpenApiResponseObject[])
    .flatMap((res) => Object.keys(res.content?.[PROBLEM_TYPE]?.examples ?? {}) as ErrorCode[]);

  const doc: ZodOpenApiObject = {
    openapi: "3.1.0",
    info: {
      title: "MyOpenClaw Developer API",
      version: "1.0.0",
      summary: "Manage hosted OpenClaw AI assistants: instances, operations, API keys and webhooks.",
      description: apiDescription("https://api.example.com"),
    },
    tags: [
      ...TAGS.filter((t) => usedTags.has(t.name)),
      ...[...usedTags].filter((n) => !TAGS.some((t) => t.name === n)).map((name) => ({ name })),
    ],
    paths,
    webhooks: Object.fromEntries(WEBHOOK_EVENT_TYPES.map((t) => [t, webhookEntry(t)])),
    components: {
      schemas: { Problem: problemSchema },
      headers: HEADERS,
      examples: Object.fromEntries([...new Set(usedCodes)].sort().map((c) => [c, { summary: ERROR_CODES[c].title, value: exampleProblem(c) }])),
      securitySchemes: {
        [SECURITY_SCHEME]: { type: "http", scheme: "bearer", bearerFormat: "moc_<short>_<long>", description: securitySchemeDescription() },
      },
    },
  };
  return createDocument(doc, { override: tidySchema });
}

/**
 * Drops what zod emits that only adds noise for readers: safe-integer bounds, the date-time regex beside `format`;
 * and keeps a default zod leaves out of an input schema whose value is preprocessed (a page's `limit`).
 */
function tidySchema({ jsonSchema, zodSchema }: { jsonSchema: Record<string, unknown>; zodSchema: z.core.$ZodType }): void {
  const def = zodSchema._zod.def as { type: string; defaultValue?: unknown };
  if (def.type === "default" && jsonSchema.default === undefined) jsonSchema.default = def.defaultValue;
  if (jsonSchema.minimum === Number.MIN_SAFE_INTEGER) delete jsonSchema.minimum;
  if (jsonSchema.maximum === Number.MAX_SAFE_INTEGER) delete jsonSchema.maximum;
  if (jsonSchema.format === "date-time") delete jsonSchema.pattern;
}

/** The document as this deployment serves it: its own base URL in `servers` and in the quick start. */
export function forDeployment(doc: OpenApiDocument, baseUrl: string): OpenApiDocument {
  // No trusted base (production without PUBLIC_BASE_URL): a relative server, which
  // OpenAPI resolves against where the document was fetched from.
  return {
    ...doc,
    info: { ...doc.info, description: apiDescription(exampleBaseUrl(baseUrl)) },
    servers: [{ url: baseUrl || "/", description: "This deployment" }],
    externalDocs: { description: "Error codes and what to do about them", url: `${baseUrl}/docs/errors` },
  };
}

/**
 * Builds the document once per process (route definitions do not change at
 * run time) and answers it for a base URL.
 */
export function documentSource(modules: readonly RouteModule[]): (baseUrl: string) => Promise<OpenApiDocument> {
  let built: Promise<OpenApiDocument> | undefined;
  return async (baseUrl) => {
    built ??= loadRoutes(modules).then(buildDocument);
    try {
      return forDeployment(await built, baseUrl);
    } catch (err) {
      built = undefined; // a failed build is retried on the next request, not cached
      throw err;
    }
  };
}

/** The response schema of GET /api/v1/openapi.json. */
export const openApiDocumentSchema = z
  .looseObject({
    openapi: z.string().meta({ example: "3.1.0" }),
    info: z.looseObject({ title: z.string(), version: z.string() }),
    paths: z.record(z.string(), z.unknown()),
  })
  .meta({ id: "OpenApiDocument", description: "An OpenAPI 3.1 document" });
