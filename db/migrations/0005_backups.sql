-- Volumes made before backups existed have backup_retention_days null: the backup sync (hourly, or at once
-- with `npm run admin -- sync-backups`) sets their Fly snapshot_retention to the plan's and records it here.
CREATE TABLE "backup" (
	"id" text PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"instance_id" text NOT NULL,
	"volume_id" text NOT NULL,
	"snapshot_id" text,
	"kind" text NOT NULL,
	"status" text NOT NULL,
	"size_bytes" bigint,
	"operation_id" text,
	"created_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "instance" ADD COLUMN "last_backup_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "instance" ADD COLUMN "backup_retention_days" integer;--> statement-breakpoint
ALTER TABLE "backup" ADD CONSTRAINT "backup_account_id_account_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."account"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "backup" ADD CONSTRAINT "backup_instance_id_instance_id_fk" FOREIGN KEY ("instance_id") REFERENCES "public"."instance"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "backup" ADD CONSTRAINT "backup_operation_id_operation_id_fk" FOREIGN KEY ("operation_id") REFERENCES "public"."operation"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "backup_snapshot_key" ON "backup" USING btree ("instance_id","snapshot_id");--> statement-breakpoint
CREATE UNIQUE INDEX "backup_operation_key" ON "backup" USING btree ("operation_id");--> statement-breakpoint
CREATE INDEX "backup_instance_idx" ON "backup" USING btree ("instance_id","id");