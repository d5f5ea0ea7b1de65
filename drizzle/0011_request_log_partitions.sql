-- request_log becomes a table partitioned by month on created_at (lib/db/partitions.ts keeps the
-- partitions ahead of time and drops whole months past data.request_log_retention_days). The rows of
-- an existing install are carried over: a partitioned twin is made, one partition for every month that
-- holds rows (plus this month and the next two) and a DEFAULT one, the rows are copied, the id sequence
-- moves to the twin, the old table is dropped and the twin takes its name, constraints and indexes.
-- Keys of a partitioned table must contain the partition key: (id, created_at) and (settlement_id, created_at).
CREATE TABLE "request_log_partitioned" (
	"id" bigint DEFAULT nextval('request_log_id_seq'::regclass) NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"client_id" uuid NOT NULL,
	"key_id" uuid,
	"model" text NOT NULL,
	"endpoint" text,
	"status" integer NOT NULL,
	"input_tokens" integer DEFAULT 0 NOT NULL,
	"output_tokens" integer DEFAULT 0 NOT NULL,
	"coins" numeric(20, 6) DEFAULT '0' NOT NULL,
	"duration_ms" integer DEFAULT 0 NOT NULL,
	"ttft_ms" integer,
	"streamed" boolean DEFAULT false NOT NULL,
	"usage_estimated" boolean DEFAULT false NOT NULL,
	"error_code" text,
	"request_id" text,
	"settlement_id" uuid,
	"audio_seconds" numeric(20, 3) DEFAULT '0' NOT NULL
) PARTITION BY RANGE ("created_at");
--> statement-breakpoint
DO $$
DECLARE
	m date;
BEGIN
	FOR m IN
		SELECT date_trunc('month', created_at AT TIME ZONE 'UTC')::date FROM "request_log"
		UNION SELECT (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => n))::date FROM generate_series(0, 2) n
	LOOP
		EXECUTE format('CREATE TABLE %I PARTITION OF "request_log_partitioned" FOR VALUES FROM (%L) TO (%L)',
			'request_log_y' || to_char(m, 'YYYY') || 'm' || to_char(m, 'MM'),
			m::text || ' 00:00:00+00', (m + interval '1 month')::date::text || ' 00:00:00+00');
	END LOOP;
END $$;
--> statement-breakpoint
CREATE TABLE "request_log_default" PARTITION OF "request_log_partitioned" DEFAULT;
--> statement-breakpoint
INSERT INTO "request_log_partitioned" ("id", "created_at", "client_id", "key_id", "model", "endpoint", "status",
	"input_tokens", "output_tokens", "coins", "duration_ms", "ttft_ms", "streamed", "usage_estimated", "error_code",
	"request_id", "settlement_id", "audio_seconds")
SELECT "id", "created_at", "client_id", "key_id", "model", "endpoint", "status", "input_tokens", "output_tokens",
	"coins", "duration_ms", "ttft_ms", "streamed", "usage_estimated", "error_code", "request_id", "settlement_id",
	"audio_seconds"
FROM "request_log";
--> statement-breakpoint
ALTER SEQUENCE "request_log_id_seq" OWNED BY "request_log_partitioned"."id";
--> statement-breakpoint
DROP TABLE "request_log";
--> statement-breakpoint
ALTER TABLE "request_log_partitioned" RENAME TO "request_log";
--> statement-breakpoint
ALTER TABLE "request_log" ADD CONSTRAINT "request_log_id_created_at_pk" PRIMARY KEY("id","created_at");
--> statement-breakpoint
ALTER TABLE "request_log" ADD CONSTRAINT "request_log_client_id_clients_id_fk" FOREIGN KEY ("client_id") REFERENCES "public"."clients"("id") ON DELETE cascade ON UPDATE no action;
--> statement-breakpoint
ALTER TABLE "request_log" ADD CONSTRAINT "request_log_key_id_api_keys_id_fk" FOREIGN KEY ("key_id") REFERENCES "public"."api_keys"("id") ON DELETE set null ON UPDATE no action;
--> statement-breakpoint
CREATE UNIQUE INDEX "request_log_settlement_id_idx" ON "request_log" USING btree ("settlement_id","created_at");
--> statement-breakpoint
CREATE INDEX "request_log_client_time_idx" ON "request_log" USING btree ("client_id","created_at");
--> statement-breakpoint
CREATE INDEX "request_log_key_time_idx" ON "request_log" USING btree ("key_id","created_at");
--> statement-breakpoint
CREATE INDEX "request_log_client_errors_idx" ON "request_log" USING btree ("client_id","created_at") WHERE "request_log"."status" >= 400;
--> statement-breakpoint
CREATE INDEX "request_log_key_errors_idx" ON "request_log" USING btree ("key_id","created_at") WHERE "request_log"."status" >= 400;
--> statement-breakpoint
CREATE TABLE "request_log_dropped" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"partition" text NOT NULL,
	"client_id" uuid NOT NULL,
	"key_id" uuid,
	"model" text NOT NULL,
	"requests" bigint DEFAULT 0 NOT NULL,
	"input_tokens" bigint DEFAULT 0 NOT NULL,
	"output_tokens" bigint DEFAULT 0 NOT NULL,
	"coins_spent" numeric(20, 6) DEFAULT '0' NOT NULL,
	"audio_seconds" numeric(20, 3) DEFAULT '0' NOT NULL,
	"dropped_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "request_log_dropped" ADD CONSTRAINT "request_log_dropped_client_id_clients_id_fk" FOREIGN KEY ("client_id") REFERENCES "public"."clients"("id") ON DELETE cascade ON UPDATE no action;
--> statement-breakpoint
ALTER TABLE "request_log_dropped" ADD CONSTRAINT "request_log_dropped_key_id_api_keys_id_fk" FOREIGN KEY ("key_id") REFERENCES "public"."api_keys"("id") ON DELETE set null ON UPDATE no action;
--> statement-breakpoint
CREATE INDEX "request_log_dropped_client_idx" ON "request_log_dropped" USING btree ("client_id");
