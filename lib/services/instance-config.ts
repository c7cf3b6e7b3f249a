import { eq } from "drizzle-orm";
import type { Queryable } from "@/db/client";
import { instanceConfig } from "@/db/schema";
import type { RenderedConfig } from "../compute/types";
import { ApiError, validationError, type FieldError } from "../errors";
import type { ServiceContext } from "../context";
import {
  decryptDocuments,
  defaults,
  effectiveHash,
  toPublic,
  toStored,
  type ConfigKind,
  type StoredAgents,
  type StoredDocuments,
  type StoredIntegrations,
  type StoredProvider,
} from "../openclaw/documents";
import { renderOpenClawConfig } from "../openclaw/render";
import type { AgentsBody, AgentsResource, IntegrationsBody, IntegrationsResource, ProviderBody, ProviderResource } from "../schemas/config";
import { canBegin } from "../operations/lifecycle";
import type { OperationResource } from "../schemas/instances";
import { instanceUrl, requireInstance } from "./instance-lookup";
import { beginOperation, toOperationResource, type OperationRow } from "./operations";

/**
 * An instance's three config documents (provider, integrations, agents).
 *
 * `instance_config` holds what the machine runs: the documents last applied
 * and their effective hash. A PUT never writes there. It puts the complete new
 * set of documents (secrets sealed, never plaintext) into the input of an
 * `instance.configure` operation, and the operation copies them to
 * `instance_config` in the transaction that finishes it successfully
 * (finishOperation). So a GET always answers what is applied, a failed apply
 * leaves the previous documents in place, and at most one set is in flight
 * (one operation per instance). `instance.create` carries its documents (the
 * defaults for any left out) the same way.
 */

/** What an operation that applies config documents carries in its `input`. */
export interface ConfigOperationInput {
  config: {
    documents: StoredDocuments;
    /** effectiveHash(documents): becomes `applied_hash` when the operation succeeds. */
    hash: string;
  };
}

interface PublicByKind {
  provider: ProviderResource;
  integrations: IntegrationsResource;
  agents: AgentsResource;
}

export interface AppliedConfig {
  documents: StoredDocuments;
  /** null for an instance that has never had documents applied (created before they existed). */
  hash: string | null;
}

/** The documents the instance's machine runs: the defaults until some were applied. */
export async function appliedConfig(db: Queryable, instanceId: string): Promise<AppliedConfig> {
  const [row] = await db.select().from(instanceConfig).where(eq(instanceConfig.instanceId, instanceId)).limit(1);
  if (!row) return { documents: defaults, hash: null };
  return {
    documents: {
      provider: (row.provider as StoredProvider | null) ?? null,
      integrations: (row.integrations as StoredIntegrations | null) ?? defaults.integrations,
      agents: (row.agents as StoredAgents | null) ?? defaults.agents,
    },
    hash: row.appliedHash,
  };
}

/** GET: the applied document, secrets as `{set, last4}`. */
export async function getConfig<K extends ConfigKind>(ctx: ServiceContext, idOrSubdomain: string, kind: K): Promise<PublicByKind[K]> {
  const inst = await requireInstance(ctx, idOrSubdomain);
  const { documents } = await appliedConfig(ctx.db, inst.id);
  return toPublic(kind, documents[kind] as never) as PublicByKind[K];
}

/** A PUT's result: the operation that applies the change, or, when nothing would change, the document as it stands. */
export type ConfigChange<K extends ConfigKind> =
  | { operation: OperationResource; unchanged?: undefined }
  | { operation?: undefined; unchanged: PublicByKind[K] };

/**
 * PUT: replaces one document whole and starts the `instance.configure`
 * operation that applies all three. A document whose effect equals what is
 * applied (same content, secrets included; see effectiveHash) starts nothing.
 * The instance's row is locked, so concurrent PUTs are ordered and the second
 * gets operation_in_progress.
 */
export async function putConfig<K extends ConfigKind>(
  ctx: ServiceContext,
  idOrSubdomain: string,
  kind: K,
  body: unknown,
): Promise<ConfigChange<K>> {
  const inst = await requireInstance(ctx, idOrSubdomain, { lock: true });
  const applied = await appliedConfig(ctx.db, inst.id);
  // Secrets left out are kept from the applied document; agents' models are checked against the applied provider.
  const stored = toStored(kind, body, applied.documents[kind] as never, { provider: applied.documents.provider });
  const documents: StoredDocuments = { ...applied.documents, [kind]: stored };
  const hash = effectiveHash(documents);
  if (hash === applied.hash && canBegin("instance.configure", inst.status)) {
    return { unchanged: toPublic(kind, stored as never) as PublicByKind[K] };
  }
  const input: ConfigOperationInput = { config: { documents, hash } };
  const op = await beginOperation(ctx, inst, "instance.configure", input as unknown as Record<string, unknown>);
  return { operation: toOperationResource(op) };
}

export interface InitialDocuments {
  provider?: ProviderBody;
  integrations?: IntegrationsBody;
  agents?: AgentsBody;
}

/**
 * The operation input of a new instance: the documents given with POST
 * /instances, validated and sealed, and the defaults for any left out.
 * Every problem is reported at once, each path prefixed with its document
 * (`provider.api_key`, `agents.agents[0].model`).
 */
export function initialConfig(given: InitialDocuments): ConfigOperationInput {
  const documents: StoredDocuments = { ...defaults };
  const errors: FieldError[] = [];
  const take = <K extends ConfigKind>(kind: K, body: unknown) => {
    if (body === undefined) return;
    try {
      documents[kind] = toStored(kind, body, null, { provider: documents.provider }) as StoredDocuments[K];
    } catch (err) {
      if (!(err instanceof ApiError) || err.code !== "validation_error") throw err;
      for (const e of err.extra.errors as FieldError[]) {
        errors.push({ path: e.path ? `${kind}.${e.path}` : kind, message: e.message });
      }
    }
  };
  take("provider", given.provider);
  take("integrations", given.integrations);
  take("agents", given.agents);
  if (errors.length > 0) throw validationError(errors);
  return { config: { documents, hash: effectiveHash(documents) } };
}

/** The config part of an operation's input, or null when it carries none. */
export function configInputOf(input: unknown): ConfigOperationInput | null {
  const config = (input as Partial<ConfigOperationInput> | null)?.config;
  if (!config || typeof config !== "object" || !config.documents || typeof config.hash !== "string") return null;
  return input as ConfigOperationInput;
}

/**
 * The documents an operation puts on the machine: those in its input, or, for
 * one that carries none (recorded before documents existed), the applied ones.
 */
export async function operationDocuments(db: Queryable, op: OperationRow): Promise<StoredDocuments> {
  return configInputOf(op.input)?.config.documents ?? (await appliedConfig(db, op.instanceId)).documents;
}

/**
 * What the machine runs for these documents: OpenClaw's config file, env and
 * secret env. Opens every secret: call it only inside the step that hands the
 * result to the compute provider, and never return or log what it gives.
 */
export function renderInstanceConfig(documents: StoredDocuments, target: { subdomain: string; gatewayToken: string }): RenderedConfig {
  return renderOpenClawConfig(decryptDocuments(documents), {
    gatewayToken: target.gatewayToken,
    publicOrigin: instanceUrl(target.subdomain),
  });
}

/**
 * Records an operation's documents as applied, in the transaction that
 * finishes it successfully (finishOperation). An operation without documents
 * changes nothing.
 */
export async function commitAppliedConfig(tx: Queryable, op: OperationRow): Promise<void> {
  const pending = configInputOf(op.input);
  if (!pending) return;
  const { documents, hash } = pending.config;
  const values = {
    provider: documents.provider as unknown as Record<string, unknown> | null,
    integrations: documents.integrations as unknown as Record<string, unknown>,
    agents: documents.agents as unknown as Record<string, unknown>,
    appliedHash: hash,
    updatedAt: new Date(),
  };
  await tx
    .insert(instanceConfig)
    .values({ instanceId: op.instanceId, ...values })
    .onConflictDoUpdate({ target: instanceConfig.instanceId, set: values });
}
