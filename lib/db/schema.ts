import { sql } from "drizzle-orm";
import {
  bigint,
  bigserial,
  boolean,
  date,
  index,
  integer,
  jsonb,
  numeric,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";

/** Coins: exact decimal, 6 places. Drizzle returns numeric as string; never parse to float for arithmetic. */
const coins = (name: string) => numeric(name, { precision: 20, scale: 6 });
const counter = (name: string) => bigint(name, { mode: "number" });
const ts = (name: string) => timestamp(name, { withTimezone: true });
/** Seconds of audio transcribed or translated, to the millisecond (exact decimal, read as text). */
const audioSeconds = () => numeric("audio_seconds", { precision: 20, scale: 3 }).notNull().default("0");

/**
 * A person who signs in. An OpenID Connect user is identified by its issuer and subject (the
 * provider's stable id); the e-mail is an attribute the provider asserts, kept with whether it was
 * verified (admin rights need a verified e-mail). Development sign-in users have no issuer.
 */
export const users = pgTable(
  "users",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    email: text("email").notNull(),
    /** Whether the identity provider verified the e-mail (development sign-in and older rows: true). */
    emailVerified: boolean("email_verified").notNull().default(true),
    oidcIssuer: text("oidc_issuer"),
    oidcSubject: text("oidc_subject"),
    name: text("name"),
    image: text("image"),
    createdAt: ts("created_at").notNull().defaultNow(),
    lastSignInAt: ts("last_sign_in_at"),
    /** Bumped by "Sign out everywhere": every session that carries an older version is refused. */
    sessionVersion: integer("session_version").notNull().default(0),
  },
  (t) => [
    // E-mails are stored lower-cased (see normalizeEmail), so a plain unique index is case-insensitive.
    uniqueIndex("users_email_idx").on(t.email),
    uniqueIndex("users_oidc_identity_idx").on(t.oidcIssuer, t.oidcSubject),
  ],
);

/**
 * A console session (one sign-in in one browser). The cookie carries its id and the user's session
 * version; a request is signed in only while the row exists, is not ended and has not expired
 * (`auth.session_hours` after its last use, rolling).
 */
export const userSessions = pgTable(
  "user_sessions",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: ts("created_at").notNull().defaultNow(),
    expiresAt: ts("expires_at").notNull(),
    endedAt: ts("ended_at"),
    /**
     * Single sign-on: the groups the identity provider asserted at this sign-in (admin rights by
     * `auth.oidc.admin_groups` come from them). Null: not a single sign-on session (development sign-in).
     */
    idpGroups: text("idp_groups").array(),
  },
  (t) => [index("user_sessions_user_idx").on(t.userId)],
);

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
    requests: counter("requests").notNull().default(0),
    inputTokens: counter("input_tokens").notNull().default(0),
    outputTokens: counter("output_tokens").notNull().default(0),
    coinsSpent: coins("coins_spent").notNull().default("0"),
    audioSeconds: audioSeconds(),
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

export const apiKeys = pgTable(
  "api_keys",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    clientId: uuid("client_id")
      .notNull()
      .references(() => clients.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    /** HMAC-SHA256(server secret, plaintext key), hex. The plaintext is never stored. */
    keyHash: text("key_hash").notNull(),
    /** "sk_AbCd…wxyz" */
    hint: text("hint").notNull(),
    requests: counter("requests").notNull().default(0),
    inputTokens: counter("input_tokens").notNull().default(0),
    outputTokens: counter("output_tokens").notNull().default(0),
    coinsSpent: coins("coins_spent").notNull().default("0"),
    audioSeconds: audioSeconds(),
    lastUsedAt: ts("last_used_at"),
    createdAt: ts("created_at").notNull().defaultNow(),
    createdBy: uuid("created_by").references(() => users.id, { onDelete: "set null" }),
    revokedAt: ts("revoked_at"),
    revokedBy: uuid("revoked_by").references(() => users.id, { onDelete: "set null" }),
    /** The key stops working at this instant (every secret of it); null: never. */
    expiresAt: ts("expires_at"),
    /** The last rotation: `key_hash` and `hint` then became a new secret (the old one is in api_key_retired_secrets). */
    rotatedAt: ts("rotated_at"),
    rotatedBy: uuid("rotated_by").references(() => users.id, { onDelete: "set null" }),
  },
  (t) => [
    uniqueIndex("api_keys_hash_idx").on(t.keyHash),
    index("api_keys_client_idx").on(t.clientId, t.createdAt),
  ],
);

/**
 * Secrets a rotation replaced. Each stays valid until `valid_until` (the grace the rotating person chose),
 * then answers 401 expired_api_key naming that time. Kept afterwards, so a late caller still learns why.
 * The gateway looks a presented hash up here and in api_keys in one statement.
 */
export const apiKeyRetiredSecrets = pgTable(
  "api_key_retired_secrets",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    keyId: uuid("key_id")
      .notNull()
      .references(() => apiKeys.id, { onDelete: "cascade" }),
    /** HMAC-SHA256 of the old secret, as in api_keys.key_hash. */
    keyHash: text("key_hash").notNull(),
    hint: text("hint").notNull(),
    retiredAt: ts("retired_at").notNull().defaultNow(),
    retiredBy: uuid("retired_by").references(() => users.id, { onDelete: "set null" }),
    validUntil: ts("valid_until").notNull(),
  },
  (t) => [
    uniqueIndex("api_key_retired_secrets_hash_idx").on(t.keyHash),
    index("api_key_retired_secrets_key_idx").on(t.keyId, t.validUntil),
  ],
);

/** A client's coin balance. Refill is lazy: computed in SQL from `refilled_at` (the refill anchor). */
export const coinPools = pgTable("coin_pools", {
  clientId: uuid("client_id")
    .primaryKey()
    .references(() => clients.id, { onDelete: "cascade" }),
  balance: coins("balance").notNull(),
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

/** Per-client, per-model counters (model access table on the detail page). */
export const clientModelUsage = pgTable(
  "client_model_usage",
  {
    clientId: uuid("client_id")
      .notNull()
      .references(() => clients.id, { onDelete: "cascade" }),
    model: text("model").notNull(),
    requests: counter("requests").notNull().default(0),
    inputTokens: counter("input_tokens").notNull().default(0),
    outputTokens: counter("output_tokens").notNull().default(0),
    coinsSpent: coins("coins_spent").notNull().default("0"),
    audioSeconds: audioSeconds(),
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
    requests: counter("requests").notNull().default(0),
    inputTokens: counter("input_tokens").notNull().default(0),
    outputTokens: counter("output_tokens").notNull().default(0),
    coinsSpent: coins("coins_spent").notNull().default("0"),
    audioSeconds: audioSeconds(),
  },
  (t) => [primaryKey({ columns: [t.clientId, t.day, t.model] })],
);

/** One row per request that reached an upstream. The counters above always equal its sums. */
export const requestLog = pgTable(
  "request_log",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
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
    uniqueIndex("request_log_settlement_id_idx").on(t.settlementId),
    index("request_log_client_time_idx").on(t.clientId, t.createdAt),
    index("request_log_key_time_idx").on(t.keyId, t.createdAt),
    // "Errors only" in Recent requests: partial, so only the (few) failed requests pay an extra index write.
    index("request_log_client_errors_idx").on(t.clientId, t.createdAt).where(sql`${t.status} >= 400`),
    index("request_log_key_errors_idx").on(t.keyId, t.createdAt).where(sql`${t.status} >= 400`),
  ],
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

/**
 * The activity trail: one row per change made in the console, written in the transaction of the change.
 * Append-only: a trigger (migration 0005) refuses UPDATE, DELETE and TRUNCATE, and no foreign key points
 * out of it, so no cascade can rewrite history. The actor's e-mail is copied in for the same reason.
 */
export const auditEvents = pgTable(
  "audit_events",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    createdAt: ts("created_at").notNull().defaultNow(),
    actorId: uuid("actor_id"),
    actorEmail: text("actor_email"),
    clientId: uuid("client_id"),
    /** lib/audit/events.ts AUDIT_ACTIONS, e.g. "key.rotated". */
    action: text("action").notNull(),
    targetType: text("target_type"),
    targetId: text("target_id"),
    /** What the target was called then (a key's name, a manager's e-mail, a model). */
    targetLabel: text("target_label"),
    details: jsonb("details").$type<Record<string, unknown>>().notNull().default({}),
    ip: text("ip"),
    userAgent: text("user_agent"),
  },
  (t) => [index("audit_events_client_time_idx").on(t.clientId, sql`${t.createdAt} desc`, sql`${t.id} desc`)],
);

/** Models and endpoints synced from config.yaml (secrets stay in the config, never here). */
export const models = pgTable("models", {
  name: text("name").primaryKey(),
  disabled: boolean("disabled").notNull().default(false),
  removedAt: ts("removed_at"),
  updatedAt: ts("updated_at").notNull().defaultNow(),
});

export const endpoints = pgTable(
  "endpoints",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    model: text("model")
      .notNull()
      .references(() => models.name, { onDelete: "cascade" }),
    url: text("url").notNull(),
    upstreamModel: text("upstream_model"),
    healthy: boolean("healthy"),
    lastCheckAt: ts("last_check_at"),
    lastError: text("last_error"),
  },
  (t) => [uniqueIndex("endpoints_model_url_idx").on(t.model, t.url, t.upstreamModel)],
);

export type User = typeof users.$inferSelect;
export type UserSession = typeof userSessions.$inferSelect;
export type Client = typeof clients.$inferSelect;
export type ApiKey = typeof apiKeys.$inferSelect;
export type AuditEvent = typeof auditEvents.$inferSelect;
export type RequestLogRow = typeof requestLog.$inferSelect;
