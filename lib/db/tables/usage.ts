/** Coin pools and reservations, the request log and the usage counters kept in step with it. */
import { sql } from "drizzle-orm";
import { bigserial, boolean, date, index, integer, interval, pgTable, primaryKey, text, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { audioSeconds, coins, ts, usageCounters } from "./columns";
import { clients } from "./clients";
import { apiKeys } from "./keys";

/** A client's coin balance. Refill is lazy: computed in SQL from `refilled_at` (the refill anchor). */
export const coinPools = pgTable("coin_pools", {
  clientId: uuid("client_id")
    .primaryKey()
    .references(() => clients.id, { onDelete: "cascade" }),
  /** Coins in the pool itself, not held by any lease. */
  balance: coins("balance").notNull(),
  /**
   * Σ coin_leases.amount of this client, kept in the same statements that change a lease: the client's
   * real balance is balance + leased, and the refill cap applies to that sum (lib/coins/store.ts).
   */
  leased: coins("leased").notNull().default("0"),
  refilledAt: ts("refilled_at").notNull().defaultNow(),
  createdAt: ts("created_at").notNull().defaultNow(),
});

/** Coins held by admitted requests that have not settled yet; the sweeper returns stale ones. */
export const coinReservations = pgTable(
  "coin_reservations",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    clientId: uuid("client_id")
      .notNull()
      .references(() => clients.id, { onDelete: "cascade" }),
    amount: coins("amount").notNull(),
    createdAt: ts("created_at").notNull().defaultNow(),
    expiresAt: ts("expires_at").notNull(),
  },
  (t) => [index("coin_reservations_expires_idx").on(t.expiresAt)],
);

/**
 * Coin leases (lib/coins/lease.ts): a slice of a client's pool taken by one app instance (`holder`, a
 * random id per process and database handle), which admits requests against it in memory. `amount` is
 * what the lease took from the pool minus the costs settled against it; the sweeper returns a lease
 * whose holder stopped renewing it to the pool once expires_at + hold passed (`hold`, written by the
 * holder: the longest a request admitted from the lease can stay in flight, so none is still unsettled).
 */
export const coinLeases = pgTable(
  "coin_leases",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    clientId: uuid("client_id")
      .notNull()
      .references(() => clients.id, { onDelete: "cascade" }),
    holder: text("holder").notNull(),
    amount: coins("amount").notNull(),
    expiresAt: ts("expires_at").notNull(),
    hold: interval("hold").notNull().default(sql`interval '0'`),
    createdAt: ts("created_at").notNull().defaultNow(),
  },
  (t) => [uniqueIndex("coin_leases_client_holder_idx").on(t.clientId, t.holder), index("coin_leases_expires_idx").on(t.expiresAt)],
);

/** Per-client, per-model counters (model access table on the detail page). */
export const clientModelUsage = pgTable(
  "client_model_usage",
  {
    clientId: uuid("client_id")
      .notNull()
      .references(() => clients.id, { onDelete: "cascade" }),
    model: text("model").notNull(),
    ...usageCounters(),
    lastUsedAt: ts("last_used_at"),
  },
  (t) => [primaryKey({ columns: [t.clientId, t.model] })],
);

/** Daily rollup per client and model, written with the log row: the usage chart reads ≤ 30 × models rows. */
export const clientDailyUsage = pgTable(
  "client_daily_usage",
  {
    clientId: uuid("client_id")
      .notNull()
      .references(() => clients.id, { onDelete: "cascade" }),
    day: date("day").notNull(),
    model: text("model").notNull(),
    ...usageCounters(),
  },
  (t) => [primaryKey({ columns: [t.clientId, t.day, t.model] })],
);

/**
 * One row per request that reached an upstream. The counters above always equal its sums together with
 * `request_log_dropped`. Partitioned by month on `created_at` (drizzle/0011_request_log_partitions.sql;
 * lib/db/partitions.ts keeps the partitions and drops those past the retention), so every key carries
 * `created_at`: the primary key is (id, created_at) and settlement ids are unique per (settlement_id, created_at) —
 * settlement stamps `created_at` once, before its first attempt, so a retry hits the same row.
 */
export const requestLog = pgTable(
  "request_log",
  {
    id: bigserial("id", { mode: "number" }).notNull(),
    createdAt: ts("created_at").notNull().defaultNow(),
    clientId: uuid("client_id")
      .notNull()
      .references(() => clients.id, { onDelete: "cascade" }),
    keyId: uuid("key_id").references(() => apiKeys.id, { onDelete: "set null" }),
    model: text("model").notNull(),
    endpoint: text("endpoint"),
    status: integer("status").notNull(),
    inputTokens: integer("input_tokens").notNull().default(0),
    outputTokens: integer("output_tokens").notNull().default(0),
    coins: coins("coins").notNull().default("0"),
    /** Seconds of audio of a transcription or translation (0 for text requests). */
    audioSeconds: audioSeconds(),
    durationMs: integer("duration_ms").notNull().default(0),
    ttftMs: integer("ttft_ms"),
    streamed: boolean("streamed").notNull().default(false),
    usageEstimated: boolean("usage_estimated").notNull().default(false),
    errorCode: text("error_code"),
    /** The `x-request-id` the caller saw: its own when it sent one, else `settlement_id`. */
    requestId: text("request_id"),
    /**
     * Lumen's own id of the request, made at admission. Unique: settlement inserts the row only when
     * this id is new and moves the counters only then, so a retry after an uncertain commit never
     * bills twice. (Not the caller's x-request-id: a caller could reuse that to skip its bills.)
     */
    settlementId: uuid("settlement_id"),
  },
  (t) => [
    primaryKey({ columns: [t.id, t.createdAt] }),
    uniqueIndex("request_log_settlement_id_idx").on(t.settlementId, t.createdAt),
    index("request_log_client_time_idx").on(t.clientId, t.createdAt),
    index("request_log_key_time_idx").on(t.keyId, t.createdAt),
    // "Errors only" in Recent requests: partial, so only the (few) failed requests pay an extra index write.
    index("request_log_client_errors_idx").on(t.clientId, t.createdAt).where(sql`${t.status} >= 400`),
    index("request_log_key_errors_idx").on(t.keyId, t.createdAt).where(sql`${t.status} >= 400`),
  ],
);

/**
 * What retention dropped: the sums of each dropped monthly partition of request_log per client, key and
 * model, written in the transaction that drops it (lib/db/partitions.ts). Counters = log + this, exactly,
 * forever (lib/coins/audit.ts).
 */
export const requestLogDropped = pgTable(
  "request_log_dropped",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    /** The dropped partition's name, e.g. request_log_y2025m01. */
    partition: text("partition").notNull(),
    clientId: uuid("client_id")
      .notNull()
      .references(() => clients.id, { onDelete: "cascade" }),
    keyId: uuid("key_id").references(() => apiKeys.id, { onDelete: "set null" }),
    model: text("model").notNull(),
    ...usageCounters(),
    droppedAt: ts("dropped_at").notNull().defaultNow(),
  },
  (t) => [index("request_log_dropped_client_idx").on(t.clientId)],
);
