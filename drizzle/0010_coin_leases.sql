CREATE TABLE "coin_leases" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"client_id" uuid NOT NULL,
	"holder" text NOT NULL,
	"amount" numeric(20, 6) NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "coin_pools" ADD COLUMN "leased" numeric(20, 6) DEFAULT '0' NOT NULL;--> statement-breakpoint
ALTER TABLE "coin_leases" ADD CONSTRAINT "coin_leases_client_id_clients_id_fk" FOREIGN KEY ("client_id") REFERENCES "public"."clients"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "coin_leases_client_holder_idx" ON "coin_leases" USING btree ("client_id","holder");--> statement-breakpoint
CREATE INDEX "coin_leases_expires_idx" ON "coin_leases" USING btree ("expires_at");