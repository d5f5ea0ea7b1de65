ALTER TABLE "api_keys" ADD COLUMN "audio_seconds" numeric(20, 3) DEFAULT '0' NOT NULL;--> statement-breakpoint
ALTER TABLE "client_daily_usage" ADD COLUMN "audio_seconds" numeric(20, 3) DEFAULT '0' NOT NULL;--> statement-breakpoint
ALTER TABLE "client_model_usage" ADD COLUMN "audio_seconds" numeric(20, 3) DEFAULT '0' NOT NULL;--> statement-breakpoint
ALTER TABLE "clients" ADD COLUMN "audio_seconds" numeric(20, 3) DEFAULT '0' NOT NULL;--> statement-breakpoint
ALTER TABLE "request_log" ADD COLUMN "audio_seconds" numeric(20, 3) DEFAULT '0' NOT NULL;