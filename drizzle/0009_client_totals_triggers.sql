-- client_totals holds Σ of the clients' counters in 16 shards (the summary cards read their sum).
-- Statement-level triggers with transition tables add each statement's difference to one shard: one small
-- write per statement (a settlement batch, an import), in the writer's transaction, on every write path.
-- The shard is the first free one from the backend's own (pid mod 16): concurrent settlements do not queue
-- on one row, and a transaction holding clients rows seldom waits for a shard (only when all 16 are taken).
CREATE FUNCTION "client_totals_apply"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  d_clients bigint := 0;
  d_requests bigint := 0;
  d_input bigint := 0;
  d_output bigint := 0;
  d_coins numeric := 0;
  d_audio numeric := 0;
  n bigint;
  r bigint;
  i bigint;
  o bigint;
  c numeric;
  a numeric;
BEGIN
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    SELECT count(*), coalesce(sum(requests), 0), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0),
           coalesce(sum(coins_spent), 0), coalesce(sum(audio_seconds), 0)
      INTO n, r, i, o, c, a FROM new_rows;
    d_clients := n; d_requests := r; d_input := i; d_output := o; d_coins := c; d_audio := a;
  END IF;
  IF TG_OP IN ('DELETE', 'UPDATE') THEN
    SELECT count(*), coalesce(sum(requests), 0), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0),
           coalesce(sum(coins_spent), 0), coalesce(sum(audio_seconds), 0)
      INTO n, r, i, o, c, a FROM old_rows;
    d_clients := d_clients - n; d_requests := d_requests - r; d_input := d_input - i; d_output := d_output - o;
    d_coins := d_coins - c; d_audio := d_audio - a;
  END IF;
  -- Updates that move no counter (activation, manager count, refusals) write nothing.
  IF d_clients = 0 AND d_requests = 0 AND d_input = 0 AND d_output = 0 AND d_coins = 0 AND d_audio = 0 THEN
    RETURN NULL;
  END IF;
  UPDATE "client_totals" t
     SET clients = t.clients + d_clients, requests = t.requests + d_requests, input_tokens = t.input_tokens + d_input,
         output_tokens = t.output_tokens + d_output, coins_spent = t.coins_spent + d_coins,
         audio_seconds = t.audio_seconds + d_audio
   WHERE t.shard = (SELECT s.shard FROM "client_totals" s ORDER BY (s.shard - pg_backend_pid() % 16 + 16) % 16
                    LIMIT 1 FOR UPDATE SKIP LOCKED);
  IF NOT FOUND THEN
    -- Every shard is held by another transaction: wait for the backend's own.
    UPDATE "client_totals" t
       SET clients = t.clients + d_clients, requests = t.requests + d_requests, input_tokens = t.input_tokens + d_input,
           output_tokens = t.output_tokens + d_output, coins_spent = t.coins_spent + d_coins,
           audio_seconds = t.audio_seconds + d_audio
     WHERE t.shard = pg_backend_pid() % 16;
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE FUNCTION "client_totals_reset"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE "client_totals" SET clients = 0, requests = 0, input_tokens = 0, output_tokens = 0, coins_spent = 0, audio_seconds = 0;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "clients_totals_insert" AFTER INSERT ON "clients" REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION "client_totals_apply"();
--> statement-breakpoint
CREATE TRIGGER "clients_totals_update" AFTER UPDATE ON "clients" REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION "client_totals_apply"();
--> statement-breakpoint
CREATE TRIGGER "clients_totals_delete" AFTER DELETE ON "clients" REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION "client_totals_apply"();
--> statement-breakpoint
CREATE TRIGGER "clients_totals_truncate" AFTER TRUNCATE ON "clients"
  FOR EACH STATEMENT EXECUTE FUNCTION "client_totals_reset"();
--> statement-breakpoint
-- Seeded after the triggers exist (their creation locks clients against writes until the migration commits),
-- so no settlement falls between the sums and the triggers: shard 0 carries today's totals, 1–15 start at zero.
INSERT INTO "client_totals" (shard, clients, requests, input_tokens, output_tokens, coins_spent, audio_seconds)
SELECT 0, count(*), coalesce(sum(requests), 0), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0),
       coalesce(sum(coins_spent), 0), coalesce(sum(audio_seconds), 0)
FROM "clients";
--> statement-breakpoint
INSERT INTO "client_totals" (shard) SELECT s FROM generate_series(1, 15) s;
