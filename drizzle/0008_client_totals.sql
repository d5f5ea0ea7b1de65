CREATE TABLE "client_totals" (
	"shard" smallint PRIMARY KEY NOT NULL,
	"clients" bigint DEFAULT 0 NOT NULL,
	"requests" bigint DEFAULT 0 NOT NULL,
	"input_tokens" bigint DEFAULT 0 NOT NULL,
	"output_tokens" bigint DEFAULT 0 NOT NULL,
	"coins_spent" numeric(30, 6) DEFAULT '0' NOT NULL,
	"audio_seconds" numeric(30, 3) DEFAULT '0' NOT NULL
);
