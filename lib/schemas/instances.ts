import { z } from "zod";
// The enums below read the lifecycle's lists (lib/operations/lifecycle.ts), defined there once.
import { INSTANCE_STATUSES, OPERATION_STATUSES, OPERATION_TYPES } from "../operations/lifecycle";
import { REGION_CODES } from "../regions";
import { PLAN_NAMES } from "../plans";
import { SUBDOMAIN_RULES, subdomainProblem } from "../subdomains";
import { anyOf, idOf, pageQuery, timestamp } from "./common";
import { agentsBody, integrationsBody, providerBody } from "./config";

export const subdomainSchema = z
  .string()
  .superRefine((v, ctx) => {
    const problem = subdomainProblem(v);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  })
  .meta({ description: SUBDOMAIN_RULES, example: "my-assistant" });

export const createInstanceFields = {
  subdomain: subdomainSchema,
  fly_region: z
    .enum(REGION_CODES as [string, ...string[]], { message: "Not a region this API offers; see GET /api/v1/regions." })
    .optional()
    .meta({ description: "Fly.io region code from GET /api/v1/regions; default: the deployment's default region", example: "dfw" }),
  name: z.string().trim().min(1).max(100).optional().meta({ description: "A display name", example: "Support bot" }),
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

export const instanceResource = z
  .object({
    id: z.string().meta({ example: "inst_01jd3z6v7a8b9c0d1e2f3g4h5j" }),
    subdomain: z.string(),
    name: z.string().nullable(),
    status: z.enum(INSTANCE_STATUSES),
    plan: z.enum(PLAN_NAMES as [string, ...string[]]),
    fly_region: z.string(),
    url: z.string().meta({ description: "Where the assistant answers" }),
    created_at: timestamp,
    updated_at: timestamp,
    last_backup_at: timestamp.nullable().meta({ description: "When its newest backup (daily or on demand) was taken; null: none yet" }),
  })
  .meta({ id: "Instance" });

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
  })
  .meta({ id: "Operation" });

export const listOperationsQuery = pageQuery("op").extend({
  instance_id: anyOf(z.string().min(1).max(100), "Only this instance's operations (its id or subdomain)"),
  status: anyOf(z.enum(OPERATION_STATUSES), "Only operations in this status"),
  type: anyOf(z.enum(OPERATION_TYPES), "Only operations of this type"),
});

export const operationIdParam = idOf("op");

export type InstanceResource = z.output<typeof instanceResource>;
export type OperationResource = z.output<typeof operationResource>;

export const createInstanceBody = z.strictObject(createInstanceFields).meta({ id: "CreateInstanceRequest" });
