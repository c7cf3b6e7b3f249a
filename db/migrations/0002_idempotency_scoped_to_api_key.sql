-- Hand-written: stored requests were scoped to the account and name no API key,
-- so they cannot be attributed to one. They are a 24-hour replay cache: drop
-- them rather than let any key replay another key's answer (DESIGN 3.5).
DELETE FROM "idempotency_key";--> statement-breakpoint
ALTER TABLE "idempotency_key" ADD COLUMN "api_key_id" text NOT NULL;--> statement-breakpoint
ALTER TABLE "idempotency_key" ADD CONSTRAINT "idempotency_key_api_key_id_api_key_id_fk" FOREIGN KEY ("api_key_id") REFERENCES "public"."api_key"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "idempotency_key" DROP CONSTRAINT "idempotency_key_pkey";
--> statement-breakpoint
ALTER TABLE "idempotency_key" ADD CONSTRAINT "idempotency_key_pkey" PRIMARY KEY("api_key_id","key");