ALTER TABLE "request_log" ADD COLUMN "request_id" text;--> statement-breakpoint
ALTER TABLE "request_log" ADD COLUMN "settlement_id" uuid;--> statement-breakpoint
CREATE UNIQUE INDEX "request_log_settlement_id_idx" ON "request_log" USING btree ("settlement_id");