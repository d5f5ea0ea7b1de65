CREATE TABLE "api_key_retired_secrets" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"key_id" uuid NOT NULL,
	"key_hash" text NOT NULL,
	"hint" text NOT NULL,
	"retired_at" timestamp with time zone DEFAULT now() NOT NULL,
	"retired_by" uuid,
	"valid_until" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "audit_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"actor_id" uuid,
	"actor_email" text,
	"client_id" uuid,
	"action" text NOT NULL,
	"target_type" text,
	"target_id" text,
	"target_label" text,
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"ip" text,
	"user_agent" text
);
--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "expires_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "rotated_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "rotated_by" uuid;--> statement-breakpoint
ALTER TABLE "api_key_retired_secrets" ADD CONSTRAINT "api_key_retired_secrets_key_id_api_keys_id_fk" FOREIGN KEY ("key_id") REFERENCES "public"."api_keys"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "api_key_retired_secrets" ADD CONSTRAINT "api_key_retired_secrets_retired_by_users_id_fk" FOREIGN KEY ("retired_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "api_key_retired_secrets_hash_idx" ON "api_key_retired_secrets" USING btree ("key_hash");--> statement-breakpoint
CREATE INDEX "api_key_retired_secrets_key_idx" ON "api_key_retired_secrets" USING btree ("key_id","valid_until");--> statement-breakpoint
CREATE INDEX "audit_events_client_time_idx" ON "audit_events" USING btree ("client_id","created_at" desc,"id" desc);--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_rotated_by_users_id_fk" FOREIGN KEY ("rotated_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "request_log_client_errors_idx" ON "request_log" USING btree ("client_id","created_at") WHERE "request_log"."status" >= 400;--> statement-breakpoint
CREATE INDEX "request_log_key_errors_idx" ON "request_log" USING btree ("key_id","created_at") WHERE "request_log"."status" >= 400;