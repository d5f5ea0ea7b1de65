/** Clients, their managers and their consents to models that need one. */
import { sql } from "drizzle-orm";
import { boolean, index, integer, numeric, pgTable, primaryKey, smallint, text, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { counter, ts, usageCounters } from "./columns";
import { users } from "./users";

/**
 * A client and its usage counters. Counters live on the row (kept in step with request_log in the
 * settlement transaction) so the Clients page reads totals without scanning the log.
 */
export const clients = pgTable(
  "clients",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    name: text("name").notNull(),
    /** lower(name), stored: the unique key, the sort key and the search target, computed once per write. */
    nameLower: text("name_lower")
      .notNull()
      .generatedAlwaysAs(sql`lower(name)`),
    active: boolean("active").notNull().default(true),
    createdAt: ts("created_at").notNull().defaultNow(),
    createdBy: uuid("created_by").references(() => users.id, { onDelete: "set null" }),
    deactivatedAt: ts("deactivated_at"),
    /** Kept in step with client_managers in the same transaction, so sorting by it needs no join. */
    managerCount: integer("manager_count").notNull().default(0),
    ...usageCounters(),
    refusals: counter("refusals").notNull().default(0),
    lastUsedAt: ts("last_used_at"),
  },
  (t) => [
    uniqueIndex("clients_name_lower_idx").on(t.nameLower),
    // Substring search (LIKE '%…%') through trigrams; needs the pg_trgm extension (see migrations).
    index("clients_name_trgm_idx").using("gin", sql`${t.nameLower} gin_trgm_ops`),
    index("clients_created_at_idx").on(t.createdAt),
    // The Clients page's default (descending) sorts by usage read the first page straight from these
    // instead of sorting 100k rows. Their cost is one index write per settlement.
    index("clients_coins_sort_idx").on(sql`${t.coinsSpent} desc`, t.nameLower, t.id),
    index("clients_requests_sort_idx").on(sql`${t.requests} desc`, t.nameLower, t.id),
    index("clients_tokens_sort_idx").on(sql`(${t.inputTokens} + ${t.outputTokens}) desc`, t.nameLower, t.id),
  ],
);

/**
 * Σ of every client's counters, for the administrator's summary cards: the rows' sums are the totals.
 * Kept by statement-level triggers on `clients` (migration 0009), which add each statement's difference to
 * one shard, so every write path (settlement, create, delete, import) keeps it and concurrent settlements
 * do not queue on one row. Read with sum() over the shards; never written by the application.
 */
export const clientTotals = pgTable("client_totals", {
  shard: smallint("shard").primaryKey(),
  clients: counter("clients").notNull().default(0),
  requests: counter("requests").notNull().default(0),
  inputTokens: counter("input_tokens").notNull().default(0),
  outputTokens: counter("output_tokens").notNull().default(0),
  coinsSpent: numeric("coins_spent", { precision: 30, scale: 6 }).notNull().default("0"),
  audioSeconds: numeric("audio_seconds", { precision: 30, scale: 3 }).notNull().default("0"),
});

export const clientManagers = pgTable(
  "client_managers",
  {
    clientId: uuid("client_id")
      .notNull()
      .references(() => clients.id, { onDelete: "cascade" }),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    addedAt: ts("added_at").notNull().defaultNow(),
    addedBy: uuid("added_by").references(() => users.id, { onDelete: "set null" }),
  },
  (t) => [primaryKey({ columns: [t.clientId, t.userId] }), index("client_managers_user_idx").on(t.userId)],
);

/** A manager's acknowledgement, for a client, of a model that needs it. Once per client and model. */
export const consents = pgTable(
  "consents",
  {
    clientId: uuid("client_id")
      .notNull()
      .references(() => clients.id, { onDelete: "cascade" }),
    model: text("model").notNull(),
    userId: uuid("user_id").references(() => users.id, { onDelete: "set null" }),
    ackMessage: text("ack_message"),
    createdAt: ts("created_at").notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.clientId, t.model] })],
);
