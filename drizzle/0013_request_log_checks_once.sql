ALTER TABLE "request_log" DROP CONSTRAINT "request_log_client_id_clients_id_fk";
--> statement-breakpoint
ALTER TABLE "request_log" DROP CONSTRAINT "request_log_key_id_api_keys_id_fk";
--> statement-breakpoint
-- The two foreign keys above checked every inserted log row. Settlement (lib/coins/settle.ts) now locks the
-- clients and keys of a batch once (FOR KEY SHARE, as the keys' checks did per row) and calls this for a
-- request whose client or key does not exist: the same error the keys raised, so the batch fails as before.
CREATE FUNCTION "request_log_missing_reference"() RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  RAISE EXCEPTION 'request_log: a request of a client or key that does not exist'
    USING ERRCODE = 'foreign_key_violation';
END
$$;
--> statement-breakpoint
-- ON DELETE CASCADE of request_log.client_id: a deleted client's log rows go with it.
CREATE FUNCTION "request_log_forget_clients"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM "request_log" l USING old_rows o WHERE l.client_id = o.id;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "clients_request_log_delete" AFTER DELETE ON "clients" REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION "request_log_forget_clients"();
--> statement-breakpoint
-- ON DELETE SET NULL of request_log.key_id: a deleted key's rows stay, without it.
CREATE FUNCTION "request_log_forget_keys"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE "request_log" l SET key_id = NULL FROM old_rows o WHERE l.key_id = o.id;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "api_keys_request_log_delete" AFTER DELETE ON "api_keys" REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION "request_log_forget_keys"();
--> statement-breakpoint
-- TRUNCATE clients (or api_keys) CASCADE emptied the log through its keys; now through these. A DELETE: a
-- TRUNCATE here fails when the same statement truncates the log too (it is then empty, and this is quick).
CREATE FUNCTION "request_log_truncate"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM "request_log";
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "clients_request_log_truncate" AFTER TRUNCATE ON "clients"
  FOR EACH STATEMENT EXECUTE FUNCTION "request_log_truncate"();
--> statement-breakpoint
CREATE TRIGGER "api_keys_request_log_truncate" AFTER TRUNCATE ON "api_keys"
  FOR EACH STATEMENT EXECUTE FUNCTION "request_log_truncate"();
