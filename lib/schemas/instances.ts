import { z } from "zod";
// The enums below read the lifecycle's lists (lib/operations/lifecycle.ts), defined there once.
import { HEALTH_STATUSES } from "../operations/health";
import { INSTANCE_STATUSES, OPERATION_STATUSES, OPERATION_TYPES } from "../operations/lifecycle";
import { REGION_CODES } from "../regions";
import { PLAN_NAMES } from "../plans";
import { RESERVED_SUBDOMAINS, SUBDOMAIN_MAX, SUBDOMAIN_MIN, SUBDOMAIN_PATTERN, SUBDOMAIN_RULES, subdomainProblem } from "../subdomains";
import { anyOf, documentedAs, idOf, instanceRef, nonBlank, pageQuery, timestamp } from "./common";
import { agentsBody, integrationsBody, providerBody } from "./config";
import { versionField } from "./versions";

export const subdomainSchema = z
  .string()
  .superRefine((v, ctx) => {
    const problem = subdomainProblem(v);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  })
  .meta({
    description: SUBDOMAIN_RULES,
    example: "my-assistant",
    ...documentedAs({ pattern: SUBDOMAIN_PATTERN, minLength: SUBDOMAIN_MIN, maxLength: SUBDOMAIN_MAX, not: { enum: [...RESERVED_SUBDOMAINS] } }),
  });

export const createInstanceFields = {
  subdomain: subdomainSchema,
  fly_region: z
    .enum(REGION_CODES as [string, ...string[]], { message: "Not a region this API offers; see GET /api/v1/regions." })
    .optional()
    .meta({ description: "Fly.io region code from GET /api/v1/regions; default: the deployment's default region", example: "dfw" }),
  name: nonBlank(100).optional().meta({ description: "A display name", example: "Support bot" }),
  version: versionField.optional().meta({ description: "The OpenClaw version it runs (GET /api/v1/versions); default: the platform's default version" }),
  auto_upgrade: z.boolean().optional().meta({ description: "Whether fleet rollouts may upgrade it; default true" }),
  // The three config documents, each exactly as its PUT takes it, so one call creates a working assistant.
  provider: providerBody.optional().meta({
    description: "The model provider document, as `PUT /instances/{id}/provider` takes it. Left out: no provider until one is PUT.",
  }),
  integrations: integrationsBody.optional().meta({
    description: "The chat channels document, as `PUT /instances/{id}/integrations` takes it. Left out: every channel off.",
  }),
  agents: agentsBody.optional().meta({
    description: "The agents document, as `PUT /instances/{id}/agents` takes it (`{\"agents\": [...]}`). Left out: one agent, `main`.",
  }),
};

const healthStatus = z.enum(HEALTH_STATUSES).meta({
  description:
    "`passing`: the machine runs and its `/healthz` check passes. `critical`: the check fails, or the machine is not running (`detail` says which). " +
    "`unknown`: nothing to go by yet (never observed, between states, or the check has not run).",
});

export const instanceHealth = z
  .object({
    status: healthStatus,
    detail: z.string().nullable().meta({ description: "What the check said, or why the health is what it is", example: 'servicecheck-00-http-3000: HTTP 200 {"ok":true,"status":"live"}' }),
    checked_at: timestamp.nullable().meta({ description: "When this health was established (the check's own report time when the provider gives one); null: never" }),
  })
  .meta({ id: "InstanceHealth", description: "The instance's health check, as the platform last saw it" });

export const instanceResource = z
  .object({
    id: z.string().meta({ example: "inst_01jd3z6v7a8b9c0d1e2f3g4h5j" }),
    subdomain: z.string(),
    name: z.string().nullable(),
    status: z.enum(INSTANCE_STATUSES),
    health: instanceHealth,
    plan: z.enum(PLAN_NAMES as [string, ...string[]]),
    fly_region: z.string(),
    url: z.string().meta({ description: "Where the assistant answers" }),
    version: z.string().meta({ description: "The OpenClaw version it runs; changes when an `instance.upgrade` succeeds", example: "2026.11.20" }),
    auto_upgrade: z.boolean().meta({ description: "Whether the platform's fleet rollouts may upgrade it to a newer version" }),
    observed_at: timestamp.nullable().meta({
      description: "When the platform last looked at the instance's machine (every live instance at least once a minute); null: not yet",
    }),
    created_at: timestamp,
    updated_at: timestamp,
    last_backup_at: timestamp.nullable().meta({ description: "When its newest backup (daily or on demand) was taken; null: none yet" }),
  })
  .meta({ id: "Instance" });

/** `data` of the webhook event instance.status_changed (lib/webhooks/events.ts). */
export const instanceStatusChange = z
  .object({
    instance_id: z.string().meta({ example: "inst_01jd3z6v7a8b9c0d1e2f3g4h5j" }),
    subdomain: z.string().meta({ example: "my-assistant" }),
    from: z.enum(INSTANCE_STATUSES),
    to: z.enum(INSTANCE_STATUSES),
    cause: z.enum(["operation", "observed"]).meta({
      description: "`operation`: an operation began or finished; `observed`: the platform saw the machine change by itself (stopped, started or gone behind its back)",
    }),
    operation_id: z.string().nullable().meta({ description: "The operation, when `cause` is `operation`" }),
  })
  .meta({ id: "InstanceStatusChange" });

/** `data` of the webhook event instance.health_changed. */
export const instanceHealthChange = z
  .object({
    instance_id: z.string().meta({ example: "inst_01jd3z6v7a8b9c0d1e2f3g4h5j" }),
    subdomain: z.string().meta({ example: "my-assistant" }),
    from: healthStatus,
    to: healthStatus,
    detail: z.string().nullable().meta({ description: "What the check said, or why" }),
    checked_at: timestamp,
    cause: z.enum(["operation", "observed"]).meta({ description: "`operation`: an operation's own checks; `observed`: the regular observation" }),
    operation_id: z.string().nullable(),
  })
  .meta({ id: "InstanceHealthChange" });

export const listInstancesQuery = z.strictObject({
  status: anyOf(z.enum(INSTANCE_STATUSES), "Only instances in this status"),
});

export const operationResource = z
  .object({
    id: z.string().meta({ example: "op_01jd3z6v7a8b9c0d1e2f3g4h5j" }),
    type: z.enum(OPERATION_TYPES),
    status: z.enum(OPERATION_STATUSES),
    instance_id: z.string(),
    created_at: timestamp,
    started_at: timestamp.nullable(),
    completed_at: timestamp.nullable(),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
    target_version: z
      .string()
      .nullable()
      .meta({ description: "For `instance.upgrade`: the OpenClaw version it moves the instance to; null for other types", example: null }),
  })
  .meta({ id: "Operation" });

export const listOperationsQuery = pageQuery("op").extend({
  instance_id: anyOf(instanceRef(), "Only this instance's operations (its id or subdomain)"),
  status: anyOf(z.enum(OPERATION_STATUSES), "Only operations in this status"),
  type: anyOf(z.enum(OPERATION_TYPES), "Only operations of this type"),
});

export const operationIdParam = idOf("op");

export type InstanceResource = z.output<typeof instanceResource>;
export type InstanceStatusChange = z.output<typeof instanceStatusChange>;
export type InstanceHealthChange = z.output<typeof instanceHealthChange>;
export type OperationResource = z.output<typeof operationResource>;

export const createInstanceBody = z.strictObject(createInstanceFields).meta({ id: "CreateInstanceRequest" });

/** PATCH /instances/{id}: a JSON merge patch (RFC 7396) of the fields an owner may change; a field left out is unchanged. */
export const updateInstanceBody = z
  .strictObject({
    name: nonBlank(100).nullable().optional().meta({ description: "A display name; null removes it", example: "Support bot" }),
    auto_upgrade: z.boolean().optional().meta({ description: "Whether fleet rollouts may upgrade it" }),
  })
  .meta({ id: "UpdateInstanceRequest" });

export const upgradeInstanceBody = z
  .strictObject({
    version: versionField.optional().meta({ description: "The version to move to; default: the platform's default version" }),
  })
  .meta({ id: "UpgradeInstanceRequest" });
