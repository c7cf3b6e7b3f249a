import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  index,
  type AnyPgColumn,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from "drizzle-orm/pg-core";
import type { HealthStatus } from "@/lib/operations/health";
import { UNFINISHED, type InstanceStatus, type OperationStatus, type OperationType } from "@/lib/operations/lifecycle";
import { UNFINISHED_ROLLOUT, type RolloutState } from "@/lib/operations/rollouts";
import type { BackupKind } from "@/lib/backups";
import type { SnapshotStatus } from "@/lib/compute/types";
import type { LimitOverrides, PlanName } from "@/lib/plans";
import type { Scope } from "@/lib/scopes";

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });
const created = () => ts("created_at").notNull().defaultNow();
/** `status in ('pending', 'running')`, from the lifecycle's list, for the partial indexes on unfinished operations. */
const isUnfinished = (status: AnyPgColumn) => sql`${status} in ${sql.raw(`(${UNFINISHED.map((s) => `'${s}'`).join(", ")})`)}`;

export const account = pgTable("account", {
  id: text("id").primaryKey(),
  email: text("email").notNull().unique("account_email_key"),
  plan: text("plan").$type<PlanName>().notNull(),
  /** An operator's override of the plan's rate limits; null = the plan's. */
  limitOverrides: jsonb("limit_overrides").$type<LimitOverrides>(),
  /**
   * Raised, in the same transaction, by every change to what a verified key of
   * the account carries (a key revoked, the plan, the limits), and published to
   * the rate limiter's store before the commit, so every server process's next
   * request with a key it remembers sees the change (lib/keys/auth-version.ts).
   */
  authVersion: integer("auth_version").notNull().default(0),
  createdAt: created(),
  updatedAt: ts("updated_at").notNull().defaultNow(),
});

export const apiKey = pgTable(
  "api_key",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => account.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    /** The public lookup half of the token (`moc_<short>_...`). */
    shortId: text("short_id").notNull(),
    /** HMAC-SHA256 of the secret half under pepper `pepperVersion`; never the secret itself. */
    secretHash: text("secret_hash").notNull(),
    pepperVersion: integer("pepper_version").notNull(),
    scopes: text("scopes").array().$type<Scope[]>().notNull(),
    createdAt: created(),
    expiresAt: ts("expires_at"),
    lastUsedAt: ts("last_used_at"),
    revokedAt: ts("revoked_at"),
  },
  (t) => [
    // Every authenticated request looks its key up by the short id.
    uniqueIndex("api_key_short_id_key").on(t.shortId),
    index("api_key_account_idx").on(t.accountId, t.id),
  ],
);

/**
 * The OpenClaw versions the platform offers (GET /api/v1/versions), kept by the
 * operator (`npm run admin -- versions add|deprecate`). A version's image never
 * changes once added; a version is never deleted (instances name it), only
 * deprecated: nothing new may move to it.
 */
export const openclawVersion = pgTable(
  "openclaw_version",
  {
    /** The release tag, e.g. "2026.11.20". */
    version: text("version").primaryKey(),
    /** The image its machines run, pinned by tag or digest (lib/openclaw/versions.ts checks it). */
    image: text("image").notNull(),
    /** Orders versions: a rollout moves instances from earlier ones to a later one. */
    releasedAt: ts("released_at").notNull(),
    /** The version new instances get when they name none. Exactly one: this index allows at most one, the service never leaves none. */
    isDefault: boolean("is_default").notNull().default(false),
    deprecatedAt: ts("deprecated_at"),
    createdAt: created(),
  },
  (t) => [uniqueIndex("openclaw_version_one_default").on(t.isDefault).where(sql`${t.isDefault}`)],
);

export const instance = pgTable(
  "instance",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => account.id, { onDelete: "cascade" }),
    subdomain: text("subdomain").notNull(),
    name: text("name"),
    status: text("status").$type<InstanceStatus>().notNull(),
    flyRegion: text("fly_region").notNull(),
    /** Where the provider put it; null until provisioning has created them. */
    appName: text("app_name"),
    machineId: text("machine_id"),
    volumeId: text("volume_id"),
    /** OPENCLAW_GATEWAY_TOKEN, encrypted (see lib/crypto). */
    gatewayTokenEnc: text("gateway_token_enc"),
    /** The OpenClaw version its machine runs; changed only by an instance.upgrade that succeeded. */
    version: text("version")
      .notNull()
      .references(() => openclawVersion.version),
    /** Whether fleet rollouts may upgrade it (its owner turns it off with PATCH). */
    autoUpgrade: boolean("auto_upgrade").notNull().default(true),
    createdAt: created(),
    updatedAt: ts("updated_at").notNull().defaultNow(),
    /** Set when its delete operation succeeds: the row stays for its operations' history. */
    deletedAt: ts("deleted_at"),
    /** Its machine's health check, as last seen (lib/operations/health.ts). */
    healthStatus: text("health_status").$type<HealthStatus>().notNull().default("unknown"),
    healthDetail: text("health_detail"),
    healthCheckedAt: ts("health_checked_at"),
    /** When the regular observation last got an answer about its machine; null: never. */
    observedAt: ts("observed_at"),
    /** When its newest ready backup was taken (scheduled or on demand); null: none yet. */
    lastBackupAt: ts("last_backup_at"),
    /**
     * The snapshot retention (days) last set on its volume by this platform; null for a volume
     * made before backups existed. The backup sync sets it to the plan's wherever it differs.
     */
    backupRetentionDays: integer("backup_retention_days"),
  },
  (t) => [
    // A subdomain is unique among live instances only: a deleted one frees it.
    uniqueIndex("instance_live_subdomain_key").on(t.subdomain).where(sql`${t.deletedAt} is null`),
    index("instance_account_idx").on(t.accountId, t.id),
    // The observation takes the stalest live instances with a machine first (never observed first of all).
    index("instance_observation_idx")
      .on(t.observedAt.asc().nullsFirst(), t.id)
      .where(sql`${t.deletedAt} is null and ${t.machineId} is not null`),
  ],
);

export const operation = pgTable(
  "operation",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => account.id, { onDelete: "cascade" }),
    instanceId: text("instance_id")
      .notNull()
      .references(() => instance.id, { onDelete: "cascade" }),
    type: text("type").$type<OperationType>().notNull(),
    status: text("status").$type<OperationStatus>().notNull(),
    /** What the operation needs beyond the instance (e.g. the config to apply). */
    input: jsonb("input").$type<Record<string, unknown>>(),
    error: jsonb("error").$type<{ code: string; message: string }>(),
    createdAt: created(),
    startedAt: ts("started_at"),
    completedAt: ts("completed_at"),
    /** Past this, the reconciler treats an unfinished operation as stuck. */
    deadlineAt: ts("deadline_at").notNull(),
  },
  (t) => [
    // One unfinished operation per instance, enforced by the database itself so
    // two concurrent requests cannot both start one.
    uniqueIndex("operation_one_active_per_instance")
      .on(t.instanceId)
      .where(isUnfinished(t.status)),
    index("operation_account_idx").on(t.accountId, t.id),
    index("operation_unfinished_idx")
      .on(t.deadlineAt)
      .where(isUnfinished(t.status)),
    // Retention removes finished operations by age, a batch at a time; the metrics read an account's finished ones.
    index("operation_completed_idx").on(t.completedAt).where(sql`${t.completedAt} is not null`),
  ],
);

/**
 * An instance's backups: the snapshots of its volumes, the provider's daily ones
 * (synchronised from its snapshot list) and those an `instance.backup` took.
 * The `bkp_` id is ours; `snapshot_id` is the provider's.
 */
export const backup = pgTable(
  "backup",
  {
    /** `bkp_...`, made from the snapshot's creation time, so ids sort as the backups were taken. */
    id: text("id").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => account.id, { onDelete: "cascade" }),
    instanceId: text("instance_id")
      .notNull()
      .references(() => instance.id, { onDelete: "cascade" }),
    /** The volume it is a snapshot of: an instance gets a new volume with each restore, and the old one's snapshots stay. */
    volumeId: text("volume_id").notNull(),
    /** The provider's snapshot id; null while an on-demand snapshot has not shown its id yet. */
    snapshotId: text("snapshot_id"),
    kind: text("kind").$type<BackupKind>().notNull(),
    status: text("status").$type<SnapshotStatus>().notNull(),
    sizeBytes: bigint("size_bytes", { mode: "number" }),
    /** The instance.backup operation that took it; null for a scheduled one. */
    operationId: text("operation_id").references(() => operation.id, { onDelete: "set null" }),
    createdAt: ts("created_at").notNull(),
    /** When the provider deletes it (created_at + its retention); null until known. */
    expiresAt: ts("expires_at"),
  },
  (t) => [
    // The sync upserts by the provider's id: a snapshot is recorded once per instance.
    uniqueIndex("backup_snapshot_key").on(t.instanceId, t.snapshotId),
    // A retried backup step finds the row it already wrote.
    uniqueIndex("backup_operation_key").on(t.operationId),
    // GET /instances/{id}/backups: newest first, in cursor pages.
    index("backup_instance_idx").on(t.instanceId, t.id),
  ],
);

/** The three config documents of an instance; secrets inside are encrypted. */
export const instanceConfig = pgTable("instance_config", {
  instanceId: text("instance_id")
    .primaryKey()
    .references(() => instance.id, { onDelete: "cascade" }),
  provider: jsonb("provider").$type<Record<string, unknown>>(),
  integrations: jsonb("integrations").$type<Record<string, unknown>>(),
  agents: jsonb("agents").$type<Record<string, unknown>>(),
  /** Hash of the documents last applied to the machine. */
  appliedHash: text("applied_hash"),
  updatedAt: ts("updated_at").notNull().defaultNow(),
});

export const idempotencyKey = pgTable(
  "idempotency_key",
  {
    accountId: text("account_id")
      .notNull()
      .references(() => account.id, { onDelete: "cascade" }),
    /**
     * The API key that sent the request: stored requests are scoped to it
     * (DESIGN 3.5), so a replay never hands one key what another was given.
     */
    apiKeyId: text("api_key_id")
      .notNull()
      .references(() => apiKey.id, { onDelete: "cascade" }),
    key: text("key").notNull(),
    /** SHA-256 of method, path and body: the same key with another request is refused. */
    requestHash: text("request_hash").notNull(),
    /** null while the first request is still executing. */
    responseStatus: integer("response_status"),
    responseBody: text("response_body"),
    responseHeaders: jsonb("response_headers").$type<Record<string, string>>(),
    createdAt: created(),
    expiresAt: ts("expires_at").notNull(),
  },
  (t) => [
    primaryKey({ name: "idempotency_key_pkey", columns: [t.apiKeyId, t.key] }),
    index("idempotency_key_expires_idx").on(t.expiresAt),
  ],
);

export const webhookEndpoint = pgTable(
  "webhook_endpoint",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => account.id, { onDelete: "cascade" }),
    url: text("url").notNull(),
    events: text("events").array().notNull(),
    description: text("description"),
    enabled: boolean("enabled").notNull().default(true),
    disabledReason: text("disabled_reason"),
    /** whsec_ secrets, encrypted; the previous one signs too until it expires. */
    secretEnc: text("secret_enc").notNull(),
    previousSecretEnc: text("previous_secret_enc"),
    previousSecretExpiresAt: ts("previous_secret_expires_at"),
    /** Start of the current run of failed deliveries; null after a success. */
    failingSince: ts("failing_since"),
    createdAt: created(),
    updatedAt: ts("updated_at").notNull().defaultNow(),
  },
  (t) => [index("webhook_endpoint_account_idx").on(t.accountId, t.id)],
);

/**
 * The outbox: one row per event, written in the transaction that finishes the
 * operation, so a completion is never lost even when delivery is down.
 */
export const webhookMessage = pgTable(
  "webhook_message",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => account.id, { onDelete: "cascade" }),
    eventType: text("event_type").notNull(),
    /** The instance the event is about (its `data.instance_id`), for GET /events?instance_id=. */
    instanceId: text("instance_id"),
    payload: jsonb("payload").$type<Record<string, unknown>>().notNull(),
    createdAt: created(),
    /** When its deliveries were fanned out; null = not yet. */
    dispatchedAt: ts("dispatched_at"),
  },
  (t) => [
    index("webhook_message_undispatched_idx").on(t.createdAt).where(sql`${t.dispatchedAt} is null`),
    // GET /events pages an account's events newest first, or one instance's.
    index("webhook_message_account_idx").on(t.accountId, t.id),
    index("webhook_message_instance_idx").on(t.instanceId, t.id).where(sql`${t.instanceId} is not null`),
    // Retention removes messages by age, a batch at a time.
    index("webhook_message_created_idx").on(t.createdAt),
  ],
);

export const webhookDelivery = pgTable(
  "webhook_delivery",
  {
    id: text("id").primaryKey(),
    endpointId: text("endpoint_id")
      .notNull()
      .references(() => webhookEndpoint.id, { onDelete: "cascade" }),
    messageId: text("message_id")
      .notNull()
      .references(() => webhookMessage.id, { onDelete: "cascade" }),
    eventType: text("event_type").notNull(),
    status: text("status").notNull(),
    attempts: jsonb("attempts")
      .$type<{ at: string; response_status: number | null; duration_ms: number; error: string | null }[]>()
      .notNull()
      .default([]),
    /**
     * 1 for the automatic delivery, +1 for each redelivery. A delivery run
     * carries its round and stops once a newer round has started, so a
     * redelivery never races an older run still sleeping between retries.
     */
    round: integer("round").notNull().default(1),
    /** Attempts made in the current round: where it stands in the retry schedule. */
    roundAttempts: integer("round_attempts").notNull().default(0),
    /** When the next attempt is due while pending; null once settled. */
    nextAttemptAt: ts("next_attempt_at"),
    createdAt: created(),
  },
  (t) => [
    // Fan-out inserts each (message, endpoint) pair once, however often it runs.
    uniqueIndex("webhook_delivery_message_endpoint_key").on(t.messageId, t.endpointId),
    index("webhook_delivery_endpoint_idx").on(t.endpointId, t.id),
    // The reconciler looks for pending deliveries whose run was lost (overdue).
    index("webhook_delivery_pending_idx").on(t.nextAttemptAt).where(sql`${t.status} = 'pending'`),
    // Retention removes deliveries by age, a batch at a time.
    index("webhook_delivery_created_idx").on(t.createdAt),
  ],
);

/**
 * A fleet rollout (`npm run admin -- rollout start`): every instance with
 * auto_upgrade on an earlier version than `to_version`, upgraded in batches by
 * the run-rollout function, which halts when failures reach `max_failures`.
 */
export const rollout = pgTable(
  "rollout",
  {
    id: text("id").primaryKey(),
    toVersion: text("to_version")
      .notNull()
      .references(() => openclawVersion.version),
    /** Only instances on this version, when given. */
    fromVersion: text("from_version").references(() => openclawVersion.version),
    batchSize: integer("batch_size").notNull(),
    maxFailures: integer("max_failures").notNull(),
    state: text("state").$type<RolloutState>().notNull(),
    /** Failures counted before the last resume: a resumed rollout halts again after max_failures more. */
    failureBase: integer("failure_base").notNull().default(0),
    /** Batches started so far. */
    batches: integer("batches").notNull().default(0),
    /** Why it halted (or was cancelled); null otherwise. */
    reason: text("reason"),
    createdAt: created(),
    updatedAt: ts("updated_at").notNull().defaultNow(),
    finishedAt: ts("finished_at"),
  },
  (t) => [
    // One unfinished rollout at a time: two would race for the same instances.
    uniqueIndex("rollout_one_unfinished")
      .on(sql`(true)`)
      .where(sql`${t.state} in ${sql.raw(`(${UNFINISHED_ROLLOUT.map((s) => `'${s}'`).join(", ")})`)}`),
  ],
);

/**
 * The instances a rollout covers, chosen when it starts. Where each stands is
 * derived from these columns and its operation (lib/operations/rollouts.ts,
 * ROLLOUT_ITEM_STATES), so there is no second copy of an operation's outcome.
 */
export const rolloutInstance = pgTable(
  "rollout_instance",
  {
    rolloutId: text("rollout_id")
      .notNull()
      .references(() => rollout.id, { onDelete: "cascade" }),
    instanceId: text("instance_id")
      .notNull()
      .references(() => instance.id, { onDelete: "cascade" }),
    /** The version it ran when the rollout started. */
    fromVersion: text("from_version").notNull(),
    /** The instance.upgrade this rollout started for it (kept as long as the rollout); null until its turn. */
    operationId: text("operation_id").references(() => operation.id),
    /** The batch it was upgraded in. */
    batch: integer("batch"),
    /** Why it was left out when its turn came; null unless skipped. */
    skipped: text("skipped"),
  },
  (t) => [
    primaryKey({ name: "rollout_instance_pkey", columns: [t.rolloutId, t.instanceId] }),
    // When an operation on an instance finishes, the running rollouts that cover it are told.
    index("rollout_instance_instance_idx").on(t.instanceId),
  ],
);
