-- The trigram search of client names moves off `clients` (lib/db/tables/clients.ts, clientNameSearch): every
-- settlement updates its client's row without HOT (the usage sort indexes cover the counters), so each one
-- added a GIN entry per trigram of the name to clients_name_trgm_idx. client_name_search is written only when
-- a client is created (statement trigger: a bulk insert is one statement) or renamed, and by this backfill.
CREATE TABLE "client_name_search" (
	"client_id" uuid PRIMARY KEY NOT NULL,
	"name_lower" text NOT NULL
);
--> statement-breakpoint
ALTER TABLE "client_name_search" ADD CONSTRAINT "client_name_search_client_id_clients_id_fk" FOREIGN KEY ("client_id") REFERENCES "public"."clients"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
INSERT INTO "client_name_search" ("client_id", "name_lower") SELECT "id", "name_lower" FROM "clients";--> statement-breakpoint
CREATE INDEX "client_name_search_trgm_idx" ON "client_name_search" USING gin ("name_lower" gin_trgm_ops);--> statement-breakpoint
DROP INDEX "clients_name_trgm_idx";--> statement-breakpoint
CREATE FUNCTION "client_name_search_insert"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "client_name_search" ("client_id", "name_lower") SELECT "id", "name_lower" FROM new_rows;
  RETURN NULL;
END
$$;--> statement-breakpoint
CREATE TRIGGER "client_name_search_insert" AFTER INSERT ON "clients"
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "client_name_search_insert"();--> statement-breakpoint
-- A rename (only an UPDATE that sets "name" fires it; a settlement's does not). Row level: a trigger with a
-- column list cannot have transition tables.
CREATE FUNCTION "client_name_search_rename"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE "client_name_search" SET "name_lower" = NEW."name_lower" WHERE "client_id" = NEW."id";
  RETURN NULL;
END
$$;--> statement-breakpoint
CREATE TRIGGER "client_name_search_rename" AFTER UPDATE OF "name" ON "clients"
  FOR EACH ROW WHEN (OLD."name_lower" IS DISTINCT FROM NEW."name_lower") EXECUTE FUNCTION "client_name_search_rename"();
