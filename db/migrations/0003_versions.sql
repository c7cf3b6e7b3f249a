CREATE TABLE "openclaw_version" (
	"version" text PRIMARY KEY NOT NULL,
	"image" text NOT NULL,
	"released_at" timestamp with time zone NOT NULL,
	"is_default" boolean DEFAULT false NOT NULL,
	"deprecated_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "rollout" (
	"id" text PRIMARY KEY NOT NULL,
	"to_version" text NOT NULL,
	"from_version" text,
	"batch_size" integer NOT NULL,
	"max_failures" integer NOT NULL,
	"state" text NOT NULL,
	"failure_base" integer DEFAULT 0 NOT NULL,
	"batches" integer DEFAULT 0 NOT NULL,
	"reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "rollout_instance" (
	"rollout_id" text NOT NULL,
	"instance_id" text NOT NULL,
	"from_version" text NOT NULL,
	"operation_id" text,
	"batch" integer,
	"skipped" text,
	CONSTRAINT "rollout_instance_pkey" PRIMARY KEY("rollout_id","instance_id")
);
--> statement-breakpoint
-- BEGIN hand-written data step (keep when renumbering): the version every machine ran until now
-- (SEEDED_VERSION in lib/openclaw/versions.ts, then the OPENCLAW_IMAGE default) becomes the default
-- version, and every existing instance is recorded as running it before the column turns NOT NULL.
INSERT INTO "openclaw_version" ("version", "image", "released_at", "is_default") VALUES ('2026.11.20', 'ghcr.io/openclaw/openclaw:2026.11.20', '2026-11-20T00:00:00Z', true) ON CONFLICT DO NOTHING;--> statement-breakpoint
ALTER TABLE "instance" ADD COLUMN "version" text;--> statement-breakpoint
UPDATE "instance" SET "version" = '2026.11.20' WHERE "version" IS NULL;--> statement-breakpoint
ALTER TABLE "instance" ALTER COLUMN "version" SET NOT NULL;--> statement-breakpoint
-- END hand-written data step
ALTER TABLE "instance" ADD COLUMN "auto_upgrade" boolean DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE "rollout" ADD CONSTRAINT "rollout_to_version_openclaw_version_version_fk" FOREIGN KEY ("to_version") REFERENCES "public"."openclaw_version"("version") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rollout" ADD CONSTRAINT "rollout_from_version_openclaw_version_version_fk" FOREIGN KEY ("from_version") REFERENCES "public"."openclaw_version"("version") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rollout_instance" ADD CONSTRAINT "rollout_instance_rollout_id_rollout_id_fk" FOREIGN KEY ("rollout_id") REFERENCES "public"."rollout"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rollout_instance" ADD CONSTRAINT "rollout_instance_instance_id_instance_id_fk" FOREIGN KEY ("instance_id") REFERENCES "public"."instance"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rollout_instance" ADD CONSTRAINT "rollout_instance_operation_id_operation_id_fk" FOREIGN KEY ("operation_id") REFERENCES "public"."operation"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "openclaw_version_one_default" ON "openclaw_version" USING btree ("is_default") WHERE "openclaw_version"."is_default";--> statement-breakpoint
CREATE UNIQUE INDEX "rollout_one_unfinished" ON "rollout" USING btree ((true)) WHERE "rollout"."state" in ('running', 'paused', 'halted');--> statement-breakpoint
CREATE INDEX "rollout_instance_instance_idx" ON "rollout_instance" USING btree ("instance_id");--> statement-breakpoint
ALTER TABLE "instance" ADD CONSTRAINT "instance_version_openclaw_version_version_fk" FOREIGN KEY ("version") REFERENCES "public"."openclaw_version"("version") ON DELETE no action ON UPDATE no action;