import type { z } from "zod";
import type { IdPrefix } from "../ids";
import { idOf, instanceRef } from "../schemas/common";
import type { Method } from "../http/route";

/**
 * Names the document gives to what the route files do not name themselves:
 * operation ids, tags and path parameters, all derived from the path so that
 * a new route file needs no OpenAPI-specific code.
 */

export type Segment = { kind: "static"; value: string } | { kind: "param"; name: string };

/** `/api/v1/instances/{id}/start` -> instances, {id}, start. */
export function pathSegments(path: string): Segment[] {
  const rest = path.replace(/^\/api\/v1\/?/, "");
  if (rest === path) throw new Error(`${path}: expected a path under /api/v1`);
  return rest
    .split("/")
    .filter(Boolean)
    .map((s) => {
      const m = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(s);
      if (m) return { kind: "param", name: m[1]! } as const;
      if (s.includes("{") || s.includes("}") || s.includes("[")) throw new Error(`${path}: write path parameters as {name}`);
      return { kind: "static", value: s } as const;
    });
}

export interface TagDoc {
  name: string;
  description: string;
}

/** The tags, in the order the reference shows them. */
export const TAGS: TagDoc[] = [
  {
    name: "Instances",
    description:
      "Hosted OpenClaw assistants: create them, read and rename them, and start, stop, restart, upgrade or delete them. Each change to a machine is an operation.",
  },
  {
    name: "Instance configuration",
    description: "An instance's model provider, channel integrations and agents: whole documents, replaced by PUT and applied by an operation. Secrets are never returned.",
  },
  { name: "Operations", description: "Long-running work (`instance.create`, `instance.start`, ...): poll it until it has `succeeded` or `failed`." },
  { name: "API keys", description: "Scoped keys for scripts and pipelines. A key's token is shown once, when it is created." },
  {
    name: "Backups",
    description:
      "Snapshots of an instance's volume (its memory, sessions and channel credentials): daily, and on request; restoring one replaces the volume's data.",
  },
  {
    name: "Webhooks",
    description:
      "Endpoints that receive the account's events (`operation.succeeded`, `operation.failed`, `instance.status_changed`, `instance.health_changed`; see the webhooks section), signed as the Standard Webhooks spec says.",
  },
  { name: "Events", description: "The events of the last 30 days, as webhook endpoints receive them, for consumers that poll or missed a delivery." },
  { name: "Metrics", description: "The account's instances and operations in the Prometheus text format, for Prometheus, Grafana or Datadog to scrape." },
  { name: "Account", description: "The key's account: plan, limits and usage." },
  { name: "Regions", description: "The Fly.io regions an instance can be created in." },
  {
    name: "Versions",
    description: "The OpenClaw versions on offer, each a pinned image. An instance shows its `version`; `POST /instances/{id}/upgrade` moves it, and rolls back a version that does not come up healthy.",
  },
  { name: "OpenAPI", description: "This document." },
];

const CONFIG_DOCUMENTS = new Set(["provider", "integrations", "agents"]);

const TAG_BY_RESOURCE: Record<string, string> = {
  instances: "Instances",
  operations: "Operations",
  keys: "API keys",
  webhooks: "Webhooks",
  account: "Account",
  events: "Events",
  metrics: "Metrics",
  regions: "Regions",
  versions: "Versions",
  "openapi.json": "OpenAPI",
};

export function tagFor(path: string): string {
  const segs = pathSegments(path);
  const first = segs[0]?.kind === "static" ? segs[0].value : "";
  const third = segs[2]?.kind === "static" ? segs[2].value : "";
  if (first === "instances" && CONFIG_DOCUMENTS.has(third)) return "Instance configuration";
  if (first === "instances" && (third === "backups" || third === "restore")) return "Backups";
  return TAG_BY_RESOURCE[first] ?? pascal(first).replace(/([a-z])([A-Z])/g, "$1 $2");
}

/** What a path parameter names, by the collection it follows; `prefix`: it is an id of that prefix (else not found). */
const PARAMS: Record<string, { description: string; example: string; prefix?: IdPrefix }> = {
  instances: { description: "The instance's id (`inst_...`) or its subdomain: both are accepted wherever an instance is named.", example: "my-assistant" },
  operations: { description: "The operation's id (`op_...`), as answered by the request that started it.", example: "op_01jd3z6v7a8b9c0d1e2f3g4h5j", prefix: "op" },
  keys: { description: "The API key's id (`key_...`), not its token.", example: "key_01jd3z6v7a8b9c0d1e2f3g4h5j", prefix: "key" },
  webhooks: { description: "The webhook endpoint's id (`wh_...`).", example: "wh_01jd3z6v7a8b9c0d1e2f3g4h5j", prefix: "wh" },
  deliveries: { description: "The delivery's id (`dlv_...`), from the endpoint's list of deliveries.", example: "dlv_01jd3z6v7a8b9c0d1e2f3g4h5j", prefix: "dlv" },
};

export function paramDoc(path: string, name: string): { description: string; example: string; prefix?: IdPrefix } {
  const segs = pathSegments(path);
  const i = segs.findIndex((s) => s.kind === "param" && s.name === name);
  const before = i > 0 ? segs[i - 1] : undefined;
  const collection = before?.kind === "static" ? before.value : "";
  return PARAMS[collection] ?? { description: `The ${singular(collection) || "resource"}'s id.`, example: "" };
}

/**
 * A path parameter's schema: an id of its collection's prefix (`idOf`, the rule ids
 * are made by; the services answer not_found for anything else), or for an instance,
 * named by id or subdomain, `instanceRef`.
 */
export function paramSchema(path: string, name: string): z.ZodType<string> {
  const d = paramDoc(path, name);
  return (d.prefix ? idOf(d.prefix) : instanceRef()).meta({ description: d.description, ...(d.example ? { example: d.example } : {}) });
}

const pascal = (s: string) =>
  s
    .split(/[-_.]/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join("");

const singular = (s: string) => (s.endsWith("ies") ? s.slice(0, -3) + "y" : s.endsWith("s") ? s.slice(0, -1) : s);

/** Display names for resources whose path segment reads badly in an identifier. */
const RESOURCE_NAMES: Record<string, { one: string; many: string }> = {
  keys: { one: "ApiKey", many: "ApiKeys" },
  metrics: { one: "Metrics", many: "Metrics" },
  "openapi.json": { one: "OpenApiDocument", many: "OpenApiDocument" },
};

const noun = (segment: string, many: boolean) => {
  const n = RESOURCE_NAMES[segment] ?? { one: pascal(singular(segment)), many: pascal(segment) };
  return many ? n.many : n.one;
};

const isArraySchema = (schema: z.ZodType | undefined) => (schema as { _zod?: { def?: { type?: string } } } | undefined)?._zod?.def?.type === "array";

const VERB: Record<Method, string> = { GET: "get", POST: "create", PUT: "replace", PATCH: "update", DELETE: "delete" };

/** Collections under a resource: a POST to one makes a member (`POST /instances/{id}/backups` -> createInstanceBackup), it is no action. */
const SUB_COLLECTIONS = new Set(["backups"]);

/**
 * A stable, readable operationId, which typed clients turn into method names:
 *   GET /instances -> listInstances, POST /instances -> createInstance,
 *   GET /instances/{id} -> getInstance, POST /instances/{id}/restart -> restartInstance,
 *   PUT /instances/{id}/provider -> replaceInstanceProvider,
 *   GET /webhooks/{id}/deliveries -> listWebhookDeliveries,
 *   POST /webhooks/{id}/rotate-secret -> rotateWebhookSecret,
 *   POST /webhooks/{id}/deliveries/{deliveryId}/redeliver -> redeliverWebhookDelivery,
 *   POST /instances/{id}/backups -> createInstanceBackup, POST /instances/{id}/restore -> restoreInstance.
 * A POST to a name after an id that does not answer 201 is an action: its first word is the verb.
 */
export function operationIdFor(method: Method, path: string, response?: { status: number; schema?: z.ZodType }): string {
  const segs = pathSegments(path);
  const last = segs[segs.length - 1];
  const action =
    method === "POST" &&
    last?.kind === "static" &&
    !SUB_COLLECTIONS.has(last.value) &&
    segs[segs.length - 2]?.kind === "param" &&
    (response?.status ?? 200) !== 201;
  let verb: string = VERB[method];
  let tail = "";
  const nouns: string[] = [];
  segs.forEach((seg, i) => {
    if (seg.kind === "param") return;
    const followedByParam = segs[i + 1]?.kind === "param";
    if (followedByParam) nouns.push(noun(seg.value, false));
    else if (i < segs.length - 1) nouns.push(pascal(seg.value));
    else if (action) {
      const [first, ...rest] = seg.value.split("-");
      verb = first!;
      tail = pascal(rest.join("-"));
    } else if (method === "GET" && isArraySchema(response?.schema)) {
      verb = "list";
      nouns.push(noun(seg.value, true));
    } else {
      nouns.push(method === "POST" ? noun(seg.value, false) : segs.length === 1 ? noun(seg.value, false) : pascal(seg.value));
    }
  });
  return `${verb}${nouns.join("")}${tail}`;
}
