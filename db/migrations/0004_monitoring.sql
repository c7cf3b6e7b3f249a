ALTER TABLE "instance" ADD COLUMN "health_status" text DEFAULT 'unknown' NOT NULL;--> statement-breakpoint
ALTER TABLE "instance" ADD COLUMN "health_detail" text;--> statement-breakpoint
ALTER TABLE "instance" ADD COLUMN "health_checked_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "instance" ADD COLUMN "observed_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "webhook_message" ADD COLUMN "instance_id" text;--> statement-breakpoint
CREATE INDEX "instance_observation_idx" ON "instance" USING btree ("observed_at" NULLS FIRST,"id") WHERE "instance"."deleted_at" is null and "instance"."machine_id" is not null;--> statement-breakpoint
CREATE INDEX "operation_completed_idx" ON "operation" USING btree ("completed_at") WHERE "operation"."completed_at" is not null;--> statement-breakpoint
CREATE INDEX "webhook_delivery_created_idx" ON "webhook_delivery" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "webhook_message_account_idx" ON "webhook_message" USING btree ("account_id","id");--> statement-breakpoint
CREATE INDEX "webhook_message_instance_idx" ON "webhook_message" USING btree ("instance_id","id") WHERE "webhook_message"."instance_id" is not null;--> statement-breakpoint
CREATE INDEX "webhook_message_created_idx" ON "webhook_message" USING btree ("created_at");--> statement-breakpoint
-- Hand-written data step (not generated): events recorded before this migration name
-- their instance only inside the payload; copy it out so GET /events?instance_id= finds them.
UPDATE "webhook_message" SET "instance_id" = "payload"->'data'->>'instance_id' WHERE "instance_id" IS NULL AND "payload"->'data' ? 'instance_id';
