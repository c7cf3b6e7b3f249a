import { z } from "zod";
import type { Method } from "../http/route";
import { listDeliveriesQuery, createWebhookBody } from "../schemas/webhooks";
import { listBackupsQuery, restoreBody } from "../schemas/backups";
import { listEventsQuery } from "../schemas/events";
import { createInstanceBody, listInstancesQuery, listOperationsQuery, operationIdParam, upgradeInstanceBody } from "../schemas/instances";
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
export interface ToolSpec<S extends z.ZodObject = z.ZodObject> {
  name: string;
  title: string;
  /** For a model: what it does, what it costs, whether it is asynchronous. */
  description: string;
  /** The REST endpoint this tool is, as `METHOD /api/v1/path/{param}`. */
  mirrors: `${Method} /api/v1/${string}`;
  input: S;
  /** The mirrored request's path parameters, query and body, from the tool's validated arguments. */
  request(args: z.output<S>): { params?: Record<string, string>; query?: unknown; body?: unknown };
  /**
   * MCP tool annotations (hints for the client). A tool that changes something
   * also takes an optional `idempotency_key` argument (lib/mcp/server.ts).
   */
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
const deliveryRef = z.string().min(1).max(100).meta({ description: "The delivery's id (`dlv_...`)", example: "dlv_01jd3z6v7a8b9c0d1e2f3g4h5j" });

const READ = { readOnlyHint: true, openWorldHint: false } as const;
const WRITE = { readOnlyHint: false, destructiveHint: false, openWorldHint: false } as const;

const ASYNC =
  "It is asynchronous: it answers at once with an operation (`id`, `status: pending`); the change happens in the background " +
  "and takes from seconds to a few minutes. Call `wait_for_operation` with that `id` to learn whether it succeeded.";
const HEAVY = "Costs one request of the key's `heavy` rate class (5 per minute on Pro, 10 on Business).";
const DESTRUCTIVE = { readOnlyHint: false, destructiveHint: true, openWorldHint: false } as const;
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
    annotations: { ...DESTRUCTIVE, idempotentHint: false },
  },
  {
    name: "upgrade_instance",
    title: "Upgrade an instance's OpenClaw version",
    description:
      "Moves an instance to another OpenClaw version (`version`, one of `list_versions`; default: the platform's default version), an earlier one too. " +
      "The machine moves to the version's image and must answer healthy; if it does not, the previous image is put back and the operation fails with " +
      `\`upgrade_rolled_back\` (the instance keeps its version). A stopped instance is stopped again afterwards. ${ASYNC} ` +
      `Fails with \`unsupported_version\` for a version not on offer or deprecated. Needs \`instance:write\`. ${HEAVY}`,
    mirrors: "POST /api/v1/instances/{id}/upgrade",
    input: upgradeInstanceBody.extend({ instance: instanceRef }),
    request: ({ instance, ...body }: { instance: string }) => ({ params: { id: instance }, body }),
    annotations: { ...WRITE, idempotentHint: false },
  },
  {
    name: "list_versions",
    title: "List OpenClaw versions",
    description: `Lists the OpenClaw versions on offer, newest first: which is the \`default\` for new instances and which are \`deprecated\` (still running where they run, but nothing new may move to them). Any key may call it. ${READ_COST}`,
    mirrors: "GET /api/v1/versions",
    input: z.strictObject({}),
    request: () => ({}),
    annotations: READ,
  },
  {
    name: "backup_instance",
    title: "Back up an instance",
    description:
      "Takes a snapshot of the instance's volume (the assistant's memory, sessions and channel credentials) now. The assistant keeps running meanwhile. " +
      `${ASYNC} The new backup then shows in \`list_backups\` as \`ready\`. Needs \`backups:write\`. ${HEAVY}`,
    mirrors: "POST /api/v1/instances/{id}/backups",
    input: z.strictObject({ instance: instanceRef }),
    request: (a: { instance: string }) => ({ params: { id: a.instance } }),
    annotations: { ...WRITE, idempotentHint: false },
  },
  {
    name: "list_backups",
    title: "List an instance's backups",
    description: `Lists an instance's backups, newest first: daily (\`scheduled\`) and on request (\`on_demand\`), each with its status (\`creating\`, \`ready\`), size and expiry. Paged: pass \`next_cursor\` as \`cursor\`. Needs \`backups:read\`. ${READ_COST}`,
    mirrors: "GET /api/v1/instances/{id}/backups",
    input: listBackupsQuery.extend({ instance: instanceRef }),
    request: ({ instance, ...query }: { instance: string }) => ({ params: { id: instance }, query }),
    annotations: READ,
  },
  {
    name: "restore_instance",
    title: "Restore an instance from a backup",
    description:
      "DESTRUCTIVE: replaces everything on the instance's volume with a `ready` backup's copy (`backup_id`, from `list_backups`); what changed since that backup is lost " +
      "and cannot be recovered, so confirm with the user first and consider `backup_instance` before. The configuration (provider, integrations, agents) is not part of a backup and stays. " +
      `If any step fails, the instance goes back to its old volume and the operation fails with \`restore_failed\`. Ends with the instance \`running\`. ${ASYNC} ` +
      `Needs \`backups:write\`. ${HEAVY}`,
    mirrors: "POST /api/v1/instances/{id}/restore",
    input: restoreBody.extend({ instance: instanceRef }),
    request: ({ instance, ...body }: { instance: string }) => ({ params: { id: instance }, body }),
    annotations: { ...DESTRUCTIVE, idempotentHint: false },
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
    annotations: { ...DESTRUCTIVE, idempotentHint: true },
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
    request: ({ webhook_id, ...query }: { webhook_id: string }) => ({ params: { id: webhook_id }, query }),
    annotations: READ,
  },
  {
    name: "rotate_webhook_secret",
    title: "Rotate a webhook endpoint's signing secret",
    description:
      "Makes a new signing secret for a webhook endpoint, shown this once in the answer's `secret`: hand it to the user to store. For 24 hours deliveries are signed " +
      `with both the new and the previous secret, so the receiver can switch without missing one. Needs \`webhooks:write\`. ${WRITE_COST}`,
    mirrors: "POST /api/v1/webhooks/{id}/rotate-secret",
    input: z.strictObject({ webhook_id: webhookRef }),
    request: (a: { webhook_id: string }) => ({ params: { id: a.webhook_id } }),
    annotations: { ...WRITE, idempotentHint: false },
  },
  {
    name: "redeliver_webhook_delivery",
    title: "Redeliver a webhook delivery",
    description:
      "Sends a delivery's message to its endpoint again, now, with the whole retry schedule ahead of it (e.g. after the receiver was fixed). It keeps its message id " +
      `(\`webhook-id\`), so a receiver that already handled it can tell. Fails with \`webhook_endpoint_disabled\` for a disabled endpoint. Needs \`webhooks:write\`. ${WRITE_COST}`,
    mirrors: "POST /api/v1/webhooks/{id}/deliveries/{deliveryId}/redeliver",
    input: z.strictObject({ webhook_id: webhookRef, delivery_id: deliveryRef }),
    request: (a: { webhook_id: string; delivery_id: string }) => ({ params: { id: a.webhook_id, deliveryId: a.delivery_id } }),
    annotations: { ...WRITE, idempotentHint: false, openWorldHint: true },
  },
  {
    name: "list_events",
    title: "List events",
    description:
      "Lists the account's events of the last 30 days, newest first, as its webhook endpoints receive them: `operation.succeeded`/`operation.failed`, " +
      "`instance.status_changed`, `instance.health_changed`. Filter by `type` or instance. Paged: pass `next_cursor` as `cursor`. " +
      `Needs \`webhooks:read\`. ${READ_COST}`,
    mirrors: "GET /api/v1/events",
    input: listEventsQuery,
    request: (a) => ({ query: a }),
    annotations: READ,
  },
  {
    name: "get_account",
    title: "Get the account",
    description: `Reads the account the key belongs to: its plan, its limits (instances, rate limits per class) and usage (instances in use). Any key may call it. ${READ_COST}`,
    mirrors: "GET /api/v1/account",
    input: z.strictObject({}),
    request: () => ({}),
    annotations: READ,
  },
];
