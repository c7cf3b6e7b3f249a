import { z } from "zod";
import type { Method } from "../http/route";
import { listDeliveriesQuery, createWebhookBody } from "../schemas/webhooks";
import { createInstanceBody, listInstancesQuery, listOperationsQuery, operationIdParam } from "../schemas/instances";
import { createKeyBody, listKeysQuery } from "../schemas/keys";
import { agentsBody, integrationsBody, providerBody } from "../schemas/config";

/**
 * The MCP server's tools, as data. Each tool IS one REST endpoint
 * (`mirrors`): the server (lib/mcp/server.ts) reads that endpoint's
 * definition for the scope a key needs, the rate class the call counts
 * against, whether it runs as a mutation (one transaction, the key checked
 * live at commit), and calls its handler, so a tool answers what the REST
 * request answers. Inputs are the REST API's own zod schemas (lib/schemas/),
 * with the path's ids as named arguments.
 */
export interface ToolSpec<S extends z.ZodType = z.ZodType> {
  name: string;
  title: string;
  /** For a model: what it does, what it costs, whether it is asynchronous. */
  description: string;
  /** The REST endpoint this tool is, as `METHOD /api/v1/path/{param}`. */
  mirrors: `${Method} /api/v1/${string}`;
  input: S;
  /** The mirrored request's path parameters, query and body, from the tool's validated arguments. */
  request(args: z.output<S>): { params?: Record<string, string>; query?: unknown; body?: unknown };
  /** MCP tool annotations (hints for the client). */
  annotations: { readOnlyHint: boolean; destructiveHint?: boolean; idempotentHint?: boolean; openWorldHint: boolean };
  /** Set on wait_for_operation: after the call, poll the operation until it finishes or this many seconds pass. */
  waitSeconds?(args: z.output<S>): number;
}

/** The longest wait_for_operation holds a request, in seconds (a serverless function's time is bounded). */
export const MAX_WAIT_SECONDS = 60;

const instanceRef = z
  .string()
  .min(1)
  .max(100)
  .meta({ description: "The instance: its id (`inst_...`) or its subdomain", example: "inst_01jd3z6v7a8b9c0d1e2f3g4h5j" });
const keyRef = z.string().min(1).max(100).meta({ description: "The API key's id (`key_...`)", example: "key_01jd3z6v7a8b9c0d1e2f3g4h5j" });
const webhookRef = z.string().min(1).max(100).meta({ description: "The webhook endpoint's id (`wh_...`)", example: "wh_01jd3z6v7a8b9c0d1e2f3g4h5j" });

const READ = { readOnlyHint: true, openWorldHint: false } as const;
const WRITE = { readOnlyHint: false, destructiveHint: false, openWorldHint: false } as const;

const ASYNC =
  "It is asynchronous: it answers at once with an operation (`id`, `status: pending`); the change happens in the background " +
  "and takes from seconds to a few minutes. Call `wait_for_operation` with that `id` to learn whether it succeeded.";
const HEAVY = "Costs one request of the key's `heavy` rate class (5 per minute on Pro, 10 on Business).";
const READ_COST = "Costs one request of the key's `read` rate class.";
const WRITE_COST = "Costs one request of the key's `write` rate class.";

const lifecycle = (verb: "start" | "stop" | "restart", what: string): ToolSpec => ({
  name: `${verb}_instance`,
  title: `${verb[0]!.toUpperCase()}${verb.slice(1)} an instance`,
  description: `${what} ${ASYNC} Fails with \`invalid_instance_state\` when the instance's status does not allow it, and \`operation_in_progress\` while another operation runs on it. Needs \`instance:write\`. ${HEAVY}`,
  mirrors: `POST /api/v1/instances/{id}/${verb}`,
  input: z.strictObject({ instance: instanceRef }),
  request: (a: { instance: string }) => ({ params: { id: a.instance } }),
  annotations: { ...WRITE, idempotentHint: false },
});

const configTools = (kind: "provider" | "integrations" | "agents", body: z.ZodType, what: string, secrets: string): ToolSpec[] => [
  {
    name: `get_${kind}`,
    title: `Get an instance's ${kind === "provider" ? "model provider" : kind}`,
    description: `Reads the ${what} document the instance runs now. ${secrets} Needs \`${kind}:read\`. ${READ_COST}`,
    mirrors: `GET /api/v1/instances/{id}/${kind}`,
    input: z.strictObject({ instance: instanceRef }),
    request: (a: { instance: string }) => ({ params: { id: a.instance } }),
    annotations: READ,
  },
  {
    name: `set_${kind}`,
    title: `Replace an instance's ${kind === "provider" ? "model provider" : kind}`,
    description:
      `Replaces the instance's ${what} document whole (the same document as \`PUT /api/v1/instances/{id}/${kind}\` takes) and applies it. ` +
      `${ASYNC} While it applies, the instance shows \`updating\`; if applying fails, the previous configuration keeps running and the operation fails with the reason. ` +
      `A document identical in effect to the applied one starts nothing: the answer is then \`{"unchanged": true, "document": ...}\`. ` +
      `Possible while the instance is \`running\` or \`stopped\`. Needs \`${kind}:write\`. ${HEAVY}`,
    mirrors: `PUT /api/v1/instances/{id}/${kind}`,
    input: z.strictObject({ instance: instanceRef, document: body }),
    request: (a: { instance: string; document: unknown }) => ({ params: { id: a.instance }, body: a.document }),
    annotations: { ...WRITE, idempotentHint: true },
  },
];

export const TOOLS: ToolSpec[] = [
  {
    name: "list_instances",
    title: "List instances",
    description: `Lists the account's hosted OpenClaw instances, oldest first, each with its id, subdomain, status, region and URL. Optionally only those in given statuses. Needs \`instance:read\`. ${READ_COST}`,
    mirrors: "GET /api/v1/instances",
    input: listInstancesQuery,
    request: (a) => ({ query: a }),
    annotations: READ,
  },
  {
    name: "get_instance",
    title: "Get an instance",
    description: `Reads one instance by id or subdomain: its status (e.g. \`running\`, \`stopped\`, \`starting\`, \`failed\`), region and URL. Needs \`instance:read\`. ${READ_COST}`,
    mirrors: "GET /api/v1/instances/{id}",
    input: z.strictObject({ instance: instanceRef }),
    request: (a: { instance: string }) => ({ params: { id: a.instance } }),
    annotations: READ,
  },
  {
    name: "create_instance",
    title: "Create an instance",
    description:
      "Creates a hosted OpenClaw assistant on its own machine, at `https://<subdomain>.<domain>`; optionally with its model provider, chat integrations and agents in the same call. " +
      `Uses one of the plan's instance slots (\`instance_limit_reached\` when none is left); the subdomain must be free (\`subdomain_taken\`). ${ASYNC} ` +
      `The operation's \`instance_id\` names the new instance. Needs \`instance:write\`. ${HEAVY}`,
    mirrors: "POST /api/v1/instances",
    input: createInstanceBody,
    request: (a) => ({ body: a }),
    annotations: { ...WRITE, idempotentHint: false },
  },
  lifecycle("start", "Starts a stopped instance's machine."),
  lifecycle("stop", "Stops a running instance's machine (its data is kept; a stopped instance can be started again)."),
  lifecycle("restart", "Restarts a running instance's machine, e.g. to recover an assistant that misbehaves."),
  {
    name: "delete_instance",
    title: "Delete an instance",
    description:
      "Deletes an instance for good: its machine, its volume (the assistant's data and memory) and its app. This cannot be undone. " +
      `Its plan slot is freed when the operation succeeds. ${ASYNC} Needs \`instance:write\`. ${HEAVY}`,
    mirrors: "DELETE /api/v1/instances/{id}",
    input: z.strictObject({ instance: instanceRef }),
    request: (a: { instance: string }) => ({ params: { id: a.instance } }),
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  },
  {
    name: "get_operation",
    title: "Get an operation",
    description: `Reads an operation (what create, start, stop, restart, delete and the set_* tools start): its type, \`status\` (\`pending\`, \`running\`, \`succeeded\`, \`failed\`) and, when it failed, \`error.code\` and \`error.message\`. Answers at once; to wait for the end, use \`wait_for_operation\`. Needs \`operations:read\`. ${READ_COST}`,
    mirrors: "GET /api/v1/operations/{id}",
    input: z.strictObject({ operation_id: operationIdParam.meta({ description: "The operation's id (`op_...`)" }) }),
    request: (a: { operation_id: string }) => ({ params: { id: a.operation_id } }),
    annotations: READ,
  },
  {
    name: "wait_for_operation",
    title: "Wait for an operation to finish",
    description:
      `Waits until an operation has \`succeeded\` or \`failed\`, or until \`timeout_seconds\` (default 30, at most ${MAX_WAIT_SECONDS}) have passed, and answers the operation as it then stands. ` +
      "If it is still `pending` or `running`, call this again. A failed operation carries `error.code` and `error.message`. " +
      `Needs \`operations:read\`. ${READ_COST} (once per call, however long it waits)`,
    mirrors: "GET /api/v1/operations/{id}",
    input: z.strictObject({
      operation_id: operationIdParam.meta({ description: "The operation's id (`op_...`)" }),
      timeout_seconds: z
        .number()
        .int()
        .min(0)
        .max(MAX_WAIT_SECONDS)
        .default(30)
        .meta({ description: `How long to wait at most, in seconds (0-${MAX_WAIT_SECONDS}, default 30); 0 answers at once` }),
    }),
    request: (a: { operation_id: string }) => ({ params: { id: a.operation_id } }),
    waitSeconds: (a: { timeout_seconds: number }) => a.timeout_seconds,
    annotations: READ,
  },
  {
    name: "list_operations",
    title: "List operations",
    description: `Lists the account's operations, newest first, optionally only one instance's (\`instance_id\`, its id or subdomain), or given statuses or types. Paged: pass the answer's \`next_cursor\` as \`cursor\` for the next page. Needs \`operations:read\`. ${READ_COST}`,
    mirrors: "GET /api/v1/operations",
    input: listOperationsQuery,
    request: (a) => ({ query: a }),
    annotations: READ,
  },
  ...configTools("provider", providerBody, "model provider (which LLM vendor, model and API key the assistant uses)", "The API key is never shown, only `{set, last4}`."),
  ...configTools("integrations", integrationsBody, "chat integrations (Telegram, Discord, Slack)", "Bot and app tokens are never shown, only `{set, last4}`."),
  ...configTools("agents", agentsBody, "agents (each agent's name, model and instructions)", ""),
  {
    name: "list_keys",
    title: "List API keys",
    description: `Lists the account's live API keys, oldest first: name, prefix, scopes, expiry and last use (never a token). Paged: pass \`next_cursor\` as \`cursor\`. Needs \`keys:read\`. ${READ_COST}`,
    mirrors: "GET /api/v1/keys",
    input: listKeysQuery,
    request: (a) => ({ query: a }),
    annotations: READ,
  },
  {
    name: "create_key",
    title: "Create an API key",
    description:
      "Creates an API key with the given scopes (or the shortcuts `read`, `write`, `all`) and optional expiry. A key can only grant scopes it holds itself (`insufficient_scope` with `missing_scopes` otherwise). " +
      `The answer carries the new key's \`token\`, shown this once: hand it to the user to store; it cannot be read again. Needs \`keys:write\`. ${WRITE_COST}`,
    mirrors: "POST /api/v1/keys",
    input: createKeyBody,
    request: (a) => ({ body: a }),
    annotations: { ...WRITE, idempotentHint: false },
  },
  {
    name: "revoke_key",
    title: "Revoke an API key",
    description:
      "Revokes an API key for good: the next request made with it is refused. This cannot be undone; revoking the key this server was called with cuts off this session. " +
      `A key can revoke only keys whose every scope it holds itself. Needs \`keys:write\`. ${WRITE_COST}`,
    mirrors: "DELETE /api/v1/keys/{id}",
    input: z.strictObject({ key_id: keyRef }),
    request: (a: { key_id: string }) => ({ params: { id: a.key_id } }),
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  },
  {
    name: "list_webhooks",
    title: "List webhook endpoints",
    description: `Lists the account's webhook endpoints (at most 10): URL, subscribed events, whether enabled (never the signing secret). Needs \`webhooks:read\`. ${READ_COST}`,
    mirrors: "GET /api/v1/webhooks",
    input: z.strictObject({}),
    request: () => ({}),
    annotations: READ,
  },
  {
    name: "create_webhook",
    title: "Create a webhook endpoint",
    description:
      "Registers a public https URL to receive `operation.succeeded` and/or `operation.failed` events, signed per the Standard Webhooks spec. " +
      `The answer carries the signing \`secret\`, shown this once: hand it to the user to store. Needs \`webhooks:write\`. ${WRITE_COST}`,
    mirrors: "POST /api/v1/webhooks",
    input: createWebhookBody,
    request: (a) => ({ body: a }),
    annotations: { ...WRITE, idempotentHint: false, openWorldHint: true },
  },
  {
    name: "list_webhook_deliveries",
    title: "List a webhook endpoint's deliveries",
    description: `Lists a webhook endpoint's deliveries, newest first, each with every attempt (time, HTTP status, duration, error) and, while pending, when the next is due. Paged: pass \`next_cursor\` as \`cursor\`. Needs \`webhooks:read\`. ${READ_COST}`,
    mirrors: "GET /api/v1/webhooks/{id}/deliveries",
    input: listDeliveriesQuery.extend({ webhook_id: webhookRef }),
    request: ({ webhook_id, ...query }) => ({ params: { id: webhook_id }, query }),
    annotations: READ,
  },
];
